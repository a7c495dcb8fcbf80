"""A Hugging Face export whose files changed after it was written (issue 11): a one-line error naming the
file, never a model with different weights.

safetensors has no checksum: a flipped byte inside a tensor's data loads as a different weight. The
export records a sha256 of each file the network is built from, in `proofnet_config.json`, and every
load checks them. Exports from before the checksums load, with a warning.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from tests.hostile.test_cli_input import refused

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from model.export import PROOFNET_CONFIG, load_pretrained, save_pretrained  # noqa: E402


@pytest.fixture(autouse=True)
def offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


@pytest.fixture(scope="module")
def export(tmp_path_factory) -> Path:
    """An export of a freshly initialised, very small ProofNet."""
    from model.config import ProofNetConfig
    from model.proofnet import ProofNet

    torch.manual_seed(0)
    config = ProofNetConfig.preset("tiny", d_model=16, d_kv=4, d_ff=16, num_layers=1, num_decoder_layers=1,
                                   num_heads=2, value_hidden=8, value_bins=4, num_sentinels=4)
    return save_pretrained(ProofNet(config).eval(), tmp_path_factory.mktemp("export") / "hf")


def copy_of(export: Path, dst: Path) -> Path:
    dst.mkdir()
    for f in export.iterdir():
        (dst / f.name).write_bytes(f.read_bytes())
    return dst


def flip_tensor_byte(path: Path) -> None:
    """Flip one byte inside the last tensor's data (past the safetensors JSON header): still a valid file."""
    data = bytearray(path.read_bytes())
    data[-3] ^= 0xFF
    path.write_bytes(bytes(data))


def test_the_export_records_a_sha256_of_every_file_the_network_is_built_from(export):
    import hashlib

    recorded = json.loads((export / PROOFNET_CONFIG).read_text())["sha256"]
    assert {"model.safetensors", "value_head.safetensors", "config.json"} <= set(recorded)
    for name, digest in recorded.items():
        assert hashlib.sha256((export / name).read_bytes()).hexdigest() == digest


@pytest.mark.parametrize("name", ["model.safetensors", "value_head.safetensors"])
def test_flipped_bytes_in_a_weight_file_are_refused(export, tmp_path, name):
    bad = copy_of(export, tmp_path / "bad")
    flip_tensor_byte(bad / name)
    with pytest.raises(ValueError, match=f"{bad / name}: sha256 differs") as e:
        load_pretrained(bad)
    assert "\n" not in str(e.value)


def test_a_changed_config_json_is_refused(export, tmp_path):
    bad = copy_of(export, tmp_path / "bad")
    cfg = json.loads((bad / "config.json").read_text())
    cfg["layer_norm_epsilon"] = 0.5  # sizes unchanged: nothing else would notice
    (bad / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(ValueError, match="config.json: sha256 differs"):
        load_pretrained(bad)


def test_a_recorded_file_that_is_gone_is_refused(export, tmp_path):
    bad = copy_of(export, tmp_path / "bad")
    (bad / "generation_config.json").unlink()
    with pytest.raises(ValueError, match="generation_config.json"):
        load_pretrained(bad)


def test_a_weight_file_the_export_did_not_record_is_refused(export, tmp_path):
    """Shards or an index added beside the recorded file would be read by transformers unchecked."""
    bad = copy_of(export, tmp_path / "bad")
    (bad / "model.safetensors.index.json").write_text(json.dumps({"weight_map": {}}))
    with pytest.raises(ValueError, match="model.safetensors.index.json: not recorded"):
        load_pretrained(bad)


def test_eval_refuses_a_corrupted_export_with_one_line(capsys, export, tmp_path):
    bad = copy_of(export, tmp_path / "bad")
    flip_tensor_byte(bad / "model.safetensors")
    suite = tmp_path / "suite"
    suite.mkdir()
    (suite / "one_eq_one.v").write_text("Theorem one_eq_one : 1 = 1.\nProof.\n")
    refused(capsys, tmp_path, "eval", ["--suite", suite, "--prover", "eval/andor", "--checkpoint", bad,
                                       "--out", tmp_path / "out", "--no-progress"],
            "model.safetensors: sha256 differs")


def test_an_export_from_before_the_checksums_loads_with_a_warning(export, tmp_path, caplog):
    old = copy_of(export, tmp_path / "old")
    meta = json.loads((old / PROOFNET_CONFIG).read_text())
    del meta["sha256"]
    (old / PROOFNET_CONFIG).write_text(json.dumps(meta))
    with caplog.at_level(logging.WARNING, logger="model.export"):
        model = load_pretrained(old)
    assert model.config == load_pretrained(export).config
    assert any("no checksums" in r.getMessage() and str(old) in r.getMessage() for r in caplog.records)


def test_a_good_export_loads_without_a_warning_and_plain_transformers_still_reads_it(export, caplog):
    with caplog.at_level(logging.WARNING, logger="model.export"):
        load_pretrained(export)
    assert not [r for r in caplog.records if r.name == "model.export"]
    policy = transformers.AutoModelForSeq2SeqLM.from_pretrained(export)
    assert policy.config.d_model == 16
