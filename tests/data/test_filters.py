"""Statement filters against the real Coq and its trusted checker: each reason, counted."""

import dataclasses

import pytest

from data.filters import FilterConfig, StatementFilter
from eval.attempts import backend_for, make_pools, with_prelude
from eval.config import EvalConfig
from formal.theorem import Theorem
from formal.verdict import Verdict
from tests.conftest import requires_coq

pytestmark = requires_coq
R = "Require Import Reals.\nRequire Import Lra.\nOpen Scope R_scope."

STATEMENTS = {
    "keep": Theorem("keep", "forall x : R, 0 < x -> x * x + 1 > x / 2 + 0", header=R),
    "trivial": Theorem("trivial", "forall n : nat, n + 0 = n"),
    "absurd": Theorem("absurd", "forall n : nat, n < 0 -> n * n = n + 7"),
    "false": Theorem("false", "2 + 2 = 5"),
    "typo": Theorem("typo", "forall n : nat, n + undefined_thing = n"),
    "again": Theorem("again", "forall n : nat,   n+0 = n"),
}


@pytest.fixture(scope="module")
def env():
    cfg = EvalConfig()
    with make_pools(cfg, max_idle=2) as pools:
        backend = backend_for(STATEMENTS["keep"], cfg, pools)
        yield (lambda t: backend.open_session(with_prelude(t, cfg)),
               lambda t, script: backend.check(with_prelude(t, cfg), script))


def test_each_reason_is_found_and_counted(env):
    f = StatementFilter(FilterConfig(), *env)
    report = f.run(list(STATEMENTS.values()))
    reasons = {r.name: r.reason for r in report.results}
    assert reasons == {"keep": "kept", "trivial": "trivial", "absurd": "contradictory_hypotheses",
                       "false": "refuted_by_automation", "typo": "does_not_elaborate", "again": "duplicate"}
    assert report.counts() == {"kept": 1, "duplicate": 1, "does_not_elaborate": 1, "trivial": 1,
                               "contradictory_hypotheses": 1, "refuted_by_automation": 1}
    assert report.kept() == ["keep"]
    by = {r.name: r for r in report.results}
    assert by["again"].detail == "trivial" and by["again"].tactics == 0
    assert "lia" in by["absurd"].detail or "easy" in by["absurd"].detail
    assert report.tactics == sum(r.tactics for r in report.results) > 0


def test_a_statement_of_the_pool_is_a_duplicate(env):
    f = StatementFilter(FilterConfig(), *env)
    report = f.run([STATEMENTS["again"]], pool=[STATEMENTS["trivial"]])
    assert [(r.reason, r.detail) for r in report.results] == [("duplicate", "trivial")]


def test_only_the_checker_makes_a_statement_trivial(env):
    """Mutation guard: a checker that rejects every script leaves nothing closed, so nothing is rejected
    as trivial, contradictory or refuted -- the session's own word that a goal closed is not enough."""
    open_session, _ = env
    never = lambda t, script: Verdict(False, "compile_error", "this checker accepts nothing")  # noqa: E731
    f = StatementFilter(FilterConfig(), open_session, never)
    report = f.run([STATEMENTS[k] for k in ("trivial", "absurd", "false")])
    assert report.counts() == {"kept": 3}


def test_checks_can_be_switched_off(env):
    f = StatementFilter(FilterConfig(trivial=False, contradictory=False, negation=False, duplicates=False), *env)
    report = f.run([STATEMENTS[k] for k in ("trivial", "absurd", "false", "again")])
    assert report.counts() == {"kept": 4}


def test_a_low_budget_disproof_is_kept_as_disproof_data(env):
    """The search is handed in (eval.games.play in the CLI); here a recorded outcome stands for it."""
    @dataclasses.dataclass
    class Outcome:
        status: str
        tactics: int
        record: object

    calls = []

    def disprove(theorem, budget):
        calls.append((theorem.name, budget))
        return Outcome("disproved", 7, {"proof": "of the negation"})

    f = StatementFilter(FilterConfig(disprove_budget=4, negation=False), *env, disprove=disprove)
    (result,) = f.run([STATEMENTS["keep"]]).results
    assert (result.reason, result.disproof) == ("disproved_by_search", {"proof": "of the negation"})
    assert calls == [("keep", 4)] and result.tactics >= 7


def test_config_validates():
    with pytest.raises(ValueError):
        FilterConfig(portfolio=())
    assert FilterConfig(portfolio=["lia"]).portfolio == ("lia",)
