"""eval/shards.py: a stable split of a suite by name, and the merge back into the unsharded run -- or a
clear refusal. The shards here are real `run_suite` runs over a real suite, with a stand-in prover
that decides by name (the Slurm test, tests/slurm/test_eval_sbatch.py, runs the real provers)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from eval.runner import run_suite
from eval.shards import Shard, ShardError, merge, shard_of
from formal.suite import load_suite
from search.attempt import Attempt, Status
from tests.conftest import REPO

NAMES = [f"t{i}" for i in range(12)]
CONFIG = {"prover": "stand-in", "workers": 2, "seed": 0}


@pytest.fixture()
def suite(tmp_path):
    d = tmp_path / "suite"
    d.mkdir()
    for n in NAMES:
        (d / f"{n}.v").write_text(f"Theorem {n} : True.\nProof.\nAdmitted.\n")
    return load_suite(d)


def prove(theorem) -> Attempt:
    proved = int(theorem.name[1:]) % 3 == 0
    return Attempt(theorem.name, Status.PROVED if proved else Status.FAILED, proof="exact I." if proved else None,
                   tactics_used=int(theorem.name[1:]), seconds=0.01)


def run_shards(suite, prover_dir, count, config=CONFIG, only=None):
    for i in range(count) if only is None else only:
        shard = Shard(i, count)
        run_suite(shard.select(suite), prove, shard.out_dir(prover_dir) / "results.json", config, "stand-in", workers=1,
                  progress=False)


def test_the_split_is_the_same_in_every_process_whatever_the_hash_seed():
    code = "from eval.shards import shard_of; print([shard_of(f't{i}', 5) for i in range(40)])"
    outs = {subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True,
                           env={**os.environ, "PYTHONHASHSEED": seed}).stdout for seed in ("0", "1", "12345")}
    assert len(outs) == 1 and json.loads(outs.pop()) == [shard_of(f"t{i}", 5) for i in range(40)]


def test_shards_partition_the_suite(suite):
    parts = [set(Shard(i, 4).select(suite).files) for i in range(4)]
    assert set().union(*parts) == set(NAMES) and sum(map(len, parts)) == len(NAMES)
    assert all(Shard(i, 4).select(suite).name == suite.name for i in range(4))


@pytest.mark.parametrize("text", ["3/3", "-1/3", "1/0", "a/b", "2", ""])
def test_a_bad_shard_is_a_clear_error(text):
    with pytest.raises(ShardError, match="I/N"):
        Shard.parse(text)


def test_merged_shards_are_the_unsharded_run(suite, tmp_path):
    whole = run_suite(suite, prove, tmp_path / "whole" / "results.json", CONFIG, "stand-in", workers=2, progress=False)
    run_shards(suite, tmp_path / "andor", 3)
    merged = merge(suite, tmp_path / "andor", CONFIG, "stand-in")
    a, b = whole.to_json(), merged.to_json()
    for d in (a, b):
        d.pop("seconds")
        for r in d["results"]:
            r.pop("seconds")
    assert a == b


def test_scheduling_keys_may_differ_between_shards(suite, tmp_path):
    run_shards(suite, tmp_path / "andor", 2, config={**CONFIG, "workers": 8, "runner": "ray"})
    assert len(merge(suite, tmp_path / "andor", CONFIG, "stand-in").rows) == len(NAMES)


def test_a_missing_shard_is_named(suite, tmp_path):
    run_shards(suite, tmp_path / "andor", 3, only=[0, 2])
    with pytest.raises(ShardError, match=r"shards 1 of 3 have not finished .*--array=1"):
        merge(suite, tmp_path / "andor", CONFIG, "stand-in")
    with pytest.raises(ShardError, match="no shards"):
        merge(suite, tmp_path / "nothing", CONFIG, "stand-in")


def test_another_config_two_splits_or_changed_statements_are_refused(suite, tmp_path):
    run_shards(suite, tmp_path / "a", 2, config={**CONFIG, "seed": 1})
    with pytest.raises(ShardError, match="another config"):
        merge(suite, tmp_path / "a", CONFIG, "stand-in")
    run_shards(suite, tmp_path / "b", 2)
    run_shards(suite, tmp_path / "b", 3)
    with pytest.raises(ShardError, match="2 and 3-way splits"):
        merge(suite, tmp_path / "b", CONFIG, "stand-in")
    run_shards(suite, tmp_path / "c", 2)
    (suite.root / "t0.v").write_text("Theorem t0 : False.\nProof.\nAdmitted.\n")
    with pytest.raises(ShardError, match="statements are not shard"):
        merge(load_suite(suite.root), tmp_path / "c", CONFIG, "stand-in")
