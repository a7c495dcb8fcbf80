"""Beam search over auxiliary constructions, driven by a hand-made engine and proposer (no geometry).

States are tuples of the constructions drawn so far; the engine "solves" a chosen set, refuses to draw
some constructions, and counts its runs.
"""

import pytest

from search.construction_beam import BUDGET, EXHAUSTED, SOLVED, BeamConfig, Extension, beam_search
from search.policy import Evaluation, Suggestion


class Engine:
    def __init__(self, solving: set[frozenset], undrawable: set[str] = frozenset()):
        self.solving, self.undrawable, self.runs = solving, undrawable, []

    def describe(self, state):
        return " ".join(state)

    def extend(self, state, construction):
        if construction in self.undrawable:
            return Extension(None, error="cannot draw")
        self.runs.append((*state, construction))
        new = (*state, construction)
        return Extension(new, solved=frozenset(new) in self.solving)


class Proposer:
    """Suggests the same ranked list everywhere: x (log p -0.1), y (-1), z (-2), w (-3)."""

    def __init__(self, ranked=(("x", -0.1), ("y", -1.0), ("z", -2.0), ("w", -3.0))):
        self.ranked, self.calls = ranked, 0

    def evaluate(self, states, k):
        self.calls += len(states)
        return [Evaluation(tuple(Suggestion(t, lp) for t, lp in self.ranked[:k]), 0.0) for _ in states]


def test_solves_at_depth_two_trying_the_best_scored_children_first():
    """
        root
       / | \\
      x  y  z          depth 1: no child solves; the beam keeps x, y (beam_size 2)
     /\\   /\\
    xy xz yx yz       depth 2, by cumulative log-prob: x+y (-1.1), x+z (-2.1), y+x (dup of xy), y+z (-3)
    """
    engine = Engine(solving={frozenset({"y", "z"})})
    result = beam_search((), engine, Proposer(), BeamConfig(beam_size=2, depth=2, proposals=3, max_engine_runs=50))
    assert result.status == SOLVED
    assert result.constructions == ("y", "z")
    # depth 1: x, y, z; depth 2: xy, xz, then yx is the set {x,y} again (skipped), yz solves
    assert engine.runs == [("x",), ("y",), ("z",), ("x", "y"), ("x", "z"), ("y", "z")]
    assert result.engine_runs == 6 and result.depth == 2 and result.proposer_calls == 3


def test_budget_is_counted_in_engine_runs_and_undrawable_suggestions_are_free():
    engine = Engine(solving=set(), undrawable={"x"})
    result = beam_search((), engine, Proposer(), BeamConfig(beam_size=4, depth=3, proposals=4, max_engine_runs=5))
    assert result.status == BUDGET
    assert result.engine_runs == 5 == len(engine.runs)
    assert result.invalid >= 1
    assert all("x" not in run for run in engine.runs)


def test_nothing_drawable_is_exhausted_not_budget():
    engine = Engine(solving=set(), undrawable={"x", "y", "z", "w"})
    result = beam_search((), engine, Proposer(), BeamConfig(max_engine_runs=10))
    assert result.status == EXHAUSTED
    assert result.engine_runs == 0 and result.invalid == 4


def test_depth_limit_ends_the_search():
    engine = Engine(solving={frozenset({"x", "y", "z"})})
    result = beam_search((), engine, Proposer(), BeamConfig(beam_size=1, depth=2, proposals=4, max_engine_runs=100))
    assert result.status == EXHAUSTED  # the solving set needs three constructions
    assert max(len(r) for r in engine.runs) == 2


@pytest.mark.parametrize("bad", [dict(beam_size=0), dict(depth=0), dict(proposals=0), dict(max_engine_runs=0),
                                 dict(wall_seconds=0)])
def test_config_validates(bad):
    with pytest.raises(ValueError):
        BeamConfig(**bad)
