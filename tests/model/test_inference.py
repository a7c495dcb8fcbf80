"""Batched policy/value: K distinct tactics per state with exact sequence log-probabilities, and a value."""

import math

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from model.inference import ProofNetInference
from tests.model.memorise import PAIRS

# Pairs whose tactics have no doubled letters, which 50 steps of training reproduce exactly.
CHOSEN = [PAIRS[i] for i in (0, 1, 3)]
STATES = [s for s, _, _ in CHOSEN]


def check(results, k, config):
    assert len(results) == len(STATES)
    for r in results:
        log_probs = [t.log_prob for t in r.tactics]
        assert len({t.tactic for t in r.tactics}) == len(r.tactics) <= k
        assert all(math.isfinite(lp) and lp <= 0 for lp in log_probs)
        assert log_probs == sorted(log_probs, reverse=True)
        assert config.value_min <= r.value <= config.value_max


def teacher_forced(inference, state, sample):
    ids, mask = inference.encode_states([state])
    return inference.model.tactic_log_probs(ids, mask, torch.tensor([list(sample.ids)])).item()


def test_beam_search_returns_k_distinct_tactics_led_by_the_memorised_one(trained_tiny, tiny_config):
    inference = ProofNetInference(trained_tiny[0])
    results = inference.policy_value(STATES, k=4, method="beam", max_tactic_length=24)
    check(results, 4, tiny_config)
    for r, (_, tactic, _) in zip(results, CHOSEN):
        assert len(r.tactics) == 4
        assert r.tactics[0].tactic == tactic and r.tactics[0].finished


def test_high_temperature_sampling_returns_k_distinct_tactics(trained_tiny, tiny_config):
    inference = ProofNetInference(trained_tiny[0])
    results = inference.policy_value(STATES, k=6, temperature=5.0, max_tactic_length=8,
                                     generator=torch.Generator().manual_seed(0))
    check(results, 6, tiny_config)
    assert all(len(r.tactics) == 6 for r in results)


def test_low_temperature_sampling_collapses_onto_the_memorised_tactic(trained_tiny, tiny_config):
    inference = ProofNetInference(trained_tiny[0])
    results = inference.policy_value(STATES, k=4, temperature=0.05, max_tactic_length=24,
                                     generator=torch.Generator().manual_seed(0))
    check(results, 4, tiny_config)
    for r, (_, tactic, _) in zip(results, CHOSEN):
        assert r.tactics[0].tactic == tactic


@pytest.mark.parametrize("method", ["sample", "beam"])
def test_sequence_log_prob_equals_the_teacher_forced_log_prob(trained_tiny, method):
    inference = ProofNetInference(trained_tiny[0])
    results = inference.policy_value(STATES, k=4, method=method, temperature=1.5, max_tactic_length=24,
                                     generator=torch.Generator().manual_seed(1))
    for state, r in zip(STATES, results):
        for sample in r.tactics:
            assert sample.log_prob == pytest.approx(teacher_forced(inference, state, sample), abs=1e-3)


def test_values_match_a_single_state_call(trained_tiny):
    """Batching (padding) does not change a state's value."""
    inference = ProofNetInference(trained_tiny[0])
    batched = inference.policy_value(STATES, k=1, method="beam", max_tactic_length=4)
    for state, r in zip(STATES, batched):
        alone = inference.policy_value([state], k=1, method="beam", max_tactic_length=4)[0]
        assert r.value == pytest.approx(alone.value, abs=1e-4)


@pytest.mark.parametrize("method", ["sample", "beam"])
def test_an_untrained_model_never_writes_sentinels_pad_or_unk(tiny_config, method):
    """Untrained, a third of the output mass sits on ids no tactic contains; none may come out."""
    from model.proofnet import ProofNet

    torch.manual_seed(0)
    inference = ProofNetInference(ProofNet(tiny_config))
    tok = inference.tokenizer
    results = inference.policy_value(STATES, k=8, method=method, temperature=2.0, max_tactic_length=12,
                                     generator=torch.Generator().manual_seed(0))
    samples = [t for r in results for t in r.tactics]
    assert len(samples) >= 2 * len(STATES)
    for t in samples:
        body = t.ids[:-1] if t.finished else t.ids
        assert all(tok.offset <= i < tok.offset + 256 for i in body), t.ids
        assert "<extra_id_" not in t.tactic
