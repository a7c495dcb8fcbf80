"""slurm/rl.sbatch on a real Slurm: one round of the async loop, the learner as two Slurm tasks (DDP
over gloo: task 0 runs the loop, task 1 joins its training) beside the actors' step playing on Ray
actors, all in one allocation of the node's two CPUs.

    job ─┬─ step: learner task 0 ── loop: replay -> learn (rank 0) -> publish -> state.json
         │        learner task 1 ── follow: learn (rank 1) whenever state.json says
         └─ step: actors (Ray) ─── games -> games.jsonl, replay.jsonl
"""

from __future__ import annotations

import json

import pytest

from tests.conftest import requires_coq
from tests.slurm.conftest import job_log
from tests.train.conftest import rl_setup  # noqa: F401 -- a fixture

pytestmark = [pytest.mark.slow, pytest.mark.slurm, requires_coq]

CANDIDATES = '["intros", "lia", "reflexivity", "discriminate"]'


def test_one_round_with_two_learner_tasks_and_ray_actors(slurm, rl_setup, tmp_path):  # noqa: F811
    run_dir = tmp_path / "run"
    job = slurm.sbatch(
        "rl.sbatch", "rl/laptop.yaml", "--profile", "slurm-cpu", f"run_dir={run_dir}", f"init_from={rl_setup['init']}",
        'sft_data=""', "sft_fraction=0", f"pool.suite={rl_setup['suite']}", "schedule=async", "rounds=1",
        "steps_per_round=3", "publish_every=3", "min_replay=2", "eval_every=0", "budget.start=2", "budget.cap=4",
        "budget.window=4", "workers=1", f"actors.policy.candidates={CANDIDATES}", "actors.andor.k=2",
        "actors.runner=ray", "actors.ray.num_actors=1", "actors.ray.object_store_mb=100",
        "learner.wandb.enabled=false", "learner.data.batch_size=4", "learner.data.val_batches=0",
        options=["--ntasks-per-node=2", "--time=10", f"--output={tmp_path}/rl-%j.out"], env={"LEARNER_CPUS": "1"})
    (record,) = slurm.wait(job, timeout=500)
    log = job_log(tmp_path / "rl-*.out", chars=20000)
    assert record["JobState"] == "COMPLETED", log
    assert "learner 2 x 1 CPUs, actors 1 CPUs" in log
    assert "rank 0 of 2" in log and "rank 1 of 2" in log  # the learner's two tasks trained together
    assert "started Ray locally" in log and "1 prover actors ready" in log  # the actors' step, on Ray

    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["rounds"] == 1 and summary["learner_step"] == 3
    assert json.loads((run_dir / "published" / "LATEST").read_text())["step"] == 3
    games = [json.loads(x) for x in (run_dir / "games.jsonl").read_text().splitlines()]
    replay = [json.loads(x) for x in (run_dir / "replay.jsonl").read_text().splitlines()]
    assert len(replay) >= 2 and {r["game"] for r in replay} <= {g["id"] for g in games if g["status"] in ("proved", "disproved")}
    ckpt = run_dir / "learner" / "checkpoints" / "last.ckpt"
    assert ckpt.is_file() and not list((run_dir / "learner").glob("hpc_ckpt_*"))
