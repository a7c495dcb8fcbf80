"""Environment failures are rows; anything else a prover raises stops the run, keeping what is done.

A bug in the prover, a broken checkpoint or a dead model server is not an `env_error` of one
theorem: turning it into rows would let a run "finish" with exit 0 and a column of env errors.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from eval.attempts import Artifacts, make_prove_one
from eval.config import EvalConfig, PolicyConfig
from eval.runner import RunStopped, run_suite
from formal.suite import load_suite
from search.attempt import Attempt, Status
from search.batching import BatchingPolicy
from tests.conftest import requires_coq

NAMES = ["a_one", "b_two", "c_bug", "d_four", "e_five"]


def _suite(tmp_path: Path, names=NAMES):
    d = tmp_path / "suite"
    d.mkdir(exist_ok=True)
    for i, name in enumerate(names):
        (d / f"{name}.v").write_text(f"Theorem {name} : {i} = {i}.\nProof.\n")
    return load_suite(d)


def test_a_prover_bug_stops_the_run_and_keeps_the_rows_done(tmp_path):
    suite = _suite(tmp_path)
    out = tmp_path / "results.json"
    seen: list[str] = []

    def buggy(theorem):
        seen.append(theorem.name)
        if theorem.name == "c_bug":
            raise KeyError("a bug in the prover")
        return Attempt(theorem.name, Status.FAILED, message="budget spent")

    with pytest.raises(RunStopped) as info:
        run_suite(suite, buggy, out, {"k": 1}, "pass@1", workers=1, progress=False)
    assert "c_bug" in str(info.value) and "KeyError" in str(info.value) and "resume" in str(info.value)
    assert not out.exists()  # no final results: the run did not finish
    partial = out.with_name("results.json.partial.jsonl")
    kept = [json.loads(line)["name"] for line in partial.read_text().splitlines()[1:]]
    assert {"a_one", "b_two"} <= set(kept) and "c_bug" not in kept  # done rows kept, the bug is no row
    assert "env_error" not in partial.read_text()

    def fixed(theorem):
        seen.append(theorem.name)
        return Attempt(theorem.name, Status.FAILED, message="budget spent")

    seen.clear()
    result = run_suite(suite, fixed, out, {"k": 1}, "pass@1", workers=1, progress=False)
    assert sorted(seen) == sorted(set(NAMES) - set(kept))  # resumed: rows done are not redone
    assert {r.name for r in result.rows} == set(NAMES)


class _DeadModel:
    """A model whose every call fails, behind the real batching server, as a crashed model server."""

    def evaluate(self, states, k):
        raise RuntimeError("CUDA error: device-side assert triggered")


@requires_coq
def test_a_dead_model_server_stops_the_run_not_rows_of_env_errors(tmp_path):
    suite = _suite(tmp_path, NAMES[:2])
    cfg = EvalConfig(prover="andor", workers=1, policy=PolicyConfig(kind="network"), records=False, trees="none")
    server = BatchingPolicy(_DeadModel())
    try:
        prove_one = make_prove_one(cfg, lambda name, attempt: server, Artifacts(tmp_path, trees="none"))
        with pytest.raises(RunStopped, match="CUDA error"):
            run_suite(suite, prove_one, tmp_path / "results.json", {}, "pass@1", workers=1, progress=False)
    finally:
        server.close()


@requires_coq
def test_the_cli_exits_non_zero_with_one_line(tmp_path, monkeypatch, capsys):
    """Through `proofzero eval`: a programming error inside the search (here: the AND-OR prover made to
    raise on one theorem) ends the command with exit 1 and one error line naming the theorem."""
    from proofzero.cli import main
    from search.andor import AndOrProver

    real = AndOrProver.prove

    def prove(self, name, session, verify):
        if name == "b_two":
            raise AttributeError("'NoneType' object has no attribute 'children'")
        return real(self, name, session, verify)

    monkeypatch.setattr(AndOrProver, "prove", prove)
    suite = _suite(tmp_path, NAMES[:2])
    rc = main(["eval", "--no-progress", "--suite", str(suite.root), "--out", str(tmp_path / "out"),
               "--prover", "eval/andor", "policy.kind=scripted", "policy.tactics=[reflexivity]",
               "andor.max_expansions=2", "workers=1"])
    err = capsys.readouterr().err
    assert rc == 1
    errors = [line for line in err.splitlines() if line.startswith("proofzero eval: error:")]
    assert len(errors) == 1 and "b_two" in errors[0] and "AttributeError" in errors[0], err
    assert "Traceback" not in err
    partial = tmp_path / "out" / "andor" / "results.json.partial.jsonl"
    assert "a_one" in partial.read_text()
