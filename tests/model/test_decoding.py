"""model/decoding.py computes what the Hugging Face T5 computes: encoder states, teacher-forced logits
and step-by-step logits, for the gated-GELU layout of the presets and a plain ReLU feed-forward."""

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from model import decoding
from model.config import ProofNetConfig
from model.inference import ProofNetInference
from model.proofnet import ProofNet

STATES = ["n : nat |- n + 0 = n", "|- True", "a, b : nat |- a + b = b + a" * 5, "x : R |- x * x >= 0" * 2, "|- 2 = 2"]
CONFIGS = {
    "tiny": dict(),
    # heads x d_kv != d_model, a plain feed-forward, three decoder layers
    "relu": dict(d_model=96, d_kv=20, num_heads=3, d_ff=160, num_layers=2, num_decoder_layers=3,
                 feed_forward_proj="relu"),
}


@pytest.fixture(scope="module", params=sorted(CONFIGS))
def model(request):
    torch.manual_seed(0)
    return ProofNet(ProofNetConfig.preset("tiny", dropout=0.0, **CONFIGS[request.param])).eval()


@pytest.fixture(scope="module")
def encoded(model):
    inference = ProofNetInference(model)
    ids, mask = inference.encode_states(STATES)
    with torch.inference_mode():
        weights, order, groups = inference._encode(ids, mask)
        reference = model.encode(ids, mask)[order]
    return weights, order, groups, reference, mask[order]


def test_length_order_groups_similar_lengths_and_keeps_every_state_once():
    order, runs = decoding.length_order([50, 3, 400, 7, 52, 49, 390], slack=1.25)
    assert order == [1, 3, 5, 0, 4, 6, 2]
    assert runs == [(0, 1), (1, 2), (2, 5), (5, 7)]
    assert decoding.length_order([5] * 4)[1] == [(0, 4)]


def test_encoder_states_match_the_hugging_face_encoder(encoded):
    weights, order, groups, reference, mask = encoded
    assert len(groups) > 1  # the lengths differ enough to be grouped
    for g in groups:
        width = g.states.shape[1]
        real = mask[g.start : g.end, :width].bool()
        assert (g.states - reference[g.start : g.end, :width])[real].abs().max() < 1e-4
        assert not g.states[~real].any()  # padding holds zeros, not whatever HF computes there


def test_teacher_forced_and_incremental_logits_match_the_hugging_face_decoder(model, encoded):
    weights, order, groups, reference, mask = encoded
    torch.manual_seed(1)
    rows, length = 3, 9
    labels = torch.randint(3, 259, (len(STATES), rows, length))
    flat = labels.view(-1, length)
    with torch.inference_mode():
        expected = model._decode_logits(reference.repeat_interleave(rows, 0), mask.repeat_interleave(rows, 0), flat)
        expected = expected.view(len(STATES), rows, length, -1)
        inputs = model.t5.prepare_decoder_input_ids_from_labels(flat).view_as(labels)
        cross = decoding.CrossAttention.of(weights, groups)
        assert (decoding.teacher_forced_logits(weights, cross, inputs) - expected).abs().max() < 1e-4
        decoder = decoding.IncrementalDecoder(weights, cross, rows, max_len=length + 2)
        for t in range(length):
            logits = decoder.step(inputs[:, :, t].reshape(-1))
            assert (logits - expected[:, :, t].reshape(len(STATES) * rows, -1)).abs().max() < 1e-4


def test_reorder_moves_a_rows_cache_within_its_state(model, encoded):
    """After reorder, row r continues exactly as the row it was copied from would have."""
    weights, order, groups, reference, mask = encoded
    cross = decoding.CrossAttention.of(weights, groups)
    torch.manual_seed(2)
    first, second = torch.randint(3, 259, (2, len(STATES) * 2))
    with torch.inference_mode():
        a = decoding.IncrementalDecoder(weights, cross, 2, max_len=4)
        a.step(first)
        a.reorder(torch.arange(len(STATES) * 2).view(-1, 2).flip(1).flatten())  # swap each state's two rows
        swapped = a.step(second)
        b = decoding.IncrementalDecoder(weights, cross, 2, max_len=4)
        b.step(first.view(-1, 2).flip(1).flatten())
        assert (swapped - b.step(second)).abs().max() < 1e-5


def test_start_is_a_first_step_computed_once_per_state(model, encoded):
    weights, order, groups, reference, mask = encoded
    cross = decoding.CrossAttention.of(weights, groups)
    pad = model.config.tokenizer().pad_id
    nxt = torch.randint(3, 259, (len(STATES) * 3,), generator=torch.Generator().manual_seed(4))
    with torch.inference_mode():
        a, b = (decoding.IncrementalDecoder(weights, cross, 3, max_len=3) for _ in range(2))
        assert (a.start(pad) - b.step(torch.full((len(STATES) * 3,), pad))).abs().max() < 1e-5
        assert (a.step(nxt) - b.step(nxt)).abs().max() < 1e-5


def test_the_weights_are_made_again_when_the_model_changes():
    """Fused copies are cached, but an in-place update (an optimiser step, a load) is seen at once."""
    torch.manual_seed(0)
    model = ProofNet(ProofNetConfig.preset("tiny"))
    inference = ProofNetInference(model)
    first = inference.weights()
    assert inference.weights() is first
    q = model.t5.decoder.block[0].layer[0].SelfAttention.q.weight
    with torch.no_grad():
        q.mul_(2)
    again = inference.weights()
    assert again is not first and torch.equal(again.decoder[0].qkv[: q.shape[0]], q)
