"""DataModules for SFT (state -> tactic + value) and pretraining (packed corpus sequences).

Batches come from `ResumableBatchSampler`: an endless, seeded stream of index batches, sharded across
ranks, that starts at any micro-batch. On resume the trainer starts it at the micro-batch the
checkpoint had reached, so a resumed run sees exactly the batches the uninterrupted run would have
seen (the test reproduces the losses). Example randomness (pretraining masks) is seeded by
(seed, epoch, index): never by worker or process state.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Iterator
from pathlib import Path

import lightning as L
import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from model.config import ProofNetConfig
from train.config import TrainConfig
from train.objectives import IGNORE, pretrain_example

log = logging.getLogger(__name__)

Index = tuple[int, int]  # (epoch, example index)


class DataError(ValueError):
    """The configured data is missing or unusable (reported as a user error)."""


class ResumableBatchSampler(Sampler[list[Index]]):
    """Batches of (epoch, index): epoch e visits a permutation seeded by (seed, e) (or 0..n-1 in order),
    cut into global batches of `batch_size * world_size`, of which rank r takes its slice. The last,
    short global batch of an epoch is dropped so every rank steps together. `start` skips micro-batches."""

    def __init__(self, n: int, batch_size: int, *, seed: int, rank: int = 0, world_size: int = 1,
                 shuffle: bool = True, endless: bool = True, start: int = 0,
                 lengths: np.ndarray | None = None, bucket_batches: int = 64) -> None:
        if n < batch_size * world_size and endless:
            raise DataError(f"{n} examples cannot fill one global batch of {batch_size} x {world_size} ranks")
        self.n, self.batch_size, self.seed = n, batch_size, seed
        self.rank, self.world_size = rank, world_size
        self.shuffle, self.endless, self.start = shuffle, endless, start
        self.lengths, self.bucket_batches = lengths, bucket_batches

    @property
    def batches_per_epoch(self) -> int:
        if self.endless:
            return self.n // (self.batch_size * self.world_size)
        return math.ceil(self.n / (self.batch_size * self.world_size))

    def __iter__(self) -> Iterator[list[Index]]:
        per_epoch = self.batches_per_epoch
        epoch, b = divmod(self.start, per_epoch) if per_epoch else (0, 0)
        while self.endless or epoch == 0:
            order = self._order(epoch)
            for i in range(b, per_epoch):
                lo = (i * self.world_size + self.rank) * self.batch_size
                idx = order[lo : lo + self.batch_size]
                if not len(idx):  # a finite pass whose last global batch misses this rank: every rank
                    idx = order[-1:]  # must take the same number of batches, so repeat one example
                yield [(epoch, int(j)) for j in idx]
            epoch, b = epoch + 1, 0

    def __len__(self) -> int:
        if self.endless:
            raise TypeError("an endless sampler has no length")
        return self.batches_per_epoch

    def _order(self, epoch: int) -> np.ndarray:
        """The epoch's example order. With `lengths`, examples of similar length are batched together
        (sorted within windows of `bucket_batches` global batches, the batches then shuffled), so
        little of a batch is padding; still a pure function of (seed, epoch)."""
        if not self.shuffle:
            return np.arange(self.n)
        rng = np.random.default_rng([self.seed, epoch])
        order = rng.permutation(self.n)
        if self.lengths is None:
            return order
        global_batch = self.batch_size * self.world_size
        window = global_batch * self.bucket_batches
        out = []
        for lo in range(0, self.n, window):
            chunk = order[lo : lo + window]
            chunk = chunk[np.argsort(self.lengths[chunk], kind="stable")]
            batches = [chunk[i : i + global_batch] for i in range(0, len(chunk), global_batch)]
            full = [b for b in batches if len(b) == global_batch]
            out += [full[i] for i in rng.permutation(len(full))] + [b for b in batches if len(b) < global_batch]
        return np.concatenate(out)


def pad_batch(rows: list[np.ndarray], pad: int) -> torch.Tensor:
    width = max(1, max(len(r) for r in rows))
    out = torch.full((len(rows), width), pad, dtype=torch.long)
    for i, r in enumerate(rows):
        out[i, : len(r)] = torch.as_tensor(r, dtype=torch.long)
    return out


# --- SFT --------------------------------------------------------------------------------------


class StateTacticDataset(Dataset):
    """Rows of a state-tactic split, tokenized per batch (so nothing is tokenized twice or held).

    States are cut to max_state_length - 1 bytes then eos, exactly as `ProofNetInference` cuts them.
    A tactic longer than max_tactic_length - 1 bytes is not trained on as a policy target (its labels
    are all IGNORE): a truncated tactic without eos would teach the model to emit half a tactic.
    """

    def __init__(self, split, config: ProofNetConfig) -> None:
        self.split = split.select_columns(["state", "tactic", "value_target"])
        self.tok = config.tokenizer()
        self.max_state, self.max_tactic = config.max_state_length, config.max_tactic_length
        self._lengths: np.ndarray | None = None

    @property
    def lengths(self) -> np.ndarray:
        """Each row's encoder length (state bytes, capped): what length-bucketed batching sorts by."""
        if self._lengths is None:
            import pyarrow.compute as pc

            if self.split._indices is None:  # rows are the table's rows: read the lengths off Arrow
                raw = pc.binary_length(self.split.data.column("state")).to_numpy(zero_copy_only=False)
            else:
                raw = np.array([len(s.encode()) for s in self.split["state"]])
            self._lengths = np.minimum(raw, self.max_state)
        return self._lengths

    def __len__(self) -> int:
        return len(self.split)

    def __getitems__(self, keys: list[Index]) -> dict[str, torch.Tensor]:
        rows = self.split[[i for _, i in keys]]
        return self.collate(rows["state"], rows["tactic"], rows["value_target"])

    def collate(self, states_text: list[str], tactics_text: list[str], value_targets: list) -> dict[str, torch.Tensor]:
        tok = self.tok
        states = [np.append(tok.encode_array(s)[: self.max_state - 1], tok.eos_id) for s in states_text]
        tactics = [tok.encode_array(t, add_eos=True) for t in tactics_text]
        too_long = [len(t) > self.max_tactic for t in tactics]
        labels = pad_batch([t[:1] if long else t for t, long in zip(tactics, too_long)], IGNORE)
        labels[torch.tensor(too_long, dtype=torch.bool)] = IGNORE
        input_ids = pad_batch(states, tok.pad_id)
        values = [math.nan if v is None else float(v) for v in value_targets]
        return {
            "input_ids": input_ids,
            "attention_mask": (input_ids != tok.pad_id).long(),
            "labels": labels,
            "value_targets": torch.tensor(values, dtype=torch.float32),
        }

    def __getitem__(self, key: Index) -> dict[str, torch.Tensor]:
        return self.__getitems__([key])


