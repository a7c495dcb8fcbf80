"""The DD+AR adapter on the real engine (newclid 3.0.1 + the yuclid binary), on small problems."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("newclid")
pytest.importorskip("py_yuclid")

from formal.geometry.engine import (
    SATURATED,
    SOLVED,
    BuildError,
    add_construction,
    build,
    check_numerically,
    deduce,
    yuclid_path,
)
from formal.geometry.proof import NotProved, recheck, traceback
from formal.geometry.syntax import parse_clause, parse_problem, read_problems

REPO = Path(__file__).resolve().parents[2]
SETS = REPO / "benchmarks" / "alphageometry"


def jgex(suffix: str):
    (p,) = [p for p in read_problems(SETS / "jgex_ag_231.txt") if p.name.endswith(suffix)]
    return p


def test_the_binary_is_found_without_path():
    """The venv's bin is not on PATH when the venv is used unactivated: the adapter still finds yuclid."""
    code = "from formal.geometry.engine import _backend, yuclid_path; _backend(); print(yuclid_path())"
    env = {**os.environ, "PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO)}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert Path(out.stdout.strip()).name == "yuclid"
    assert Path(out.stdout.strip()).parent == yuclid_path().parent


@pytest.mark.parametrize("suffix", [
    "E028-2-1.gex",  # square (argument order)
    "GDD_FULL_01-20_13.gex",  # parallelogram (argument order)
    "E061-66.gex",  # s_angle 60 (degrees)
    "new_unsolved/1.gex",  # eq_trapezoid
])
def test_problems_newclid_could_not_build_from_the_files_text_now_build_and_solve(suffix):
    d = build(jgex(suffix), seed=0)
    assert d.coordinates and all(len(c.facts) >= 0 for c in d.clauses)
    assert deduce(d).status == SOLVED


def test_orthocenter_with_the_aux_point_and_its_proof():
    problem = parse_problem("a b c = triangle; d = on_tline d b a c, on_tline d c a b; e = on_line e a c, on_line e b d ? perp a d b c")
    d = build(problem, seed=3)
    run = deduce(d)
    assert run.status == SOLVED
    proof = traceback(run)
    assert proof.goal == "perp a d b c"
    assert proof.length >= 1 and proof.steps[-1].fact == "perp a d b c"
    assert {p.clause for p in proof.premises if p.clause} == {"d = on_tline d b a c, on_tline d c a b"}
    assert recheck(proof, d, seed=4) == (True,) * proof.length
    assert "=(r43 Orthocenter theorem)=> AD ⟂ BC" in proof.render()


def test_an_auxiliary_construction_turns_a_saturated_problem_into_a_solved_one():
    problem = jgex("complete_008_7_Book_LLL_L053-1.gex")  # saturates alone; the intersection of be and fg solves it
    d = build(problem, seed=0)
    alone = deduce(d)
    assert alone.status == SATURATED
    with pytest.raises(NotProved):
        traceback(alone)
    d2 = add_construction(d, parse_clause("h = on_line h e b, on_line h f g", "newclid"))
    assert d2.coordinates.items() >= d.coordinates.items()  # the drawn points stay where they were
    assert d2.aux_points == ("h",)
    run = deduce(d2)
    assert run.status == SOLVED
    proof = traceback(run)
    assert any(p.aux for p in proof.premises) and any(s.aux for s in proof.steps)
    assert "[aux]" in proof.render()
    assert all(recheck(proof, d2, seed=1))


def test_closure_without_a_goal_then_asked_goals_and_numeric_checks():
    d = build(parse_problem("a b c = triangle a b c; m = midpoint m a b; n = midpoint n a c ? para m n b c"), seed=0)
    closure = deduce(d, goal=False)
    assert closure.status == SATURATED and closure.facts > 10
    proof = traceback(closure, "simtri a b c a m n")  # a fact of the closure, traced back without a goal
    assert proof.goal == "simtri a b c a m n" and proof.length >= 2
    # yuclid's closure leaves out what angle chasing alone concludes: asked as a goal, it is derived
    with pytest.raises(NotProved):
        traceback(closure, "para m n b c")
    asked = deduce(d, goals=("para m n b c", "cong a m b m"))
    assert asked.status == SOLVED
    assert traceback(asked, "para m n b c").steps[-1].reason == "Angle Chasing"
    assert check_numerically(d, "para m n b c") and not check_numerically(d, "perp m n b c")
    with pytest.raises(NotProved):
        traceback(closure, "perp m n b c")


def test_build_errors_are_values_with_a_reason():
    with pytest.raises(BuildError, match="no numeric placement|numerically"):
        build(parse_problem("a b = segment a b; c = midpoint c a b; d = on_line d a b, on_line d a c ? coll a b d"), seed=0)
    (acompute,) = [p for p in read_problems(SETS / "ag2_test_problems.txt") if p.name.endswith("2009_p4a")]
    with pytest.raises(BuildError, match="unsupported by newclid: acompute"):
        build(acompute)


def test_a_coordinates_problem_builds_as_given_and_solves():
    (p,) = [p for p in read_problems(SETS / "ag2_test_problems.txt") if p.name.endswith("2004_p5")]
    d = build(p)
    assert d.coordinates["b"] == (1.0, 0.0)
    assert deduce(d).status == SOLVED
