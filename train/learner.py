"""The RL learner: the SFT LightningModule (same loss) on batches of replay mixed with SFT rows, and
the checkpoints it publishes for the actors.

Each micro-batch holds round(`sft_fraction` x batch) SFT rows and replay transitions for the rest,
drawn uniformly with replacement by a generator seeded by (seed, rank, micro-batch index): the stream
restarts where a resumed learner stopped, whatever the replay held. `learn` runs the ordinary
`train.trainer.train` up to a step (resuming from the learner's last checkpoint), so the strategies
are SFT's: DDP (gloo) on CPU, DeepSpeed ZeRO-2/3 on GPUs. `publish` exports a Hugging Face model under
`published/step_N` and then points `published/LATEST` at it (atomically): actors load what LATEST
names, so they never see half an export.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset, Sampler

from model.config import ProofNetConfig
from train.config import TrainConfig
from train.data import DataError, StateTacticDataset, _identity, _SamplerDataModule

log = logging.getLogger(__name__)

SFT, REPLAY = 0, 1
LATEST = "LATEST"


class MixedDataset(Dataset):
    """Keys are (source, index): source 0 the SFT split's rows, source 1 the replay's transitions."""

    def __init__(self, sft: StateTacticDataset | None, replay: list[dict], config: ProofNetConfig) -> None:
        self.sft, self.replay = sft, replay
        self.encoder = sft if sft is not None else _Encoder(config)

    def __len__(self) -> int:
        return (len(self.sft) if self.sft is not None else 0) + len(self.replay)

    def __getitems__(self, keys: list[tuple[int, int]]) -> dict[str, torch.Tensor]:
        states, tactics, values = [], [], []
        sft_idx = [i for s, i in keys if s == SFT]
        if sft_idx:
            rows = self.sft.split[sft_idx]
            states += rows["state"]
            tactics += rows["tactic"]
            values += rows["value_target"]
        for s, i in keys:
            if s == REPLAY:
                r = self.replay[i]
                states.append(r["state"])
                tactics.append(r["tactic"])
                values.append(r["value_target"])
        return self.encoder.collate(states, tactics, values)


class _Encoder(StateTacticDataset):
    """The SFT dataset's batch encoding without an SFT split (`sft_fraction=0`)."""

    def __init__(self, config: ProofNetConfig) -> None:  # noqa: D107 -- no split to select from
        self.tok = config.tokenizer()
        self.max_state, self.max_tactic = config.max_state_length, config.max_tactic_length


class MixedBatchSampler(Sampler[list[tuple[int, int]]]):
    def __init__(self, n_sft: int, n_replay: int, batch_size: int, sft_fraction: float, *, seed: int,
                 rank: int = 0, start: int = 0) -> None:
        if n_replay == 0 and n_sft == 0:
            raise DataError("nothing to learn from: the replay buffer is empty and there is no SFT data")
        self.n_sft, self.n_replay, self.batch_size = n_sft, n_replay, batch_size
        k = int(round(batch_size * sft_fraction)) if n_sft else 0
        if sft_fraction > 0 and n_sft and k == 0:
            k = 1  # a fraction too small for the batch still puts one SFT row in
        self.k_sft = batch_size if n_replay == 0 else min(k, batch_size)
        self.seed, self.rank, self.start = seed, rank, start

    def __iter__(self) -> Iterator[list[tuple[int, int]]]:
        b = self.start
        while True:
            rng = np.random.default_rng([self.seed, self.rank, b])
            sft = rng.integers(self.n_sft, size=self.k_sft) if self.k_sft else []
            rep = rng.integers(self.n_replay, size=self.batch_size - self.k_sft) if self.n_replay else []
            yield [(SFT, int(i)) for i in sft] + [(REPLAY, int(i)) for i in rep]
            b += 1


