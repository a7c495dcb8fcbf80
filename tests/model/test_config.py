"""Presets and their parameter counts: an analytic count of the T5 v1.1 layout, and published figures."""

import pytest

from model.config import PRESETS, ProofNetConfig

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from model.proofnet import ProofNet

BUCKETS = 32  # T5's relative-position buckets (one bias table per stack, in its first layer)


def analytic_count(c: ProofNetConfig) -> int:
    """Weights of a gated-GELU T5 with a tied embedding / LM head, plus the value MLP."""
    inner = c.num_heads * c.d_kv
    attention = 4 * c.d_model * inner  # q, k, v, o; no biases
    ffn = 3 * c.d_model * c.d_ff  # wi_0, wi_1, wo
    encoder_layer = attention + ffn + 2 * c.d_model  # two RMS norms
    decoder_layer = 2 * attention + ffn + 3 * c.d_model  # self + cross attention, three norms
    stacks = (
        c.num_layers * encoder_layer + c.num_decoder_layers * decoder_layer
        + 2 * (BUCKETS * c.num_heads + c.d_model)  # relative bias + final norm, per stack
    )
    value = c.d_model * c.value_hidden + c.value_hidden + c.value_hidden * c.value_bins + c.value_bins
    return c.vocab_size * c.d_model + stacks + value


def meta_model(name: str) -> ProofNet:
    with torch.device("meta"):
        return ProofNet(ProofNetConfig.preset(name))


@pytest.mark.parametrize("name", PRESETS)
def test_parameter_count_matches_the_analytic_count(name):
    model = meta_model(name)
    assert model.num_parameters() == analytic_count(model.config)


# Published sizes: ByT5-small 300M, ByT5-base 582M (Xue et al. 2022, Table 1); AlphaProof's proof
# network ~3B. The tiny preset is ours ("a few M").
@pytest.mark.parametrize("name, stated, tolerance", [
    ("tiny", 4.6e6, 0.05), ("small", 300e6, 0.02), ("base", 582e6, 0.02), ("3b", 3e9, 0.05),
])
def test_parameter_count_matches_the_stated_size(name, stated, tolerance):
    assert meta_model(name).num_parameters() == pytest.approx(stated, rel=tolerance)


def test_3b_builds_on_the_meta_device_with_nothing_allocated():
    model = meta_model("3b")
    assert all(p.device.type == "meta" for p in model.parameters())
    assert all(b.device.type == "meta" for b in model.buffers())
    assert 2.9e9 < model.num_parameters() < 3.1e9


def test_presets_share_the_tokenizer_vocabulary_and_value_bins():
    for name in PRESETS:
        c = ProofNetConfig.preset(name)
        assert c.vocab_size == 384 and c.value_bins == 64 and c.value_weight == 0.001


def test_config_validates_itself(tmp_path):
    with pytest.raises(ValueError):
        ProofNetConfig(value_min=0.0, value_max=-1.0)
    bad = tmp_path / "bad.yaml"
    bad.write_text("d_model: 8\nlayers: 2\n")
    with pytest.raises(ValueError, match="unknown keys"):
        ProofNetConfig.from_yaml(bad)
    assert ProofNetConfig.preset("tiny", dropout=0.2).dropout == 0.2
