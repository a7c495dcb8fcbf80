"""MathScale's formal realisation against the real Coq and its trusted checker: which side of a statement
is claimed, how Coq decides it (or cannot), the end-to-end `proofzero mathscale formal` run with its
yield, resuming, and the kept statements as a problem source of the RL pool."""

import json
import subprocess
import sys

import numpy as np
import pytest

from data.mathscale.concepts import load_records
from data.mathscale.formal import (
    HEADER,
    Candidate,
    FormalConfig,
    MathScaleSource,
    MathScaleSourceError,
    claims,
    compose,
    decide,
)
from data.mathscale.graph import Walk, build_graph
from data.mathscale.templates import Atom
from data.problems import PoolConfig, build_pools
from eval.attempts import backend_for, make_pools, with_prelude
from eval.config import EvalConfig
from formal.coq.checker import verify_proof
from formal.theorem import Theorem
from tests.conftest import REPO, requires_coq

WALK = Walk(("algebra",), ("solving linear equations",), (1, 0))


def cand(shape, *atoms, name="c"):
    return Candidate(name, WALK, tuple("kp" for _ in atoms), shape, tuple(atoms), 0, None)


LINEAR = Atom("3 * x + 1 = 10", lambda x: 3 * x + 1 == 10)  # x = 3
EVEN = Atom("x mod 2 = 0", lambda x: x % 2 == 0)
SMALL = Atom("x < 5", lambda x: x < 5)
POS = Atom("0 <= x", lambda x: 0 <= x)
SQUARE = Atom("x * x - 6 * x + 13 >= 4", lambda x: (x - 3) ** 2 >= 0)  # nia alone cannot show it
SQUARE_HINTED = Atom(SQUARE.coq, SQUARE.holds, hints=("Z.square_nonneg (x - 3)",))


# -- which side is claimed (no Coq) ------------------------------------------------------------------

def test_claims_follow_the_search():
    """
        find    3x+1=10 /\\ x<5       witness 3           -> exists x, ...            (as generated)
        find    3x+1=10 /\\ x even    no witness          -> forall x, ~ (...)        (negated)
        implies 3x+1=10 -> x<5      no counterexample   -> forall x, ... -> ...      (as generated)
        implies x<5 -> x even       counterexample 1    -> exists x, x<5 /\\ ~ even  (negated)
    """
    (c,) = claims(cand("find", LINEAR, SMALL), 50)
    assert (c.statement, c.polarity, c.witness) == ("exists x : Z, (3 * x + 1 = 10) /\\ (x < 5)", "as_generated", 3)
    (c,) = claims(cand("find", LINEAR, EVEN), 50)
    assert (c.statement, c.polarity) == ("forall x : Z, ~ ((3 * x + 1 = 10) /\\ (x mod 2 = 0))", "negated")
    (c,) = claims(cand("implies", LINEAR, SMALL), 50)
    assert (c.statement, c.polarity) == ("forall x : Z, 3 * x + 1 = 10 -> x < 5", "as_generated")
    (c,) = claims(cand("implies", SMALL, EVEN), 50)
    assert (c.statement, c.polarity, c.witness) == ("exists x : Z, (x < 5) /\\ ~ (x mod 2 = 0)", "negated", 1)
    assert c.scripts == ("exists 1; repeat split; first [reflexivity | lia | nia | (Z.to_euclidean_division_equations; nia)]",)


def test_compose_takes_the_walks_templates_in_order_and_is_seeded():
    walk = Walk(("algebra",), ("solving linear equations", "no such kp", "integer solutions", "Solving Equations"), (1, 3))
    a = compose("n", walk, np.random.default_rng(3), FormalConfig(p_false=0.0))
    assert a.kps == ("Solving Linear Equations", "Integer Solutions")  # "Solving Equations": the same template as the first
    assert all(atom.holds(a.x0) for atom in a.atoms)
    again = compose("n", walk, np.random.default_rng(3), FormalConfig(p_false=0.0))
    assert [x.coq for x in again.atoms] == [x.coq for x in a.atoms] and (again.shape, again.x0) == (a.shape, a.x0)
    b = compose("n", walk, np.random.default_rng(3), FormalConfig(p_false=1.0))
    assert b.drawn_false is not None and not b.atoms[b.drawn_false].holds(b.x0)
    assert compose("n", Walk(("algebra",), ("no such kp",), (1, 0)), np.random.default_rng(0), FormalConfig()) is None


# -- Coq decides -----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def coq():
    cfg = EvalConfig()
    with make_pools(cfg, max_idle=2) as pools:
        b = backend_for(Theorem("t", "True"), cfg, pools)
        yield (lambda t: b.open_session(with_prelude(t, cfg)), lambda t, s: b.check(with_prelude(t, cfg), s))


