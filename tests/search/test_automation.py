"""The automation baseline on real Coq, with the real checker as the judge."""

import dataclasses

from formal import Theorem
from formal.coq.checker import CheckerConfig, verify_proof
from formal.coq.session import CoqSession
from search.attempt import Status
from search.automation import AutomationConfig, AutomationProver
from tests.conftest import requires_coq

pytestmark = requires_coq

HEADER = "From Coq Require Import Lia Lra Psatz.\nRequire Import Reals.\nOpen Scope R_scope."


def _prove(theorem, config, checker: CheckerConfig | None = None):
    def verify(script):
        v = verify_proof(theorem, script, checker)
        return v.verified, v.message

    with CoqSession(theorem) as s:
        return AutomationProver(config).prove(theorem.name, s, verify)


def test_intros_then_the_first_procedure_that_closes_the_goal():
    th = Theorem("t", "x < y -> y > x", header=HEADER, binders="(x y : R)")
    a = _prove(th, AutomationConfig(portfolio=("reflexivity", "lia", "lra", "nra")))
    assert a.status is Status.PROVED
    assert a.proof == "intros.\nlra."
    assert a.tactics_used == 4 and a.tactics_tried == ["intros", "reflexivity", "lia", "lra"]


def test_budget_is_counted_in_tactic_executions():
    th = Theorem("t", "x < y -> y > x", header=HEADER, binders="(x y : R)")
    a = _prove(th, AutomationConfig(portfolio=("reflexivity", "lia", "lra"), max_tactics=2))
    assert a.status is Status.FAILED and a.tactics_used == 2
    assert "budget spent" in a.message


def test_a_claim_the_checker_rejects_is_not_a_proof():
    """`apply cheat` closes the goal in the session, but the checker (not trusting the header's
    axiom) rejects the script: only the checker's verdict counts."""
    th = Theorem("t", "1 = 2", header="Axiom cheat : forall P : Prop, P.")
    strict = CheckerConfig(timeout_s=30, trust_header_axioms=False)
    a = _prove(th, AutomationConfig(intro="", portfolio=("apply cheat",)), strict)
    assert a.status is Status.FAILED
    assert "checker rejected" in a.message and "cheat" in a.message and a.proof is None


def test_a_witness_left_open_is_not_claimed_as_a_proof():
    """`eexists; reflexivity` empties the focus but leaves ?n on the shelf: the session itself says
    the goal is not closed, so the checker is never asked."""
    th = Theorem("t", "exists n : nat, n = n", header="Require Import Arith.")
    a = _prove(th, AutomationConfig(intro="", portfolio=("eexists; reflexivity",)))
    assert a.status is Status.FAILED and a.proof is None and "checker" not in a.message


def test_sauto_joins_the_portfolio_when_coqhammer_is_installed():
    from proofzero.prove import ProveConfig, effective_config, hammer_installed

    cfg = effective_config(ProveConfig())
    assert ("sauto" in cfg.automation.portfolio) == hammer_installed()
    off = effective_config(dataclasses.replace(ProveConfig(), hammer="off"))
    assert "sauto" not in off.automation.portfolio and "Hammer" not in off.prelude