def _identity(batch):
    return batch


class _SamplerDataModule(L.LightningDataModule):
    """Shared plumbing: rank-sharded resumable samplers over `self.train_set` / `self.val_set`."""

    def __init__(self, cfg: TrainConfig, model_config: ProofNetConfig) -> None:
        super().__init__()
        self.cfg, self.model_config = cfg, model_config
        self.train_set: Dataset | None = None
        self.val_set: Dataset | None = None

    def _rank_world(self) -> tuple[int, int]:
        trainer = self.trainer
        return (trainer.global_rank, trainer.world_size) if trainer is not None else (0, 1)

    def train_dataloader(self) -> DataLoader:
        rank, world = self._rank_world()
        start = self.trainer.global_step * self.cfg.accumulate_grad_batches if self.trainer else 0
        sampler = ResumableBatchSampler(len(self.train_set), self.cfg.data.batch_size, seed=self.cfg.seed,
                                        rank=rank, world_size=world, start=start,
                                        lengths=getattr(self.train_set, "lengths", None))
        if start:
            log.info("resuming the data stream at micro-batch %d (step %d)", start, self.trainer.global_step)
        return self._loader(self.train_set, sampler)

    def val_dataloader(self) -> DataLoader | list:
        if self.val_set is None or len(self.val_set) == 0 or self.cfg.data.val_batches == 0:
            return []
        rank, world = self._rank_world()
        sampler = ResumableBatchSampler(len(self.val_set), self.cfg.data.batch_size, seed=self.cfg.seed,
                                        rank=rank, world_size=world, shuffle=False, endless=False)
        return self._loader(self.val_set, sampler)

    def _loader(self, dataset: Dataset, sampler: Sampler) -> DataLoader:
        workers = self.cfg.data.num_workers
        return DataLoader(dataset, batch_sampler=sampler, collate_fn=_identity, num_workers=workers,
                          persistent_workers=workers > 0)


