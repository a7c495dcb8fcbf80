"""Candidate tactics the network ranks (search/candidates.py): resolving the config, the weights a
candidate gets, and the model-free candidate search on real Coq."""

from __future__ import annotations

import math

import pytest

from formal import Theorem
from formal.coq.checker import verify_proof
from formal.coq.session import CoqSession
from search.andor import AndOrConfig, AndOrProver
from search.attempt import Status
from search.automation import DEFAULT_PORTFOLIO
from search.candidates import (
    CandidatePolicy,
    RankedCandidates,
    join_candidates,
    resolve_candidates,
)
from search.policy import Evaluation, ScriptedPolicy, Suggestion
from tests.conftest import requires_coq


def test_resolve_candidates(tmp_path):
    assert resolve_candidates("none", "coq") == ()
    assert resolve_candidates("default", "coq")[: len(DEFAULT_PORTFOLIO)] == DEFAULT_PORTFOLIO
    assert "linarith" in resolve_candidates("default", "lean")
    f = tmp_path / "c.txt"
    f.write_text("# decision procedures\nlia\nnra   # nonlinear\n\nlia\n")
    assert resolve_candidates(str(f), "coq") == ("lia", "nra")
    assert resolve_candidates(["lia", " ring "], "coq") == ("lia", "ring")
    for bad in (str(tmp_path / "missing.txt"), [], ["", " "], 3):
        with pytest.raises(ValueError):
            resolve_candidates(bad, "coq")


def test_a_candidate_weighs_what_the_network_expects_to_sample():
    sampled = Evaluation((Suggestion("intros", -0.1, 6), Suggestion("lia", -2.0, 1)), -3.0)
    joined = join_candidates(sampled, ["lia", "nra", "field"], [-0.5, -1.0, float("-inf")], k=8)
    by = {s.tactic: s for s in joined.tactics}
    assert by["intros"].count == 6  # samples that are not candidates are untouched
    assert by["lia"].count == pytest.approx(8 * math.exp(-0.5))  # expected 4.85 > the 1 sample drawn
    assert by["lia"].log_prob == -0.5
    assert by["nra"].count == pytest.approx(8 * math.exp(-1.0))
    assert "field" not in by  # the network cannot write it
    assert [s.tactic for s in joined.tactics] == ["intros", "lia", "nra"]  # by log-prob
    assert joined.value == -3.0
    again = join_candidates(Evaluation((Suggestion("lia", -0.01, 7),), 0.0), ["lia"], [-3.0], k=8)
    assert again.tactics[0].count == 7  # sampled more often than expected: the samples count


def test_ranked_candidates_scores_every_state_once():
    calls = []

    def score(states, candidates):
        calls.append((list(states), [list(c) for c in candidates]))
        return [[-1.0 * (i + 1) for i, _ in enumerate(c)] for c in candidates]

    policy = RankedCandidates(ScriptedPolicy(["auto"], seed=0), ("lia", "nra"), score)
    out = policy.evaluate(["s1", "s2"], k=4)
    assert len(calls) == 1 and calls[0] == (["s1", "s2"], [["lia", "nra"], ["lia", "nra"]])
    assert [s.tactic for s in out[0].tactics] == ["auto", "lia", "nra"]


@requires_coq
def test_the_model_free_candidate_search_proves_with_uniform_priors():
    theorem = Theorem("t", "x < y -> y > x", header="Require Import Reals Lra.\nOpen Scope R_scope.",
                      binders="(x y : R)")
    policy = CandidatePolicy(("reflexivity", "intros", "lra"))

    def verify(script):
        v = verify_proof(theorem, script)
        return v.verified, v.message

    prover = AndOrProver(policy, AndOrConfig(k=1, max_expansions=5))
    with CoqSession(theorem) as session:
        attempt = prover.prove(theorem.name, session, verify)
    assert attempt.status is Status.PROVED and attempt.proof.strip().endswith("lra.")
    root = prover.last_tree.root
    assert root.children and all(c.prior == pytest.approx(1.0) for c in root.children)  # uniform priors
