"""`proofzero export`: Lightning and DeepSpeed ZeRO checkpoints -> Hugging Face directories."""

import json
import os
import subprocess
import sys

import pytest
import torch

from tests.conftest import REPO
from tests.train.conftest import FAST, run_cli

pytestmark = pytest.mark.slow


def _batch(model, states=("n : nat\n============================\nn + 0 = n", "b : bool\n⊢ negb (negb b) = b")):
    tok = model.config.tokenizer()
    rows = [tok.encode(s) + [tok.eos_id] for s in states]
    width = max(map(len, rows))
    ids = torch.tensor([r + [tok.pad_id] * (width - len(r)) for r in rows])
    labels = torch.tensor([tok.encode("intros.") + [tok.eos_id]] * len(states))
    return ids, (ids != tok.pad_id).long(), labels


def _outputs(model):
    ids, mask, labels = _batch(model)
    with torch.no_grad():
        out = model(ids, mask, labels)
    return out.logits, out.value


@pytest.fixture(scope="module")
def trained(traced_dataset, tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("export") / "run"
    run_cli("train", "sft", f"data.path={traced_dataset}", f"run_dir={run_dir}", *FAST, "max_steps=6",
            "data.batch_size=8", "data.val_batches=0", "checkpoint_every_n_steps=3")
    return run_dir


def test_export_round_trip_gives_the_checkpoints_logits_and_values(trained, tmp_path):
    from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

    from model.export import load_pretrained
    from train.checkpoint import load_checkpoint

    out = tmp_path / "hf"
    proc = run_cli("export", str(trained), str(out))  # a run directory stands for its last checkpoint
    assert "step 6" in proc.stdout
    ckpt = load_checkpoint(trained / "checkpoints" / "last.ckpt")
    exported = load_pretrained(out)
    logits, values = _outputs(ckpt.model)
    logits2, values2 = _outputs(exported)
    assert torch.equal(logits, logits2) and torch.equal(values, values2)
    # The policy alone, with plain transformers and the exported tokenizer.
    policy = AutoModelForSeq2SeqLM.from_pretrained(out).eval()
    tokenizer = AutoTokenizer.from_pretrained(out)
    ids, mask, labels = _batch(ckpt.model)
    assert tokenizer(["n : nat"]).input_ids[0] == ckpt.model.config.tokenizer().encode("n : nat") + [1]
    with torch.no_grad():
        plain = policy(input_ids=ids, attention_mask=mask, labels=labels).logits
    assert torch.allclose(plain, logits, atol=1e-5)
    card = (out / "README.md").read_text()
    assert "## Data" in card and str(ckpt.train_config["data"]["path"]) in card and "sft" in card
    meta = json.loads((out / "proofnet_config.json").read_text())
    assert meta["training_info"]["global_step"] == 6


def test_export_refuses_what_is_not_a_checkpoint(tmp_path):
    bogus = tmp_path / "x.ckpt"
    bogus.write_bytes(b"not a checkpoint")
    proc = run_cli("export", str(bogus), str(tmp_path / "out"), check=False)
    assert proc.returncode == 2 and "cannot read it as a checkpoint" in proc.stderr
    proc = run_cli("export", str(tmp_path / "missing"), str(tmp_path / "out"), check=False)
    assert proc.returncode == 2 and "no such checkpoint" in proc.stderr
    assert not (tmp_path / "out").exists()


def test_push_to_hub_offline_is_a_clear_error_after_the_export(trained, tmp_path):
    proc = run_cli("export", str(trained), str(tmp_path / "hf"), "--push-to-hub", "someone/model", check=False)
    assert proc.returncode == 2 and "HF_HUB_OFFLINE" in proc.stderr
    assert (tmp_path / "hf" / "model.safetensors").is_file()


@pytest.mark.parametrize("stage", [2, 3])
def test_export_of_a_deepspeed_zero_checkpoint(trained, tmp_path, stage):
    """A real ZeRO checkpoint, written by DeepSpeed itself in Lightning's layout (Lightning will not run
    DeepSpeed on CPU, DeepSpeed will): consolidated and exported, it gives the engine's own outputs."""
    pytest.importorskip("deepspeed")
    zero_dir, ref = tmp_path / "zero.ckpt", tmp_path / "reference.pt"
    proc = subprocess.run([sys.executable, str(REPO / "tests" / "train" / "zero_checkpoint.py"),
                           str(trained / "checkpoints" / "last.ckpt"), str(zero_dir), str(ref), str(stage)],
                          check=False, cwd=REPO, capture_output=True, text=True, timeout=600,
                          env={**os.environ, "PYTHONPATH": str(REPO), "MASTER_PORT": str(29561 + stage)})
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (zero_dir / "latest").read_text().strip() == "checkpoint"
    out = tmp_path / "hf"
    proc = run_cli("export", str(zero_dir), str(out))
    assert "zero" in proc.stdout
    from model.export import load_pretrained

    exported = load_pretrained(out)
    logits, values = _outputs(exported)
    reference = torch.load(ref)
    assert torch.allclose(logits, reference["logits"], atol=1e-5)
    assert torch.allclose(values, reference["values"], atol=1e-5)