class SFTDataModule(_SamplerDataModule):
    """The train and val splits of a `proofzero dataset` output (one split scheme)."""

    def setup(self, stage: str | None = None) -> None:
        if self.train_set is not None:
            return
        from data.dataset import load_scheme

        path = Path(self.cfg.data.path)
        if not (path / self.cfg.data.scheme).is_dir():
            raise DataError(f"data.path={path}: no {self.cfg.data.scheme}/ dataset there (build one with `proofzero dataset`)")
        try:
            splits = load_scheme(path, self.cfg.data.scheme)
        except (ValueError, FileNotFoundError) as e:
            raise DataError(f"data.path={path}: {e}") from None
        if "train" not in splits or len(splits["train"]) == 0:
            raise DataError(f"data.path={path}: the {self.cfg.data.scheme} train split is empty")
        self.train_set = StateTacticDataset(splits["train"], self.model_config)
        self.val_set = StateTacticDataset(splits["val"], self.model_config) if "val" in splits else None

    def describe(self) -> dict:
        """What the model card says about the data."""
        summary = Path(self.cfg.data.path) / "summary.json"
        info = {"kind": "state-tactic pairs", "path": str(Path(self.cfg.data.path).resolve()),
                "scheme": self.cfg.data.scheme}
        if self.train_set is not None:
            info["train_pairs"] = len(self.train_set)
            info["val_pairs"] = len(self.val_set) if self.val_set is not None else 0
        if summary.is_file():
            info["dataset_summary"] = json.loads(summary.read_text(encoding="utf-8")).get("splits")
        return info


# --- pretraining ------------------------------------------------------------------------------


class PackedCorpusDataset(Dataset):
    """The packed sequences of one corpus split (memory-mapped shards), turned into examples of the
    configured objective; each example's randomness is seeded by (seed, epoch, index)."""

    def __init__(self, shards: list[np.ndarray], cfg: TrainConfig, config: ProofNetConfig) -> None:
        self.shards = shards
        self.offsets = np.cumsum([0] + [len(s) for s in shards])
        self.cfg, self.tok = cfg, config.tokenizer()
        self.max_input, self.max_target = config.max_state_length, config.max_tactic_length

    def __len__(self) -> int:
        return int(self.offsets[-1])

    def sequence(self, i: int) -> np.ndarray:
        shard = int(np.searchsorted(self.offsets, i, side="right") - 1)
        return np.asarray(self.shards[shard][i - self.offsets[shard]])

    def __getitems__(self, keys: list[Index]) -> dict[str, torch.Tensor]:
        d = self.cfg.data
        inputs, labels = [], []
        for epoch, i in keys:
            rng = np.random.default_rng([self.cfg.seed, epoch, i])
            ex = pretrain_example(self.sequence(i), rng, self.tok, objective=d.objective,
                                  max_input=self.max_input, max_target=self.max_target,
                                  next_token_fraction=d.next_token_fraction, noise_density=d.noise_density,
                                  mean_span_length=d.mean_span_length)
            if ex is None:  # an all-pad sequence: nothing to learn, contributes no loss
                ex = (np.array([self.tok.eos_id]), np.array([IGNORE]))
            inputs.append(ex[0])
            labels.append(ex[1])
        input_ids = pad_batch(inputs, self.tok.pad_id)
        return {"input_ids": input_ids, "attention_mask": (input_ids != self.tok.pad_id).long(),
                "labels": pad_batch(labels, IGNORE)}

    def __getitem__(self, key: Index) -> dict[str, torch.Tensor]:
        return self.__getitems__([key])


class PretrainDataModule(_SamplerDataModule):
    """The train and val splits of a `proofzero corpus` output."""

    def setup(self, stage: str | None = None) -> None:
        if self.train_set is not None:
            return
        from data.corpus import MANIFEST, load_corpus_split

        path = Path(self.cfg.data.path)
        if not (path / MANIFEST).is_file():
            raise DataError(f"data.path={path}: no {MANIFEST} there (build a corpus with `proofzero corpus`)")
        try:
            manifest = json.loads((path / MANIFEST).read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
            raise DataError(f"data.path={path}: {MANIFEST} is not readable JSON ({e})") from None
        if not isinstance(manifest, dict):
            raise DataError(f"data.path={path}: {MANIFEST} is not a corpus manifest")
        tok = manifest.get("tokenizer", {})
        if tok and tok.get("vocab_size") != self.model_config.vocab_size:
            raise DataError(f"data.path={path}: corpus vocabulary {tok.get('vocab_size')} != model's {self.model_config.vocab_size}")
        self.train_set = PackedCorpusDataset(load_corpus_split(path, "train"), self.cfg, self.model_config)
        if len(self.train_set) == 0:
            raise DataError(f"data.path={path}: the corpus train split is empty")
        self.val_set = PackedCorpusDataset(load_corpus_split(path, "val"), self.cfg, self.model_config)

    def describe(self) -> dict:
        info = {"kind": "packed byte corpus", "path": str(Path(self.cfg.data.path).resolve()),
                "objective": self.cfg.data.objective}
        if self.train_set is not None:
            info["train_sequences"] = len(self.train_set)
        return info


def make_datamodule(cfg: TrainConfig, model_config: ProofNetConfig) -> _SamplerDataModule:
    if cfg.stage == "rl":
        from train.learner import RLDataModule

        return RLDataModule(cfg, model_config)
    return (SFTDataModule if cfg.stage == "sft" else PretrainDataModule)(cfg, model_config)
