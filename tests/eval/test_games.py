"""RL games on real Coq: a proof or a disproof reaches replay only with the trusted checker's yes."""

from __future__ import annotations

import dataclasses

from eval.attempts import candidate_policies
from eval.config import EvalConfig, PolicyConfig
from eval.games import play, with_budget
from formal.coq.checker import CheckerConfig
from formal.theorem import Theorem
from tests.conftest import requires_coq

pytestmark = requires_coq

TACTICS = ("intros", "lia", "apply cheat", "discriminate", "reflexivity")


def cfg(**kw) -> EvalConfig:
    c = EvalConfig(prover="andor", workers=1, policy=PolicyConfig(kind="candidates", candidates=list(TACTICS)),
                   records=False, trees="none", checker=CheckerConfig(timeout_s=60, trust_header_axioms=False))
    return dataclasses.replace(c, **kw)


def game(theorem: Theorem, mode: str, c: EvalConfig | None = None, budget: int = 6):
    c = c or cfg()
    return play(theorem, mode, budget, c, candidate_policies(c, "coq"), None, "r0-0000")


def test_a_proved_game_carries_the_rl_targets_of_its_proof():
    r = game(Theorem("le_sum", "forall a b : nat, a <= a + b"), "prove")
    assert r.status == "proved" and r.record is not None
    tactics = r.record.traced_tactics
    assert [t.tactic for t in tactics][-1] == "lia"
    assert [t.value_target for t in tactics] == [-len(tactics) + i for i in range(len(tactics))]
    assert r.record.url == "search:rl:prove" and 0 < r.expansions <= 6 and r.tactics > 0


def test_a_false_statement_is_disproved_through_its_negation():
    r = game(Theorem("wrong", "2 + 2 = 5"), "disprove")
    assert r.status == "disproved", r.message
    assert r.record is not None and r.record.full_name == "wrong_negation"
    assert "~" in r.record.statement


def test_a_proof_the_checker_rejects_never_reaches_replay():
    """The session accepts `apply cheat` (a header axiom); the checker, not trusting it, says no."""
    cheat = Theorem("one_is_two", "1 = 2", header="Axiom cheat : forall P : Prop, P.")
    r = game(cheat, "prove")
    assert r.status == "failed" and r.record is None
    assert "checker rejected" in r.message


def test_a_checker_that_cannot_finish_is_an_env_error_not_a_proof():
    c = cfg(checker=CheckerConfig(timeout_s=0.001, trust_header_axioms=False))
    r = game(Theorem("le_sum", "forall a b : nat, a <= a + b"), "prove", c)
    assert r.status == "env_error" and r.record is None


def test_the_budget_is_the_provers_expansions():
    c = cfg()
    assert with_budget(c, 3).andor.max_expansions == 3
    r = game(Theorem("hard", "forall x y : nat, x * y = y * x + 1"), "prove", budget=2)
    assert r.status == "failed" and r.expansions <= 2


def test_a_statement_that_does_not_elaborate_is_invalid():
    r = game(Theorem("bad", "forall n : nat, n + true = n"), "prove")
    assert r.status == "invalid_statement"


def test_a_failed_game_reports_the_open_goals_its_search_left_and_a_proved_one_its_script():
    """What TTRL turns into lemmas: the deepest unproved goals, hypotheses introduced, never the root."""
    target = Theorem("sq", "forall n : nat, 2 <= n -> n * n >= 2 * n")
    r = game(target, "prove", budget=3)
    assert r.status == "failed" and r.proof == "" and r.open_goals
    first = r.open_goals[0]
    assert first.conclusion == "n * n >= 2 * n" and [h.type for h in first.hypotheses] == ["nat", "2 <= n"]
    assert len({g.printed for g in r.open_goals}) == len(r.open_goals)
    won = game(Theorem("le_sum", "forall a b : nat, a <= a + b"), "prove")
    assert won.status == "proved" and "lia" in won.proof and won.open_goals == ()


def test_an_htps_game_reports_open_goals_too():
    r = game(Theorem("sq", "forall n : nat, 2 <= n -> n * n >= 2 * n"), "prove", cfg(prover="htps"), budget=3)
    assert r.status == "failed" and r.open_goals
    assert all(g.conclusion and not g.evars() for g in r.open_goals)