@requires_coq
def test_coq_decides_each_side_and_the_proof_is_checked(coq):
    for c, polarity in ((cand("find", LINEAR, SMALL), "as_generated"), (cand("find", LINEAR, EVEN), "negated"),
                        (cand("implies", SMALL, EVEN), "negated")):
        r = decide(c, 50, *coq)
        assert (r["outcome"], r["polarity"]) == ("decided", polarity), r
        assert verify_proof(Theorem("c", r["statement"], header=HEADER), r["proof"]).verified  # re-checked from scratch


@requires_coq
def test_what_automation_cannot_prove_is_undecided_and_a_hint_decides_it(coq):
    r = decide(cand("implies", POS, SQUARE), 50, *coq)
    assert r["outcome"] == "undecided" and "proof" not in r
    r = decide(cand("implies", POS, SQUARE_HINTED), 50, *coq)
    assert r["outcome"] == "decided" and "Z.square_nonneg (x - 3)" in r["proof"]


@requires_coq
def test_a_statement_that_does_not_elaborate_is_named(coq):
    r = decide(cand("find", Atom("undefined_function x = 1", lambda x: x == 1)), 5, *coq)
    assert r["outcome"] == "does_not_elaborate"


# -- the command, end to end -----------------------------------------------------------------------

def _cli(*args):
    return subprocess.run([sys.executable, "-m", "proofzero.cli", "mathscale", *map(str, args)],
                          capture_output=True, text=True, cwd=REPO, timeout=600)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("mathscale") / "formal"
    done = _cli("formal", "--out", out, "formal.walks=6", "seed=1")
    assert done.returncode == 0, done.stderr[-3000:]
    return out, done.stdout


@requires_coq
def test_formal_run_reports_its_yield_and_keeps_checked_statements(run):
    out, stdout = run
    records = [json.loads(x) for x in (out / "epochs/epoch_000.jsonl").read_text().splitlines()]
    assert len(records) == 6 and "epoch   walks stmts" in stdout
    table = json.loads((out / "yield.json").read_text())
    total = table["total"]
    assert total["walks"] == 6 and sum(total["outcomes"].values()) == 6
    assert total["as_generated"] + total["negated"] == sum(1 for r in records if "polarity" in r)
    kept = [json.loads(x) for x in (out / "problems.jsonl").read_text().splitlines()]
    assert len(kept) == total["outcomes"].get("kept", 0) > 0
    for k in kept:  # each kept statement is true: its proof passes the trusted checker from scratch
        theorem = Theorem(k["name"], k["statement"], header=k["header"])
        assert verify_proof(with_prelude(theorem, EvalConfig()), k["proof"]).verified, k
    assert (out / "yield.png").read_bytes()[:4] == b"\x89PNG"


@requires_coq
def test_rerun_reads_finished_epochs_back_and_other_settings_are_refused(run):
    out, _ = run
    before = (out / "epochs/epoch_000.jsonl").read_bytes()
    again = _cli("formal", "--out", out, "formal.walks=6", "seed=1", "--no-progress")
    assert again.returncode == 0 and (out / "epochs/epoch_000.jsonl").read_bytes() == before
    other = _cli("formal", "--out", out, "formal.walks=6", "seed=2")
    assert other.returncode == 2 and "holds a run with other seed" in other.stderr and "Traceback" not in other.stderr


@requires_coq
def test_kept_statements_join_the_rl_pool_as_a_problem_source(run, tmp_path):
    out, _ = run
    source = MathScaleSource(out)
    problems = source.problems()
    assert problems and all(t.header == HEADER and t.name.startswith("mathscale_e0_") for t in problems)
    assert MathScaleSource(out, limit=1).problems() == problems[:1]
    pools = build_pools(PoolConfig(mathscale=(str(out),), limit=5), root=REPO)
    assert {t.name for t in problems} <= {t.name for t in pools.rl}
    assert pools.sources[f"mathscale:{out}"] == len(problems)
    with pytest.raises(MathScaleSourceError, match="no problems.jsonl"):
        MathScaleSource(tmp_path).problems()
    (tmp_path / "problems.jsonl").write_text('{"name": "x"}\n')
    with pytest.raises(MathScaleSourceError, match="line 1 is not a MathScale problem"):
        MathScaleSource(tmp_path).problems()


def test_graph_command_prints_one_walk_per_topic():
    done = _cli("graph", "--json")
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    graph = build_graph(load_records(REPO / "benchmarks/mathscale/xylonfu_math_extraction.json"))
    assert summary["topics"] == len(graph.topics) and len(summary["walks"]) == len(graph.topics)
