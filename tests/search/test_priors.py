"""The policy reaches the AND-OR tree: with a real network, a tactic sampled more often gets
proportionally more prior (AlphaProof pseudocode: every sample adds exp(logprob / tau))."""

from __future__ import annotations

import math

import pytest

torch = pytest.importorskip("torch")

from formal.goal import Goal, GoalState  # noqa: E402
from search.mcts import MCTS, Expansion, MCTSConfig, TacticOutcome  # noqa: E402
from search.policy import NetworkPolicy  # noqa: E402

STATE = "n : nat |- n + 0 = n"


@pytest.fixture(scope="module")
def policy():
    from model.config import ProofNetConfig
    from model.inference import ProofNetInference
    from model.proofnet import ProofNet
    from tests.model.memorise import train

    torch.manual_seed(0)
    model = ProofNet(ProofNetConfig.preset("tiny"))
    train(model, steps=50)
    # Hot sampling: the memorised tactic dominates, but not alone (several distinct tactics come back).
    return NetworkPolicy(ProofNetInference(model), method="sample", temperature=1.6)


def test_sample_counts_reach_the_tree_as_prior_mass(policy):
    torch.manual_seed(1)
    (evaluation,) = policy.evaluate([STATE], k=32)
    counts = {s.tactic: s.count for s in evaluation.tactics}
    assert sum(counts.values()) <= 32 and len(counts) >= 2
    top = max(counts, key=counts.get)
    assert top == "lia." and counts[top] >= 4  # the memorised tactic is drawn many times
    once = min(counts, key=counts.get)
    assert counts[once] < counts[top]

    tree = MCTS(GoalState(0, (Goal((), STATE),)), MCTSConfig())
    outcomes = tuple(TacticOutcome(s.tactic, s.log_prob, (GoalState(i + 1, (Goal((), f"g{i}"),)),), s.count)
                     for i, s in enumerate(evaluation.tactics))
    tree.expand([tree.root], Expansion(evaluation.value, outcomes))
    prior = {c.tactic: c.prior for c in tree.root.children}
    lp = {s.tactic: s.log_prob for s in evaluation.tactics}
    for t, c in counts.items():
        assert prior[t] == pytest.approx(c * math.exp(lp[t] / 200.0))
    # tau = 200 flattens log-probs to ~1: the ratio of priors is the ratio of counts, within a few %.
    ratio = (prior[top] / prior[once]) / (counts[top] / counts[once])
    assert 0.9 < ratio < 1.2


def test_beam_search_gives_each_tactic_one_sample(policy):
    beam = NetworkPolicy(policy.inference, method="beam")
    (evaluation,) = beam.evaluate([STATE], k=6)
    assert [s.count for s in evaluation.tactics] == [1] * len(evaluation.tactics)
