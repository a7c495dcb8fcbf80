"""slurm/train.sbatch on a real Slurm: two ranks that Lightning takes from Slurm, and the requeue
that Slurm's warning signal triggers, resumed on the same curve.

    uninterrupted:  job ── rank 0 ─┬─ steps 1..20 ── checkpoints/step10, step20, last
                           rank 1 ─┘ (DDP over gloo, one checkpoint written by rank 0)
    requeued:       job ── steps 1..k ─ USR1 ─ hpc_ckpt_k ─ requeue ─┐
                    same job (Restarts=1) ── resumes at k ── steps k+1..20   (losses equal the above)
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import torch

from tests.slurm.conftest import job_log
from tests.train.conftest import FAST, metrics, traced_dataset, train_losses  # noqa: F401 -- traced_dataset: a fixture

pytestmark = [pytest.mark.slow, pytest.mark.slurm]

STEPS = 20
ARGS = [*FAST, "data.batch_size=4", "data.val_batches=2", "val_every_n_steps=10", "checkpoint_every_n_steps=10",
        "optim.warmup_steps=2", f"max_steps={STEPS}"]
TWO_TASKS = ["--ntasks-per-node=2", "--time=10"]


def submit(slurm, dataset: Path, out: Path, *options: str) -> str:
    return slurm.sbatch("train.sbatch", "sft", "train/sft.yaml", "--profile", "slurm-cpu", f"data.path={dataset}",
                        f"run_dir={out / 'run'}", *ARGS, options=[*TWO_TASKS, f"--output={out}/job-%j.out", *options])


@pytest.fixture(scope="module")
def uninterrupted(slurm, traced_dataset, tmp_path_factory) -> Path:  # noqa: F811
    out = tmp_path_factory.mktemp("sft")
    job = submit(slurm, traced_dataset, out)
    (record,) = slurm.wait(job, timeout=400)
    assert record["JobState"] == "COMPLETED", job_log(out / "job-*.out")
    return out


def test_two_tasks_train_as_two_ranks_and_write_one_checkpoint(uninterrupted):
    run, log = uninterrupted / "run", job_log(uninterrupted / "job-*.out")
    assert "rank 0 of 2" in log and "rank 1 of 2" in log  # each task is a rank, from Slurm's variables
    summary = json.loads((run / "summary.json").read_text())
    assert summary["processes"] == 2 and summary["steps"] == STEPS
    assert sorted(train_losses(run)) == list(range(1, STEPS + 1))
    ckpts = sorted(p.name for p in (run / "checkpoints").iterdir())
    assert ckpts == ["last.ckpt", "step00000010.ckpt", "step00000020.ckpt"]  # one set, not one per rank
    state = torch.load(run / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)
    assert state["global_step"] == STEPS
    assert not list(run.glob("hpc_ckpt_*")), "no requeue signal, no requeue checkpoint"


def test_the_warning_signal_saves_requeues_and_the_job_resumes_the_same_curve(slurm, uninterrupted, traced_dataset,  # noqa: F811
                                                                             tmp_path, request):
    """The signal goes to the job's steps, as `--signal=USR1@T` (no B:) sends it before the time limit;
    sent here once training is under way, so the test does not depend on how fast the machine starts."""
    job = submit(slurm, traced_dataset, tmp_path)
    rows = tmp_path / "run" / "metrics.jsonl"

    def training() -> bool:
        return rows.is_file() and any(r["kind"] == "train" and r["step"] >= 2 for r in metrics(tmp_path / "run"))

    deadline = time.monotonic() + 300
    while not training():
        assert slurm.state(job) in ("PENDING", "RUNNING"), f"ended before training:\n{job_log(tmp_path / 'job-*.out')}"
        assert time.monotonic() < deadline, "no training step after 300 s"
        time.sleep(0.2)
    request.getfixturevalue("timer_probes")  # queued now: they run while the requeued job is held
    slurm.run("scancel", "--signal=USR1", job)
    (record,) = slurm.wait(job, timeout=400)
    log = job_log(tmp_path / "job-*.out", chars=20000)
    assert record["JobState"] == "COMPLETED" and record["Restarts"] == "1", log

    run = tmp_path / "run"
    (hpc,) = run.glob("hpc_ckpt_*.ckpt")
    saved_at = int(hpc.stem.removeprefix("hpc_ckpt_"))
    assert 2 <= saved_at < STEPS and saved_at % 10, saved_at  # a quiet step: never one that validates or checkpoints
    assert "requeued Slurm job" in log and f"resuming from {hpc}" in log
    assert "restart 0" in log and "restart 1" in log  # --open-mode=append keeps the first run's output

    lines = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    keys = [(r["kind"], r["step"]) for r in lines]
    assert len(keys) == len(set(keys)), "a step written twice"
    assert sorted(s for k, s in keys if k == "train") == list(range(1, STEPS + 1))
    assert sorted(s for k, s in keys if k == "val") == [0, 10, 20]
    before, again = train_losses(uninterrupted / "run"), train_losses(run)
    for step in range(1, STEPS + 1):  # the same batches, weights and optimizer state on both sides of the requeue
        assert again[step] == pytest.approx(before[step], rel=1e-5, abs=1e-6), step
    assert json.loads((run / "summary.json").read_text())["steps"] == STEPS


# Slurm's own timer: where `--signal` sends the signal, and how long before the limit. Both variants
# at once, one CPU each: with B: (slurm/rl.sbatch traps it in the batch shell), without (train.sbatch:
# the srun tasks, which is what Lightning's ranks are). Submitted while the requeue test's job waits out
# its requeue hold, so the two share the wall time. A two-minute limit: the timer looks every 30 s, so
# the signal can come a full minute early, which under a one-minute limit is before the trap is set.
PROBE = """
srun bash -c 'trap "echo step \\$(date +%s) >> {out}; exit 0" USR1; while sleep 0.2; do :; done' &
STEP=$!
trap 'echo "batch $(date +%s)" >> {out}; kill $STEP; exit 0' USR1
wait $STEP
"""


@pytest.fixture(scope="module")
def timer_probes(slurm, tmp_path_factory) -> tuple[Path, dict[str, str]]:
    out = tmp_path_factory.mktemp("probes")
    jobs = {}
    for variant, signal in (("steps", "USR1@30"), ("batch", "B:USR1@30")):
        jobs[variant] = slurm.run("sbatch", "--parsable", "--cpus-per-task=1", "--time=2", f"--signal={signal}",
                                  f"--output={out}/{variant}-%j.out",
                                  f"--wrap={PROBE.format(out=out / (variant + '.txt'))}").stdout.strip()
    return out, jobs


def test_slurm_signals_the_steps_or_with_B_the_batch_shell_well_before_the_time_limit(slurm, timer_probes):
    out, jobs = timer_probes
    for variant, job in jobs.items():
        (record,) = slurm.wait(job, timeout=400)
        path = out / f"{variant}.txt"
        got = [line.split() for line in path.read_text().splitlines()] if path.exists() else []
        expected = "step" if variant == "steps" else "batch"
        assert [who for who, _ in got] == [expected], (variant, got, job_log(out / f"{variant}-*.out"))
        start = time.mktime(time.strptime(record["StartTime"], "%Y-%m-%dT%H:%M:%S"))
        lead = start + 120 - int(got[0][1])
        # Slurm's timer checks periodically: 30 s to 60 s ahead (measured here: 30 s, from whole-second clocks)
        assert 25 <= lead <= 60, f"{variant}: signalled {lead:.0f} s before the limit"
