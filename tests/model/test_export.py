"""Hugging Face export: the round trip is exact, plain transformers reads the policy and the tokenizer."""

import json

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from model.export import load_pretrained, save_pretrained
from model.proofnet import ProofNet
from model.tokenizer import ByteTokenizer
from tests.model.memorise import batch

TRAINING_INFO = {
    "data": "memorise.PAIRS: 6 hand-written (state, tactic, return) triples",
    "stage": "sft",
    "steps": 50,
    "optimizer": {"name": "AdamW", "lr": 3e-3},
}


@pytest.fixture(autouse=True)
def offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


@pytest.fixture(scope="module")
def exported(tiny_config, tmp_path_factory):
    """A freshly initialised tiny model (training it would only cost time) and its export."""
    torch.manual_seed(0)
    model = ProofNet(tiny_config)
    out = tmp_path_factory.mktemp("export") / "tiny"
    assert save_pretrained(model.eval(), out, training_info=TRAINING_INFO) == out
    return model, out


def test_export_round_trip_gives_the_same_logits_and_values(exported, tiny_config):
    model, out = exported
    reloaded = load_pretrained(out)
    assert not reloaded.training and reloaded.config == model.config
    ids, mask, labels, returns = batch(tiny_config)
    with torch.no_grad():
        a, b = model(ids, mask, labels, returns), reloaded(ids, mask, labels, returns)
    assert torch.allclose(a.logits, b.logits) and torch.allclose(a.value, b.value)
    assert torch.allclose(a.value_logits, b.value_logits)
    assert reloaded.num_parameters() == model.num_parameters()


def test_plain_transformers_loads_the_policy(exported, tiny_config):
    model, out = exported
    for cls in (transformers.T5ForConditionalGeneration, transformers.AutoModelForSeq2SeqLM):
        policy = cls.from_pretrained(out).eval()
        ids, mask, labels, _ = batch(tiny_config)
        with torch.no_grad():
            got = policy(input_ids=ids, attention_mask=mask, labels=labels).logits
            ours = model(ids, mask, labels).logits
        assert torch.allclose(got, ours)


@pytest.mark.parametrize("cls", ["ByT5Tokenizer", "AutoTokenizer"])
def test_transformers_tokenizer_agrees_with_byte_tokenizer(exported, cls):
    _, out = exported
    hf = getattr(transformers, cls).from_pretrained(out)
    ours = ByteTokenizer()
    text = "x : ℝ ⊢ ∀ y, y = y"
    assert hf(text).input_ids == ours.encode(text, add_eos=True)
    # Sentinels count down from the top, as in ByT5 and ByteTokenizer (<extra_id_0> = 383).
    assert hf("<extra_id_0>a<extra_id_1>").input_ids == [383, ord("a") + 3, 382, 1]
    assert hf.decode(ours.encode(text)) == text
    assert len(hf) == ours.vocab_size and hf.pad_token_id == 0 and hf.eos_token_id == 1


def test_model_card_states_parameters_data_and_training_config(exported):
    model, out = exported
    card = (out / "README.md").read_text()
    assert f"{model.num_parameters():,}" in card
    assert TRAINING_INFO["data"] in card
    assert "stage: sft" in card and "lr: 0.003" in card
    meta = json.loads((out / "proofnet_config.json").read_text())
    assert meta["training_info"] == TRAINING_INFO and meta["config"]["d_model"] == 256


def test_export_replaces_an_earlier_export_and_leaves_no_temporary_dirs(exported):
    model, out = exported
    save_pretrained(model, out, training_info={"data": "again"})
    assert "again" in (out / "README.md").read_text()
    assert sorted(p.name for p in out.parent.iterdir()) == ["tiny"]


def test_export_refuses_to_overwrite_a_directory_that_is_not_an_export(exported, tmp_path):
    model, _ = exported
    (tmp_path / "notes.txt").write_text("keep me")
    with pytest.raises(ValueError, match="not an empty directory or an earlier export"):
        save_pretrained(model, tmp_path, training_info=None)
    assert (tmp_path / "notes.txt").read_text() == "keep me"


def test_a_directory_that_is_not_an_export_is_a_clear_error(tmp_path):
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(ValueError, match=r"not a ProofZero export \(no proofnet_config.json\)") as e:
        load_pretrained(tmp_path)
    assert "\n" not in str(e.value)
    with pytest.raises(ValueError, match="not a directory"):
        load_pretrained(tmp_path / "absent")


def test_an_export_with_missing_files_is_a_clear_error(exported, tmp_path):
    _, out = exported
    for name in ("proofnet_config.json", "config.json"):
        (tmp_path / name).write_bytes((out / name).read_bytes())
    with pytest.raises(ValueError, match="missing value_head.safetensors, model.safetensors") as e:
        load_pretrained(tmp_path)
    assert "\n" not in str(e.value)
