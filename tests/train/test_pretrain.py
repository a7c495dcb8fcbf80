"""Pretraining on a packed corpus (span corruption + next-token), then SFT started from it."""

import json
import subprocess

import pytest
import torch

from tests.conftest import requires_coq
from tests.train.conftest import FAST, metrics, run_cli

pytestmark = [pytest.mark.slow, requires_coq]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    coqlib = subprocess.run(["coqc", "-where"], capture_output=True, text=True, check=True).stdout.strip()
    out = tmp_path_factory.mktemp("corpus") / "corpus"
    run_cli("corpus", f"stdlib:{coqlib}/theories/Bool", f"stdlib:{coqlib}/theories/Arith", "--out", str(out),
            "seq_len=256")
    assert json.loads((out / "corpus.json").read_text())["splits"]["val"]["sequences"] > 4
    return out


@pytest.mark.parametrize("objective", ["span_corruption", "next_token"])
def test_pretraining_loss_falls_for_each_objective(corpus, tmp_path, objective):
    run_dir = tmp_path / objective
    run_cli("train", "pretrain", f"data.path={corpus}", f"run_dir={run_dir}", f"data.objective={objective}",
            "wandb.enabled=false", "progress=false", "log_every_n_steps=1", "max_steps=12", "data.batch_size=4",
            "data.val_batches=1", "val_every_n_steps=12", "optim.lr=3e-3", "optim.warmup_steps=2")
    rows = metrics(run_dir)
    train = [r["loss"] for r in rows if r["kind"] == "train"]
    val = [r for r in rows if r["kind"] == "val"]
    assert len(train) == 12 and train[-1] < 0.7 * train[0]
    assert val[-1]["loss"] < val[0]["loss"] and "tactic_acc" not in val[-1]


def test_sft_starts_from_the_pretrained_weights(corpus, traced_dataset, tmp_path):
    from train.checkpoint import load_checkpoint

    pre = tmp_path / "pre"
    run_cli("train", "pretrain", f"data.path={corpus}", f"run_dir={pre}", "wandb.enabled=false", "progress=false",
            "max_steps=2", "data.batch_size=2", "data.val_batches=0")
    sft = tmp_path / "sft"
    run_cli("train", "sft", f"data.path={traced_dataset}", f"run_dir={sft}", f"init_from={pre}/checkpoints/last.ckpt",
            *FAST, "max_steps=1", "data.batch_size=2", "data.val_batches=0", "optim.lr=1e-12", "optim.warmup_steps=0",
            "optim.grad_clip=0")
    before = load_checkpoint(pre / "checkpoints" / "last.ckpt").model.state_dict()
    after = load_checkpoint(sft / "checkpoints" / "last.ckpt").model.state_dict()
    encoder = [k for k in before if "encoder" in k]
    assert encoder and all(torch.allclose(before[k], after[k], atol=1e-6) for k in encoder)
