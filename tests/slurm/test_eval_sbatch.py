"""slurm/eval_array.sbatch and slurm/eval_ray.sbatch on a real Slurm, against one unsharded
`proofzero eval` of the same command on real Coq (a scripted policy: seeded, so rows can be compared).

    array 0-2 ─┬─ task 0 ── shards/0-of-3 ───────────────────┐
               ├─ task 1 ✗ killed after one row; `--array=1` ─┼─ merge job ── results.json, comparison.json
               └─ task 2 ── shards/2-of-3 ───────────────────┘   == unsharded (refused while shard 1 is missing)
    eval_ray: Ray head in a job step ── proofzero eval runner=ray ── rows == unsharded
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from eval.shards import SCHEDULING, shard_of
from tests.conftest import REPO, requires_coq
from tests.slurm.conftest import job_log

pytestmark = [pytest.mark.slow, pytest.mark.slurm, requires_coq]

STATEMENTS = {
    "add_zero": "forall n : nat, n + 0 = n",
    "both_sides": "forall n : nat, n + 0 = n /\\ (forall m : nat, m = m)",
    "add_comm_3": "forall n : nat, n + 3 = 3 + n",
    "le_plus": "forall a : nat, a <= a + 2",
    "false_nat": "forall n : nat, n = n + 1",
    "mul_hard": "forall x y : nat, x * y * y = y * x + 1",
    "broken": "undefined_function 3 = 3",
}
TACTICS = "[intros,split,lia,simpl,'exact I',reflexivity]"
PROVER = ["--prover", "eval/andor", "policy.kind=scripted", f"policy.tactics={TACTICS}", "andor.max_expansions=20",
          "andor.k=6", "trees=all", "workers=1"]


def timeless(d: dict) -> dict:
    """Without wall-clock figures (`seconds`, `*_ms`): the only things two runs may differ in."""
    return {k: timeless(v) if isinstance(v, dict) else v for k, v in d.items()
            if k != "seconds" and not k.endswith("_ms")}


@pytest.fixture(scope="module")
def suite(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("suite")
    for name, stmt in STATEMENTS.items():
        (d / f"{name}.v").write_text(f"Require Import Arith.\n\nTheorem {name} : {stmt}.\nProof.\nAdmitted.\n")
    assert {shard_of(n, 3) for n in STATEMENTS} == {0, 1, 2}, "every shard holds a theorem"
    return d


@pytest.fixture(scope="module")
def unsharded(suite, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("unsharded") / "out"
    proc = subprocess.run([sys.executable, "-m", "proofzero.cli", "eval", "--no-progress", "--suite", str(suite),
                           "--out", str(out), *PROVER], capture_output=True, text=True, cwd=REPO, timeout=600,
                          env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    return out


def rows(results: Path) -> dict[str, dict]:
    data = json.loads(results.read_text())
    return {r["name"]: timeless(r) for r in data["results"]}


def same_run(a: Path, b: Path) -> None:
    """Two eval outputs hold the same run: rows, counts, config (but how it was scheduled), suite;
    comparison tables alike."""
    ra, rb = (json.loads((x / "andor" / "results.json").read_text()) for x in (a, b))
    assert rows(a / "andor" / "results.json") == rows(b / "andor" / "results.json")
    for key in ("suite", "suite_sha256", "format", "budget", "summary"):
        assert ra[key] == rb[key], key
    assert timeless(ra["environment"]) == timeless(rb["environment"])
    assert {k: v for k, v in ra["config"].items() if k not in SCHEDULING} == \
        {k: v for k, v in rb["config"].items() if k not in SCHEDULING}
    ca, cb = (json.loads((x / "comparison.json").read_text()) for x in (a, b))
    assert timeless(ca) == timeless(cb)


def test_an_array_of_three_shards_merges_into_the_unsharded_run(slurm, suite, unsharded, tmp_path):
    out = tmp_path / "out"
    shards = out / "andor" / "shards"
    args = ["3", "--suite", str(suite), "--out", str(out), *PROVER]
    log = [f"--output={tmp_path}/%x-%A_%a.out", "--time=10"]
    array = slurm.sbatch("eval_array.sbatch", *args, options=["--array=0-2", *log])
    partial = shards / "1-of-3" / "results.json.partial.jsonl"  # shard 1: false_nat and mul_hard, the slow ones
    deadline = time.monotonic() + 300
    while not (partial.is_file() and len(partial.read_text().splitlines()) >= 2):  # its header and one row
        assert not (shards / "1-of-3" / "results.json").exists(), "shard 1 finished before it could be killed"
        assert time.monotonic() < deadline, "shard 1 wrote no row in 300 s"
        time.sleep(0.05)
    slurm.cancel(f"{array}_1")  # killed mid-run
    records = slurm.wait(array, timeout=300)
    states = {r["ArrayTaskId"]: r["JobState"] for r in records}
    assert states == {"0": "COMPLETED", "1": "CANCELLED", "2": "COMPLETED"}, job_log(tmp_path / "*.out")
    assert not (shards / "1-of-3" / "results.json").exists()

    merge = slurm.sbatch("eval_array.sbatch", *args, options=log)
    (record,) = slurm.wait(merge, timeout=300)
    assert record["JobState"] == "FAILED"
    assert "shards 1 of 3 have not finished" in job_log(tmp_path / f"*-{merge}_*.out")
    assert not (out / "andor" / "results.json").exists()

    done = {p: p.stat().st_mtime_ns for p in shards.glob("[02]-of-3/**/*") if p.is_file()}
    rerun = slurm.sbatch("eval_array.sbatch", *args, options=["--array=1", *log])
    (record,) = slurm.wait(rerun, timeout=300)
    rerun_log = job_log(tmp_path / f"*-{rerun}_*.out")
    assert record["JobState"] == "COMPLETED", rerun_log
    assert "resuming: 1 of 2 theorems already done" in rerun_log  # only the row the kill cost is computed
    assert {p: p.stat().st_mtime_ns for p in done} == done, "the rerun touched only its own shard"
    assert set(rows(shards / "1-of-3" / "results.json")) == {"false_nat", "mul_hard"}

    merge = slurm.sbatch("eval_array.sbatch", *args, options=log)
    (record,) = slurm.wait(merge, timeout=300)
    assert record["JobState"] == "COMPLETED", job_log(tmp_path / f"*-{merge}_*.out")
    same_run(unsharded, out)
    statuses = {r["status"] for r in rows(out / "andor" / "results.json").values()}
    assert {"proved", "failed", "invalid_statement"} <= statuses
    proved = [r for r in rows(out / "andor" / "results.json").values() if r["status"] == "proved"]
    assert all((out / "andor" / r["env"]["tree"]).is_file() for r in proved), "tree views where the rows say"
    records_file = (out / "andor" / "records.jsonl").read_text().splitlines()
    assert len(records_file) == len(proved)


def test_eval_ray_runs_a_ray_cluster_inside_the_allocation(slurm, suite, unsharded, tmp_path):
    out = tmp_path / "out"
    job = slurm.sbatch("eval_ray.sbatch", "--suite", str(suite), "--out", str(out), *PROVER, "ray.num_actors=2",
                       "ray.actor_options.num_cpus=1", options=["--nodes=1", "--cpus-per-task=2", "--time=10",
                                                                 f"--output={tmp_path}/ray-%j.out"],
                       env={"RAY_OBJECT_STORE_MB": "100"})
    (record,) = slurm.wait(job, timeout=400)
    log = job_log(tmp_path / "ray-*.out")
    assert record["JobState"] == "COMPLETED", log
    assert "connected to the Ray cluster at" in log and "2 prover actors ready" in log
    same_run(unsharded, out)
    leftovers = subprocess.run(["pgrep", "-f", f"/tmp/ray-{job}/"], capture_output=True, text=True).stdout.split()
    assert not leftovers, f"Ray processes of job {job} outlived it: {leftovers}"
