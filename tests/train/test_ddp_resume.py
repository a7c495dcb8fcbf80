"""Two-process DDP on CPU (gloo), checkpoints, and resume that continues the same curve."""

import pytest
import torch

from tests.train.conftest import FAST, metrics, run_cli, train_losses

pytestmark = pytest.mark.slow

DDP = ["devices=2", "strategy=ddp", "data.batch_size=4", "data.val_batches=2", "val_every_n_steps=4",
       "checkpoint_every_n_steps=2", "keep_checkpoints=10", "optim.warmup_steps=2", "max_steps=8"]


@pytest.fixture(scope="module")
def uninterrupted(traced_dataset, tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("ddp") / "full"
    run_cli("train", "sft", f"data.path={traced_dataset}", f"run_dir={run_dir}", *FAST, *DDP)
    return run_dir


def test_two_process_ddp_trains_and_checkpoints(uninterrupted):
    losses = train_losses(uninterrupted)
    assert sorted(losses) == list(range(1, 9))
    assert losses[8] < losses[1]
    ckpts = sorted(p.name for p in (uninterrupted / "checkpoints").iterdir())
    assert ckpts == ["last.ckpt"] + [f"step{s:08d}.ckpt" for s in (2, 4, 6, 8)]
    state = torch.load(uninterrupted / "checkpoints" / "step00000004.ckpt", map_location="cpu", weights_only=False)
    assert state["global_step"] == 4


def test_resuming_a_mid_run_checkpoint_reproduces_the_next_losses(uninterrupted, traced_dataset, tmp_path):
    resumed = tmp_path / "resumed"
    ckpt = uninterrupted / "checkpoints" / "step00000004.ckpt"
    run_cli("train", "sft", f"data.path={traced_dataset}", f"run_dir={resumed}", f"resume={ckpt}", *FAST, *DDP)
    full, again = train_losses(uninterrupted), train_losses(resumed)
    assert sorted(again) == [5, 6, 7, 8]  # starts after the checkpoint's step
    for step in again:  # same batches, same ranks, same optimizer and schedule state
        assert again[step] == pytest.approx(full[step], rel=1e-5, abs=1e-6), step
    val_full = [r for r in metrics(uninterrupted) if r["kind"] == "val" and r["step"] == 8]
    val_again = [r for r in metrics(resumed) if r["kind"] == "val" and r["step"] == 8]
    assert val_again[0]["loss"] == pytest.approx(val_full[0]["loss"], rel=1e-5)


def test_a_killed_run_resumes_from_its_run_directory(traced_dataset, tmp_path):
    """Automatic resume: the same command again picks up RUN_DIR's last checkpoint, and the curve
    (metrics.jsonl) reads as one run, each step once."""
    run_dir = tmp_path / "auto"
    common = ["train", "sft", f"data.path={traced_dataset}", f"run_dir={run_dir}", *FAST,
              "data.batch_size=4", "data.val_batches=1", "val_every_n_steps=3", "checkpoint_every_n_steps=3",
              "optim.warmup_steps=1"]
    run_cli(*common, "max_steps=3")
    # Simulate work lost after the checkpoint: rows past step 3 that a crash left behind.
    with (run_dir / "metrics.jsonl").open("a") as f:
        f.write('{"kind": "train", "step": 4, "loss": 123.0}\n{"kind": "train", "step": 5, "lo')
    proc = run_cli(*common, "max_steps=6")
    assert "resuming from" in proc.stderr
    losses = train_losses(run_dir)
    assert sorted(losses) == list(range(1, 7)) and losses[4] != 123.0
