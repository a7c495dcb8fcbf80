"""The best-first baseline: whole proof states by cumulative log-probability, on real Coq."""

import pytest

from formal.coq.checker import verify_proof
from formal.coq.proof import render_proof
from formal.coq.session import CoqSession
from formal.proof import ProofStep
from search.attempt import Status
from search.bestfirst import BestFirstConfig, BestFirstProver, to_proof
from search.policy import ScriptedPolicy
from tests.conftest import requires_coq
from tests.search.test_andor_coq import DISTRACTORS, KNOWN, sample_theorems


def test_a_first_goal_sequence_becomes_a_proof_tree():
    steps = [("induction n", 2), ("reflexivity", 0), ("simpl", 1), ("lia", 0)]
    assert to_proof(steps) == ProofStep("induction n", (ProofStep("reflexivity"),
                                                        ProofStep("simpl", (ProofStep("lia"),))))
    assert render_proof(to_proof(steps)) == "induction n.\n{\n  reflexivity.\n}\n{\n  simpl.\n  lia.\n}"


@requires_coq
@pytest.mark.parametrize("name", ["mathd_algebra_478", "amc12a_2002_p6", "induction_12dvd4expnp1p20"])
def test_best_first_proves_samples_with_a_scripted_policy(name):
    theorem = sample_theorems()[name]

    def verify(script):
        v = verify_proof(theorem, script)
        return v.verified, v.message

    prover = BestFirstProver(ScriptedPolicy([*KNOWN[name], *DISTRACTORS], seed=1), BestFirstConfig(k=16, max_expansions=300))
    with CoqSession(theorem) as session:
        attempt = prover.prove(name, session, verify)
    assert attempt.status is Status.PROVED, attempt.message
    assert attempt.env["stopped_by"] == "proved" and attempt.env["expansions"] <= 300


@requires_coq
def test_best_first_reports_a_spent_budget():
    theorem = sample_theorems()["imo_1959_p1"]
    prover = BestFirstProver(ScriptedPolicy(["intros n _", "auto"]), BestFirstConfig(k=4, max_expansions=2))
    with CoqSession(theorem) as session:
        attempt = prover.prove(theorem.name, session, lambda s: (False, "unused"))
    assert attempt.status is Status.FAILED and "2 expansions" in attempt.message
