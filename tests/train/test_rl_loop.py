"""`proofzero rl` end to end on real Coq: rounds of games, replay, learner, publishing, held-out
evaluation, the report -- and resuming after kill -9 at any point without losing or double-counting."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import REPO, requires_coq
from tests.train.conftest import run_cli

pytestmark = [pytest.mark.slow, requires_coq]

EASY = {f"easy_{i}": f"forall n : nat, n + {i} = {i} + n" for i in range(8)}
EASY |= {f"le_{i}": f"forall a : nat, a <= a + {i}" for i in range(4)}
EASY |= {"false_1": "2 + 2 = 5", "hard_1": "forall x y : nat, x * y * y = y * x + 1"}
CANDIDATES = '["intros", "lia", "reflexivity", "discriminate"]'


@pytest.fixture(scope="module")
def setup(tmp_path_factory) -> dict:
    from model.config import ProofNetConfig
    from model.export import save_pretrained
    from model.proofnet import ProofNet

    root = tmp_path_factory.mktemp("rl")
    suite = root / "suite"
    suite.mkdir()
    for name, stmt in EASY.items():
        (suite / f"{name}.v").write_text(f"Require Import Arith.\n\nTheorem {name}:\n  {stmt}.\nProof.\nAdmitted.\n")
    model = save_pretrained(ProofNet(ProofNetConfig.preset("tiny", max_state_length=128)), root / "init")
    return {"suite": suite, "init": model}


def args(setup, run_dir: Path, *more: str) -> list[str]:
    return ["rl", f"run_dir={run_dir}", f"init_from={setup['init']}", "sft_data=\"\"", "sft_fraction=0",
            f"pool.suite={setup['suite']}", "pool.rl_fraction=0.6", "rounds=2", "attempts_per_round=6",
            "steps_per_round=3", "publish_every=3", "eval_every=1", "heldout.budget=2", "heldout.limit=0",
            "budget.start=2", "budget.cap=4", "budget.window=4", "workers=2", f"actors.policy.candidates={CANDIDATES}",
            "actors.andor.k=2", "learner.wandb.enabled=false", "learner.data.batch_size=4", "learner.data.val_batches=0",
            "learner.log_every_n_steps=1", "--no-progress", *more]


def check_invariants(run_dir: Path, rounds: int = 2, per_round: int = 6, steps: int = 3) -> dict:
    games = [json.loads(x) for x in (run_dir / "games.jsonl").read_text().splitlines() if x.strip()]
    ids = [g["id"] for g in games]
    assert len(set(ids)) == rounds * per_round, "every planned game counted exactly once"
    replay = [json.loads(x) for x in (run_dir / "replay.jsonl").read_text().splitlines()]
    decided = {g["id"] for g in games if g["status"] in ("proved", "disproved")}
    assert {r["game"] for r in replay} <= decided, "only verified proofs reach replay"
    assert len({r["game"] for r in replay}) == len(replay)
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["rounds"] == rounds and summary["attempts"] == rounds * per_round
    assert summary["learner_step"] == rounds * steps
    assert summary["proved"] + summary["disproved"] == len(decided)
    for key in ("replay_size", "heldout_pass_rate", "disproved"):
        assert key in summary
    pointer = json.loads((run_dir / "published" / "LATEST").read_text())
    assert pointer["step"] == rounds * steps
    rows = [json.loads(x) for x in (run_dir / "rounds.jsonl").read_text().splitlines()]
    assert sorted({r["round"] for r in rows}) == list(range(1, rounds + 1))
    return summary


def test_a_short_run_learns_from_its_own_verified_proofs(setup, tmp_path):
    run_dir = tmp_path / "run"
    proc = run_cli(*args(setup, run_dir), timeout=900)
    summary = check_invariants(run_dir)
    assert summary["proved"] >= 3  # lia and intros prove the easy statements at budget 2
    assert summary["replay_size"] > 0
    pools = json.loads((run_dir / "pools.json").read_text())
    assert not set(pools["rl"]) & set(pools["heldout"]) and pools["overlap"] == []
    games = [json.loads(x) for x in (run_dir / "games.jsonl").read_text().splitlines()]
    assert {g["problem"] for g in games} <= set(pools["rl"])
    assert {g["checkpoint"] for g in games if g["round"] == 1} == {"step_00000003"}  # round 2 played the published model
    assert summary["heldout_curve"][0]["round"] == 0 and len(summary["heldout_curve"]) == 3
    assert (run_dir / "heldout" / "round_0002" / "results.json").is_file()
    assert (run_dir / "rl.png").read_bytes()[:4] == b"\x89PNG"
    assert "held-out" in proc.stdout and "round" in proc.stdout
    again = run_cli(*args(setup, run_dir), timeout=300)  # a finished run: nothing more is played
    assert check_invariants(run_dir) == {**summary, "seconds_this_launch": json.loads(
        (run_dir / "summary.json").read_text())["seconds_this_launch"]}
    assert "round" in again.stdout


def _launch(setup, run_dir: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "proofzero.cli", *args(setup, run_dir)], cwd=REPO,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)


def _kill_when(proc: subprocess.Popen, ready, timeout: float = 600) -> None:
    t0 = time.time()
    while not ready():
        assert proc.poll() is None, "the run ended before the kill point"
        assert time.time() - t0 < timeout
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def test_kill_9_while_playing_and_while_learning_loses_and_double_counts_nothing(setup, tmp_path):
    run_dir = tmp_path / "run"

    def games() -> int:
        p = run_dir / "games.jsonl"
        return len(p.read_text().splitlines()) if p.exists() else 0

    def learning() -> bool:
        try:
            return "learner_target" in json.loads((run_dir / "state.json").read_text())
        except (OSError, ValueError):
            return False

    _kill_when(_launch(setup, run_dir), lambda: games() >= 2)  # mid-collection, round 1
    assert 2 <= games() < 6
    _kill_when(_launch(setup, run_dir), learning)  # mid-learning
    run_cli(*args(setup, run_dir), timeout=900)
    check_invariants(run_dir)
