"""AlphaGeometry's problem language -> newclid's dialect (the four differences), on the copied problem sets."""

from pathlib import Path

import pytest

pytest.importorskip("newclid")

from formal.geometry import heuristics
from formal.geometry.syntax import (
    COORDINATES,
    SyntaxError_,
    Unreadable,
    alphabetize,
    arities,
    parse_clause,
    parse_problem,
    read_problems,
)

SETS = Path(__file__).resolve().parents[2] / "benchmarks" / "alphageometry"


@pytest.mark.parametrize("given, newclid", [
    # the shorthand that leaves out the new points: AlphaGeometry puts the clause's points in front
    ("a b c = triangle", "a b c = triangle a b c"),
    ("h = on_tline b a c, on_tline c a b", "h = on_tline h b a c, on_tline h c a b"),
    # argument order: newclid puts the new points first
    ("d = parallelogram a b c d", "d = parallelogram d a b c"),
    ("e d = square b a e d", "e d = square e d b a"),
    # s_angle's angle: degrees in AlphaGeometry, `o` suffix in newclid
    ("c = s_angle b a c 60", "c = s_angle b a c 60o"),
    ("e = s_angle c d e 15, s_angle d c e -15", "e = s_angle c d e 15o, s_angle d c e -15o"),
    ("a b c d = eq_trapezoid a b c d", "a b c d = iso_trapezoid a b c d"),
])
def test_translation(given, newclid):
    assert str(parse_clause(given)) == newclid
    # newclid's dialect reads back unchanged (no second translation)
    assert str(parse_clause(newclid, dialect="newclid")) == newclid


def test_only_parallelogram_and_square_order_their_arguments_differently():
    """defs.txt (AlphaGeometry) against newclid's definitions: same arities; argument names differ in
    order for exactly the two constructions the translation reorders."""
    blocks = [b.strip().splitlines() for b in (SETS / "defs.txt").read_text().split("\n\n") if b.strip()]
    ag = {b[0].split()[0]: b[0].split()[1:] for b in blocks}
    from newclid.jgex.constructions import ALL_JGEX_CONSTRUCTIONS

    nc = {d.name.value: [str(a) for a in d.args] for d in ALL_JGEX_CONSTRUCTIONS}
    differ = {n for n in set(ag) & set(nc) if ag[n] != nc[n]}
    assert differ == {"parallelogram", "square"}
    assert all(len(ag[n]) == arities()[n] for n in set(ag) & set(nc))


@pytest.mark.parametrize("name, count", [("jgex_ag_231.txt", 231), ("examples.txt", 4), ("ag2_test_problems.txt", 26)])
def test_every_problem_of_the_sets_is_read(name, count):
    problems = read_problems(SETS / name)
    assert len(problems) == count
    assert not [p for p in problems if isinstance(p, Unreadable)]
    for p in problems:
        if p.kind != COORDINATES:
            assert parse_problem(p.text, p.name, dialect="newclid").text == p.text


def test_coordinates_problems():
    (p,) = [p for p in read_problems(SETS / "ag2_test_problems.txt") if p.name.endswith("2004_p5")]
    assert p.kind == COORDINATES
    assert p.points[:3] == ("a", "b", "c") and p.points_at[1] == ("b", 1.0, 0.0)
    assert p.premises[0] == ("cong", "a", "o", "b", "o") and p.goals == (("cong", "a", "p", "c", "p"),)


def test_unreadable_problems_are_listed_with_their_reason(tmp_path):
    f = tmp_path / "p.txt"
    f.write_text("good\na b c = triangle ? perp a b a c\nbad\na b = frobnicate a b ? perp a b a b\n"
                 "forward\na = on_line a b c; b c = segment ? coll a b c\n")
    good, bad, forward = read_problems(f)
    assert not isinstance(good, Unreadable)
    assert isinstance(bad, Unreadable) and "unknown construction 'frobnicate'" in bad.message
    assert isinstance(forward, Unreadable) and "not yet constructed" in forward.message


@pytest.mark.parametrize("text, why", [("", "no problems"), ("one line\n", "pairs"), ("x\ny\nx\ny\n", "twice")])
def test_bad_files(tmp_path, text, why):
    f = tmp_path / "p.txt"
    f.write_text(text)
    with pytest.raises(SyntaxError_, match=why):
        read_problems(f)


def test_alphabetize_and_aux():
    p = parse_problem("o x = segment o x; h = midpoint h o x ? cong o h h x")
    q, back = alphabetize(p)
    assert q.text == "a b = segment a b; c = midpoint c a b ? cong a c c b"
    assert back == {"a": "o", "b": "x", "c": "h"}
    r = p.with_aux(parse_clause("m = foot m h o x", "newclid"))
    assert r.text.endswith("| m = foot m h o x ? cong o h h x")
    with pytest.raises(SyntaxError_, match="existing"):
        r.with_aux(parse_clause("m = midpoint m o x", "newclid"))
    with pytest.raises(SyntaxError_, match="unknown point"):
        p.with_aux(parse_clause("m = midpoint m o q", "newclid"))


def test_heuristic_candidates_rank_the_goals_points_first():
    text = "a b c = triangle a b c; d = on_line d b c ? cong a d a b"
    ranked = [c for c, _ in heuristics.candidates(text)]
    goal = {"a", "d", "b"}
    touched = [len(goal & set(c.replace(",", " ").split()[3:])) for c in ranked]
    assert touched == sorted(touched, reverse=True)  # more of the goal's points first
    assert {"e = midpoint e a d", "e = foot e a d b", "e = circle e a b c", "e = on_line e b c, on_line e a d",
            "e = mirror e a b"} <= set(ranked)
    assert all(c.split()[0] == "e" for c in ranked)  # a fresh name
    scores = [s for _, s in heuristics.candidates(text)]
    assert scores == sorted(scores, reverse=True)
    assert len(heuristics.candidates(text, limit=5)) == 5
