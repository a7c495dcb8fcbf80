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

CANDIDATES = '["intros", "lia", "reflexivity", "discriminate"]'


def args(rl_setup, run_dir: Path, *more: str) -> list[str]:
    return ["rl", f"run_dir={run_dir}", f"init_from={rl_setup['init']}", "sft_data=\"\"", "sft_fraction=0",
            f"pool.suite={rl_setup['suite']}", "pool.rl_fraction=0.6", "rounds=2", "attempts_per_round=6",
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
    scripts = [json.loads(x) for x in (run_dir / "proofs.jsonl").read_text().splitlines()] if (run_dir / "proofs.jsonl").exists() else []
    assert {p["game"] for p in scripts} <= decided and all(p["proof"] for p in scripts), "every verified game's script, no other"
    assert {p["game"] for p in scripts} >= {r["game"] for r in replay}
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


def test_a_short_run_learns_from_its_own_verified_proofs(rl_setup, tmp_path):
    run_dir = tmp_path / "run"
    proc = run_cli(*args(rl_setup, run_dir), timeout=900)
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
    again = run_cli(*args(rl_setup, run_dir), timeout=300)  # a finished run: nothing more is played
    assert check_invariants(run_dir) == {**summary, "seconds_this_launch": json.loads(
        (run_dir / "summary.json").read_text())["seconds_this_launch"]}
    assert "round" in again.stdout

    compared = run_cli("rl-compare", str(run_dir), "--no-progress", timeout=600)
    out = json.loads((run_dir / "compare" / "summary.json").read_text())
    assert [r["prover"] for r in out["rows"]] == ["automation", "model-free candidates", "SFT start (+ candidates)",
                                                  "RL after round 2 (+ candidates)"]
    assert out["heldout_names"] == sorted(pools["heldout"])  # every row over the same held-out names
    assert {r["total"] for r in out["rows"]} == {len(pools["heldout"])}
    rl_row = out["rows"][-1]
    assert rl_row["learner_steps"] == 6 and rl_row["rl_actor_tactics"] == summary["tactics"]
    assert (run_dir / "compare" / "compare.png").read_bytes()[:4] == b"\x89PNG"
    assert "model-free candidates" in compared.stdout
    (run_dir / "compare" / "automation" / "results.json").touch()
    run_cli("rl-compare", str(run_dir), "--no-progress", timeout=600)  # finished baselines are reused, not redone
    assert json.loads((run_dir / "compare" / "summary.json").read_text())["rows"] == out["rows"]
    assert not list((run_dir / "compare").glob("*/results.json.partial.jsonl"))
    assert [r["proved"] for r in out["rows"][2:]] == [h["proved"] for h in (summary["heldout_curve"][0],
                                                                          summary["heldout_curve"][-1])]


def test_rl_compare_refuses_a_directory_that_is_not_a_run(tmp_path):
    proc = run_cli("rl-compare", str(tmp_path), check=False, timeout=120)
    assert proc.returncode == 2 and "not an RL run directory" in proc.stderr


def _launch(rl_setup, run_dir: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "proofzero.cli", *args(rl_setup, run_dir)], cwd=REPO,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)


def _kill_when(proc: subprocess.Popen, ready, timeout: float = 600) -> None:
    t0 = time.time()
    while not ready():
        assert proc.poll() is None, "the run ended before the kill point"
        assert time.time() - t0 < timeout
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def test_kill_9_while_playing_and_while_learning_loses_and_double_counts_nothing(rl_setup, tmp_path):
    run_dir = tmp_path / "run"

    def games() -> int:
        p = run_dir / "games.jsonl"
        return len(p.read_text().splitlines()) if p.exists() else 0

    def learning() -> bool:
        try:
            return "learner_target" in json.loads((run_dir / "state.json").read_text())
        except (OSError, ValueError):
            return False

    _kill_when(_launch(rl_setup, run_dir), lambda: games() >= 2)  # mid-collection, round 1
    assert 2 <= games() < 6
    _kill_when(_launch(rl_setup, run_dir), learning)  # mid-learning
    run_cli(*args(rl_setup, run_dir), timeout=900)
    check_invariants(run_dir)


# -- schedule=async: learner and actors at once ---------------------------------------------------


def check_async(run_dir: Path, rounds: int = 2, steps: int = 3) -> dict:
    """What holds however the actors' games interleaved with the learner's rounds."""
    games = [json.loads(x) for x in (run_dir / "games.jsonl").read_text().splitlines() if x.strip()]
    ids = [g["id"] for g in games]
    assert len(ids) == len(set(ids)), "no game counted twice"
    decided = {g["id"] for g in games if g["status"] in ("proved", "disproved")}
    replay = [json.loads(x) for x in (run_dir / "replay.jsonl").read_text().splitlines()]
    assert replay and {r["game"] for r in replay} <= decided, "only verified proofs reach replay"
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["rounds"] == rounds and summary["learner_step"] == rounds * steps
    assert json.loads((run_dir / "published" / "LATEST").read_text())["step"] == rounds * steps
    rows = [json.loads(x) for x in (run_dir / "rounds.jsonl").read_text().splitlines()]
    assert sorted({r["round"] for r in rows}) == list(range(1, rounds + 1))
    # the actors picked up the learner's publications without restarting
    assert {g["checkpoint"] for g in games} - {"init", ""} >= {"step_00000003"}
    return summary


def test_async_schedule_actors_play_while_the_learner_trains(rl_setup, tmp_path):
    run_dir = tmp_path / "run"
    run_cli(*args(rl_setup, run_dir, "schedule=async", "min_replay=2"), timeout=900)
    summary = check_async(run_dir)
    assert summary["attempts"] >= 2 and summary["replay_size"] >= 2


def test_async_learner_and_actors_as_two_processes_survive_a_killed_actor(rl_setup, tmp_path):
    """slurm/rl.sbatch's layout: role=learner and role=actors share run_dir. The actors process is
    killed (-9) mid-run and started again; the learner waits for replay and finishes its rounds."""
    run_dir = tmp_path / "run"
    common = args(rl_setup, run_dir, "schedule=async", "min_replay=3")

    logs = tmp_path / "logs"
    logs.mkdir()

    def launch(role: str) -> subprocess.Popen:
        err = (logs / f"{role}.{len(list(logs.iterdir()))}.err").open("w")
        return subprocess.Popen([sys.executable, "-m", "proofzero.cli", *common, f"role={role}"], cwd=REPO,
                                stdout=subprocess.DEVNULL, stderr=err, start_new_session=True)

    def tail(role: str) -> str:
        return "\n".join(p.read_text()[-3000:] for p in sorted(logs.glob(f"{role}.*.err")))

    def games() -> int:
        p = run_dir / "games.jsonl"
        return len(p.read_text().splitlines()) if p.exists() else 0

    learner = launch("learner")
    try:
        _kill_when(launch("actors"), lambda: games() >= 1)
        killed_at = games()
        actors = launch("actors")
        assert learner.wait(timeout=900) == 0, tail("learner")
        assert actors.wait(timeout=120) == 0, "the actors stop once the learner's rounds are done\n" + tail("actors")
    finally:
        for p in (learner,):
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGKILL)
    check_async(run_dir)
    assert games() > killed_at
