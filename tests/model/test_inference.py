"""Batched policy/value: K distinct tactics per state with exact sequence log-probabilities, and a value;
the fast decoder (model/decoding.py) against the Hugging Face one it replaces; scoring given tactics."""

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


@pytest.mark.parametrize("decoder", ["fast", "hf"])
@pytest.mark.parametrize("method", ["sample", "beam"])
def test_sequence_log_prob_equals_the_teacher_forced_log_prob(trained_tiny, method, decoder):
    inference = ProofNetInference(trained_tiny[0], decoder=decoder)
    results = inference.policy_value(STATES, k=4, method=method, temperature=1.5, max_tactic_length=24,
                                     generator=torch.Generator().manual_seed(1))
    for state, r in zip(STATES, results):
        for sample in r.tactics:
            assert sample.log_prob == pytest.approx(teacher_forced(inference, state, sample), abs=1e-4)


def test_values_match_a_single_state_call(trained_tiny):
    """Batching (padding) does not change a state's value."""
    inference = ProofNetInference(trained_tiny[0])
    batched = inference.policy_value(STATES, k=1, method="beam", max_tactic_length=4)
    for state, r in zip(STATES, batched):
        alone = inference.policy_value([state], k=1, method="beam", max_tactic_length=4)[0]
        assert r.value == pytest.approx(alone.value, abs=1e-4)


@pytest.mark.parametrize("decoder", ["fast", "hf"])
@pytest.mark.parametrize("method", ["sample", "beam"])
def test_an_untrained_model_never_writes_sentinels_pad_or_unk(tiny_config, method, decoder):
    """Untrained, a third of the output mass sits on ids no tactic contains; none may come out."""
    from model.proofnet import ProofNet

    torch.manual_seed(0)
    inference = ProofNetInference(ProofNet(tiny_config), decoder=decoder)
    tok = inference.tokenizer
    results = inference.policy_value(STATES, k=8, method=method, temperature=2.0, max_tactic_length=12,
                                     generator=torch.Generator().manual_seed(0))
    samples = [t for r in results for t in r.tactics]
    assert len(samples) >= 2 * len(STATES)
    for t in samples:
        body = t.ids[:-1] if t.finished else t.ids
        assert all(tok.offset <= i < tok.offset + 256 for i in body), t.ids
        assert "<extra_id_" not in t.tactic


# --- the fast decoder against the Hugging Face one ------------------------------------------------

# States of very different lengths, so that the fast path groups them and pads within groups.
MIXED = [*STATES, "n, m, p : nat, H : n <= m, H0 : m <= p |- n <= p" * 6, "|- 0 = 0",
         "x : R, H : 0 < x |- 0 < x * x + 2 * x + 1 /\\ x <> 0" * 3]


@pytest.mark.parametrize("method", ["sample", "beam"])
def test_the_fast_decoder_gives_what_the_hugging_face_decoder_gives(trained_tiny, method):
    """Same seed, same states: the same tactics, counts, log-probs and values (the algorithm is the
    same; only the arithmetic is arranged differently)."""
    fast, hf = (ProofNetInference(trained_tiny[0], decoder=d) for d in ("fast", "hf"))
    a, b = (inference.policy_value(MIXED, k=6, method=method, temperature=2.0, max_tactic_length=16,
                                   generator=torch.Generator().manual_seed(3)) for inference in (fast, hf))
    for x, y in zip(a, b):
        assert [(t.tactic, t.ids, t.finished, t.count) for t in x.tactics] == \
               [(t.tactic, t.ids, t.finished, t.count) for t in y.tactics]
        assert [t.log_prob for t in x.tactics] == pytest.approx([t.log_prob for t in y.tactics], abs=1e-4)
        assert x.value == pytest.approx(y.value, abs=1e-4)
    assert sum(len(r.tactics) for r in a) >= 2 * len(MIXED)  # something to compare


