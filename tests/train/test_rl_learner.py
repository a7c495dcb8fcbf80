"""The RL learner: mixed batches, the Lightning run it resumes, and the checkpoints it publishes."""

from __future__ import annotations

import dataclasses
import json

import pytest

from data.records import TracedTactic, TracedTheorem
from train.learner import REPLAY, SFT, MixedBatchSampler, latest, learn, publish
from train.replay import ReplayBuffer


def test_every_batch_mixes_the_configured_share_of_sft_rows():
    s = MixedBatchSampler(100, 50, batch_size=20, sft_fraction=0.1, seed=0)
    it = iter(s)
    for _ in range(20):
        batch = next(it)
        assert len(batch) == 20
        assert sum(src == SFT for src, _ in batch) == 2
        assert all(0 <= i < (100 if src == SFT else 50) for src, i in batch)
    assert sum(src == SFT for src, _ in next(iter(MixedBatchSampler(100, 50, 16, 0.01, seed=0)))) == 1
    assert all(src == REPLAY for src, _ in next(iter(MixedBatchSampler(0, 50, 16, 0.1, seed=0))))
    assert all(src == SFT for src, _ in next(iter(MixedBatchSampler(100, 0, 16, 0.1, seed=0))))


def test_the_stream_restarts_where_a_resumed_learner_stopped():
    full = iter(MixedBatchSampler(100, 50, 8, 0.25, seed=3))
    batches = [next(full) for _ in range(7)]
    resumed = iter(MixedBatchSampler(100, 50, 8, 0.25, seed=3, start=4))
    assert [next(resumed) for _ in range(3)] == batches[4:]


def _replay(path, n=40):
    buf = ReplayBuffer(path)
    for i in range(n):
        tactics = (TracedTactic("intros n.", f"n : nat\n|- n + {i} = {i} + n", "", value_target=-2),
                   TracedTactic("lia.", f"n : nat\n============================\nn + {i} = {i} + n", "", value_target=-1))
        buf.add(f"g{i}", f"p{i}", "prove", TracedTheorem(f"p{i}", "", (0, 0), (0, 0), tactics, kind="search"))
    return buf


@pytest.mark.slow
def test_learn_resumes_and_publishes_loadable_exports(traced_dataset, tmp_path):
    from model.export import load_pretrained
    from train.config import DataConfig, TrainConfig, WandbConfig

    _replay(tmp_path / "replay.jsonl")
    cfg = TrainConfig(stage="rl", run_dir=str(tmp_path / "learner"), model="tiny",
                      model_overrides={"max_state_length": 128}, progress=False, log_every_n_steps=1,
                      wandb=WandbConfig(enabled=False), checkpoint_every_n_steps=100, val_every_n_steps=100,
                      data=DataConfig(path=str(traced_dataset), scheme="random", batch_size=8, val_batches=2,
                                      replay=str(tmp_path / "replay.jsonl"), sft_fraction=0.25))
    s = learn(cfg, 4)
    assert s["steps"] == 4 and s["data"]["replay_transitions"] == 80 and s["data"]["sft_fraction"] == 0.25
    rows = [json.loads(x) for x in (tmp_path / "learner" / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows if r["kind"] == "train"] == [1, 2, 3, 4]
    assert all(r["value_loss"] > 0 for r in rows if r["kind"] == "train")  # replay carries value targets
    ckpt = tmp_path / "learner" / "checkpoints" / "last.ckpt"
    assert latest(tmp_path) is None
    out = publish(tmp_path, ckpt, 4, {"round": 1})
    assert latest(tmp_path) == (4, out)
    first = load_pretrained(out)

    _replay(tmp_path / "replay.jsonl", 60)  # more replay arrived; the learner resumes at step 4
    s = learn(dataclasses.replace(cfg), 6)
    assert s["steps"] == 6 and s["data"]["replay_transitions"] == 120
    steps = [json.loads(x)["step"] for x in (tmp_path / "learner" / "metrics.jsonl").read_text().splitlines()
             if json.loads(x)["kind"] == "train"]
    assert steps == [1, 2, 3, 4, 5, 6]
    out2 = publish(tmp_path, ckpt, 6, {"round": 2})
    assert latest(tmp_path) == (6, out2) and out.is_dir()  # the older export stays for games in flight
    second = load_pretrained(out2)
    diff = sum(float((a - b).detach().abs().sum()) for a, b in zip(first.parameters(), second.parameters()))
    assert diff > 0  # the published weights are the learner's newest


def test_an_empty_replay_without_sft_data_is_a_clear_error(tmp_path):
    from train.data import DataError

    with pytest.raises(DataError, match="nothing to learn from"):
        MixedBatchSampler(0, 0, 8, 0.1, seed=0)
