"""Synthetic theorems on the real engine: random premises -> closure -> traceback -> (statement, aux)."""

import json

import pytest

pytest.importorskip("newclid")
pytest.importorskip("py_yuclid")

from data.geometry_corpus import synthesize
from data.geometry_synth import SynthConfig, random_problem, theorems_of
from formal.geometry.engine import SATURATED, SOLVED, build, deduce
from formal.geometry.syntax import parse_clause, parse_problem

CFG = SynthConfig(n=20, min_clauses=4, max_clauses=8)
AUX_PROBLEM = 10  # a random problem (seed 0) one of whose facts needs two auxiliary points


def test_random_premises_are_seeded():
    a, b = random_problem(3, CFG), random_problem(3, CFG)
    assert a.text == b.text and a.text != random_problem(4, CFG).text
    assert a.points[:3] == ("a", "b", "c") or a.points[:2] == ("a", "b")


def test_theorems_and_a_theorem_that_needs_auxiliary_points():
    theorems, stats = theorems_of(AUX_PROBLEM, CFG)
    assert stats["facts"] >= len(theorems) > 10
    assert all(t.proof_length >= CFG.min_proof_steps for t in theorems)
    with_aux = [t for t in theorems if t.aux]
    assert with_aux
    t = with_aux[0]
    # the statement is a problem on its own (alphabetized, newclid's dialect) whose goal holds ...
    statement = parse_problem(t.statement, dialect="newclid")
    assert statement.goals[0] == tuple(t.goal.split())
    assert set(statement.points) == set("abcdefg"[: len(statement.points)])
    d = build(statement, seed=5)
    # ... and with its auxiliary constructions drawn, DD+AR proves it (on a fresh drawing)
    for clause in t.aux:
        d = __import__("formal.geometry.engine", fromlist=["add_construction"]).add_construction(d, parse_clause(clause, "newclid"))
    assert deduce(d).status == SOLVED
    # one training pair per auxiliary clause, each seeing the clauses drawn before it
    pairs = t.pairs()
    assert [a for _, a in pairs] == list(t.aux)
    assert " | " not in pairs[0][0] and f"| {t.aux[0]} ?" in pairs[1][0]


def test_needed_marks_the_theorems_dd_ar_cannot_prove_without_their_auxiliary_points():
    """A traced proof may go through other points although DD+AR proves the bare statement too: such a
    theorem has aux (the paper's definition) but is not `needed`."""
    theorems = theorems_of(AUX_PROBLEM, CFG)[0]
    for t in [t for t in theorems if t.aux][:3]:
        alone = deduce(build(parse_problem(t.statement, dialect="newclid"), seed=AUX_PROBLEM)).status
        assert t.needed == (alone == SATURATED)
    assert not any(t.needed for t in theorems if not t.aux)


def test_synthesize_writes_a_corpus_resumes_and_decontaminates(tmp_path):
    out = tmp_path / "synth"
    cfg = SynthConfig(n=4, chunk=2, min_clauses=3, max_clauses=4, seed=1)
    first = synthesize(cfg, out)
    assert first["problems"] == 4 and first["theorems"] > 0
    lines = (out / "theorems.jsonl").read_text().splitlines()
    assert len(lines) == first["theorems"]
    assert first["theorems_per_cpu_hour"] > 0 and 0 <= first["aux_share"] <= 1
    assert (out / "dataset" / "random" / "dataset_dict.json").is_file()
    shards = sorted((out / "shards").iterdir())
    stamps = [p.stat().st_mtime_ns for p in shards]
    again = synthesize(cfg, out)  # nothing to redo
    assert again == first and [p.stat().st_mtime_ns for p in shards] == stamps
    # an evaluation file holding one of the statements: that statement is dropped
    one = json.loads(lines[0])["statement"]
    evalfile = tmp_path / "eval.txt"
    evalfile.write_text(f"leaked\n{one}\n")
    from dataclasses import replace

    from data.geometry_corpus import build_corpus

    decontaminated = build_corpus(replace(cfg, decontaminate=[str(evalfile)]), out)
    assert decontaminated["decontaminated"] >= 1
    assert decontaminated["theorems"] == first["theorems"] - decontaminated["decontaminated"]
    with pytest.raises(ValueError, match="another config"):
        synthesize(replace(cfg, min_clauses=4), out)