def test_values_and_log_probs_do_not_depend_on_the_batch(trained_tiny):
    """A state alone, or among others of other lengths (other groups, other padding): the same value
    and, with its key, the same samples with the same log-probs."""
    inference = ProofNetInference(trained_tiny[0])
    keys = list(range(100, 100 + len(MIXED)))
    together = inference.policy_value(MIXED, k=5, temperature=2.0, max_tactic_length=16, keys=keys)
    backwards = inference.policy_value(MIXED[::-1], k=5, temperature=2.0, max_tactic_length=16, keys=keys[::-1])[::-1]
    three_threads = ProofNetInference(trained_tiny[0], workers=3).policy_value(  # other parts, other threads
        MIXED, k=5, temperature=2.0, max_tactic_length=16, keys=keys)
    for i, state in enumerate(MIXED):
        alone = inference.policy_value([state], k=5, temperature=2.0, max_tactic_length=16, keys=[keys[i]])[0]
        for other in (together[i], backwards[i], three_threads[i]):
            assert [t.tactic for t in other.tactics] == [t.tactic for t in alone.tactics]
            assert [t.count for t in other.tactics] == [t.count for t in alone.tactics]
            assert [t.log_prob for t in other.tactics] == pytest.approx([t.log_prob for t in alone.tactics], abs=1e-4)
            assert other.value == pytest.approx(alone.value, abs=1e-4)


def test_a_key_fixes_a_states_samples_and_another_key_changes_them(trained_tiny):
    inference = ProofNetInference(trained_tiny[0])

    def draws(key):
        r = inference.policy_value([MIXED[3]], k=8, temperature=3.0, max_tactic_length=12, keys=[key])[0]
        return [(t.tactic, t.count) for t in r.tactics]

    assert draws(7) == draws(7)
    assert draws(7) != draws(8)


def test_count_is_the_number_of_draws_that_wrote_the_tactic(trained_tiny, tiny_config):
    """Cold sampling collapses the K draws onto the memorised tactic: one tactic, count K. Hot sampling
    spreads them; counts then add up to the draws that were not blank."""
    inference = ProofNetInference(trained_tiny[0])
    cold = inference.policy_value(STATES, k=5, temperature=0.05, max_tactic_length=24,
                                  generator=torch.Generator().manual_seed(0))
    for r, (_, tactic, _) in zip(cold, CHOSEN):
        assert [(t.tactic, t.count) for t in r.tactics] == [(tactic, 5)]
    hot = inference.policy_value(STATES, k=8, temperature=1.5, max_tactic_length=24,
                                 generator=torch.Generator().manual_seed(0))
    for r in hot:
        assert 1 <= sum(t.count for t in r.tactics) <= 8
        assert all(t.count >= 1 for t in r.tactics)


# --- scoring given tactics -------------------------------------------------------------------------


def test_score_is_the_teacher_forced_log_prob_of_each_candidate(trained_tiny):
    """Different numbers of candidates per state (none, one, several, one longer than any sample), all in
    one pass: each score is what `ProofNet.tactic_log_probs` says for that tactic on that state."""
    inference = ProofNetInference(trained_tiny[0])
    tok = inference.tokenizer
    candidates = [["lia.", "intros a b.", "nra"], [], ["exact I."], ["reflexivity.", "field_simplify; ring. (* é *)"],
                  ["lia", "auto", "simpl.", "split", "tauto"], ["assumption."]]
    states = MIXED[: len(candidates)]
    scores = inference.score(states, candidates)
    assert [len(s) for s in scores] == [len(c) for c in candidates]
    for state, cs, ss in zip(states, candidates, scores):
        for c, s in zip(cs, ss):
            ids, mask = inference.encode_states([state])
            labels = torch.tensor([tok.encode(c) + [tok.eos_id]])
            assert s == pytest.approx(inference.model.tactic_log_probs(ids, mask, labels).item(), abs=1e-4)
    assert scores[0][0] > scores[0][2]  # the memorised "lia." over "nra"
    assert inference.score([], []) == [] and inference.score(STATES[:1], [[]]) == [[]]
    with pytest.raises(ValueError):
        inference.score(STATES, [["lia."]])