class RLDataModule(_SamplerDataModule):
    def setup(self, stage: str | None = None) -> None:
        if self.train_set is not None:
            return
        from train.replay import ReplayBuffer

        d = self.cfg.data
        if not d.replay:
            raise DataError("stage rl needs data.replay (the RL run's replay.jsonl)")
        replay = ReplayBuffer(Path(d.replay)).transitions()
        sft = val = None
        if d.path and d.sft_fraction > 0:
            from data.dataset import load_scheme

            path = Path(d.path)
            if not (path / d.scheme).is_dir():
                raise DataError(f"data.path={path}: no {d.scheme}/ dataset there (the SFT rows RL batches mix in)")
            splits = load_scheme(path, d.scheme)
            sft = StateTacticDataset(splits["train"], self.model_config) if len(splits.get("train", [])) else None
            val = StateTacticDataset(splits["val"], self.model_config) if "val" in splits else None
        elif d.sft_fraction > 0:
            raise DataError("data.sft_fraction > 0 needs data.path (the SFT dataset); set data.sft_fraction=0 for replay only")
        self.train_set = MixedDataset(sft, replay, self.model_config)
        self.val_set = val  # validation: the SFT val split (what RL should not forget)
        self.replay_size = len(replay)

    def train_dataloader(self):
        from torch.utils.data import DataLoader

        rank, _ = self._rank_world()
        start = self.trainer.global_step * self.cfg.accumulate_grad_batches if self.trainer else 0
        ts = self.train_set
        sampler = MixedBatchSampler(len(ts.sft) if ts.sft is not None else 0, len(ts.replay),
                                    self.cfg.data.batch_size, self.cfg.data.sft_fraction,
                                    seed=self.cfg.seed, rank=rank, start=start)
        return DataLoader(ts, batch_sampler=sampler, collate_fn=_identity, num_workers=0)

    def describe(self) -> dict:
        ts = self.train_set
        return {"kind": "RL replay mixed with SFT rows", "replay": str(Path(self.cfg.data.replay).resolve()),
                "replay_transitions": len(ts.replay) if ts is not None else 0,
                "sft_path": str(Path(self.cfg.data.path).resolve()) if self.cfg.data.path else "",
                "sft_fraction": self.cfg.data.sft_fraction}


def learn(cfg: TrainConfig, to_step: int) -> dict:
    """Train the learner (resuming from its run dir) until optimizer step `to_step`; the summary."""
    from train.trainer import train

    cfg = dataclasses.replace(cfg, stage="rl", max_steps=to_step)
    with warnings.catch_warnings():
        for message in QUIET:
            warnings.filterwarnings("ignore", message=message)
        summary = train(cfg)
    return summary or {}


# Lightning's warnings that every resumed learner launch would print and that say nothing here.
QUIET = (r"Checkpoint directory .* exists and is not empty", r".*isinstance\(treespec, LeafSpec\)",
         r"There is a wandb run already in progress")


def publish(run_dir: Path, checkpoint: Path, step: int, info: dict) -> Path:
    """Export `checkpoint` as `published/step_N` (a Hugging Face model), then move LATEST to it."""
    from model.export import save_pretrained
    from train.checkpoint import load_checkpoint

    out = run_dir / "published" / f"step_{step:08d}"
    loaded = load_checkpoint(checkpoint)
    save_pretrained(loaded.model, out, training_info={"stage": "rl", "learner_step": step, **info})
    tmp = run_dir / "published" / f".{LATEST}.tmp"
    tmp.write_text(json.dumps({"step": step, "path": out.name}) + "\n")
    os.replace(tmp, run_dir / "published" / LATEST)
    log.info("published learner step %d: %s", step, out)
    return out


def latest(run_dir: Path) -> tuple[int, Path] | None:
    """The newest published checkpoint (step, export dir), or None before the first publish."""
    pointer = run_dir / "published" / LATEST
    try:
        d = json.loads(pointer.read_text())
        path = run_dir / "published" / str(d["path"])
        return int(d["step"]), path
    except (OSError, ValueError, KeyError, TypeError):
        return None
