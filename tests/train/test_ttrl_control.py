"""TTRL's control: a target the specialist's attempt proves in round r > 0 is attempted again with the start
network, the same attempt ids (hence the same sampling seeds) and the same budget. The loop knows no
proof assistant, so hand-fed games drive it here (STYLE.md 7); tests/train/test_ttrl.py runs the real one."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from formal.theorem import Theorem
from train.config import TrainConfig
from train.rl import LoopConfig
from train.ttrl import TargetConfig, TTRLLoop, TTRLSettings
from train.ttrl_report import format_summary

START, SPECIALIST = Path("start-model"), Path("published/step_00000020")


@dataclass
class Result:
    status: str
    expansions: int = 3
    tactics: int = 40
    seconds: float = 0.1
    record: object = None
    proof: str = ""


def loop_with(tmp_path: Path, proves) -> tuple[TTRLLoop, list]:
    """A loop whose games prove the target when `proves(pick id, checkpoint)`; every call is recorded."""
    calls = []

    def play(pick, checkpoint):
        calls.append((pick.id, pick.budget, checkpoint))
        return Result("proved", proof="intros.\nsubst.\nreflexivity.") if proves(pick.id, checkpoint) else Result("failed")

    loop = TTRLLoop(LoopConfig(rounds=3), TTRLSettings(target=TargetConfig(budget=3, attempts=2)), TrainConfig(), tmp_path,
                    Theorem("t", "forall n : nat, n = 3 -> 2 ^ n + n = 11"), generate=lambda *a: [], filter=None,
                    play=play, init_checkpoint=START)
    return loop, calls


def test_the_winning_attempt_is_replayed_with_the_start_network_once(tmp_path):
    loop, calls = loop_with(tmp_path, lambda id_, ck: ck == SPECIALIST and id_ == "target-0002-1")
    row = loop.attempt_target(SPECIALIST, 2)  # what the loop did in round 2: the second try proved it
    assert row["proved"] == 1 and [c[0] for c in calls] == ["target-0002-0", "target-0002-1"]
    found = {"how": "target attempt", "round": 2, "mode": "prove", "proof": row["proof"]}
    calls.clear()
    control = loop.control(found)
    assert [(c[0], c[1], c[2]) for c in calls] == [("target-0002-0", 3, START), ("target-0002-1", 3, START)], \
        "the same attempt ids (the seeds) and budget, with the start network"
    assert control["status"] == "failed" and control["tactics"] == 80 and control["network"] == str(START)
    calls.clear()
    assert loop.control(found) == control and not calls, "made once (ttrl/control.json), not replayed on a rerun"


def test_luck_is_told_apart_from_learning(tmp_path):
    loop, _ = loop_with(tmp_path, lambda id_, ck: id_ == "target-0001-0")  # any network proves on that seed
    control = loop.control({"how": "target attempt", "round": 1, "mode": "prove", "proof": "x"})
    assert control["status"] == "proved"
    summary = {"target": "t", "result": "proved", "stop": "proved", "rounds": 1, "tactics": 1, "learner_steps": 5,
               "seconds": 1.0, "variants_generated": 0, "variants_kept": 0, "variants_decided": 0, "rows": [],
               "tree": str(tmp_path / "none.txt"), "specialist": None, "start_network_same_attempt": control,
               "found": {"how": "target attempt", "round": 1, "mode": "prove", "proof": "x"}}
    assert "would have found it without the learning" in format_summary(summary)
    summary["start_network_same_attempt"] = dict(control, status="failed")
    assert "learning made the difference" in format_summary(summary)


def test_no_control_where_the_start_network_itself_played(tmp_path):
    loop, calls = loop_with(tmp_path, lambda id_, ck: True)
    assert loop.control({"how": "target attempt", "round": 0, "mode": "prove", "proof": "x"}) is None
    assert loop.control({"how": "RL game r0001-0003", "round": 2, "mode": "prove", "proof": "x"}) is None
    assert loop.control(None) is None and not calls
