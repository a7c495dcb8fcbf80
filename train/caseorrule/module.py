"""The Case-or-Rule causal LM as a LightningModule, and the DataModule of one split.

Training is next-token cross-entropy on the encoded examples (`lm.encode_example`). Validation runs on
the split's test side (for a leave-square-out split, the held-out squares) and reports the loss and the
share of test answers whose every target token is the argmax under teacher forcing: exactly the answers
greedy decoding gets right. Batches come from the project's resumable sampler (train/data.py), so a
resumed run sees the batches the uninterrupted run would have seen.
"""

from __future__ import annotations

import dataclasses

import lightning as L
import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import Dataset

from train.caseorrule.config import CausalLMConfig
from train.caseorrule.lm import IGNORE, build_lm, load_tokenizer
from train.config import TrainConfig, train_config_from_dict
from train.data import DataError, Index, _SamplerDataModule, pad_batch
from train.module import lr_lambda


class CausalLMModule(L.LightningModule):
    def __init__(self, model_config: dict, train_config: dict) -> None:
        """Plain dicts, so that a checkpoint's `hyper_parameters` rebuild the module with no pickled classes."""
        super().__init__()
        self.save_hyperparameters()
        self.model_config = CausalLMConfig(**model_config)
        self.cfg: TrainConfig = train_config_from_dict(train_config)
        self.tokenizer = load_tokenizer(self.model_config)
        self.lm = build_lm(self.model_config, self.tokenizer)
        if self.cfg.gradient_checkpointing:
            self.lm.gradient_checkpointing_enable()
            self.lm.config.use_cache = False

    @classmethod
    def create(cls, model_config: CausalLMConfig, cfg: TrainConfig) -> CausalLMModule:
        return cls(dataclasses.asdict(model_config), dataclasses.asdict(cfg))

    def _losses(self, batch: dict) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        logits = self.lm(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits[:, :-1]
        labels = batch["labels"][:, 1:]
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]).float(), labels.reshape(-1), ignore_index=IGNORE)
        return loss, logits, labels

    def training_step(self, batch: dict, batch_idx: int) -> dict:
        loss, _, labels = self._losses(batch)
        self.log("train/loss", loss, on_step=True, on_epoch=False, prog_bar=True, batch_size=labels.shape[0])
        return {"loss": loss, "tokens": batch["attention_mask"].sum().detach()}

    def validation_step(self, batch: dict, batch_idx: int) -> None:
        loss, logits, labels = self._losses(batch)
        mask = labels != IGNORE
        exact = ((logits.argmax(-1) == labels) | ~mask).all(-1) & mask.any(-1)
        n = int(mask.any(-1).sum())
        log = {"on_step": False, "on_epoch": True, "sync_dist": True}
        self.log("val/loss", loss, batch_size=n, **log)
        self.log("val/answer_acc", exact.sum() / max(1, n), batch_size=n, **log)

    def configure_optimizers(self):
        o = self.cfg.optim
        decay = [p for p in self.lm.parameters() if p.requires_grad and p.ndim >= 2]
        no_decay = [p for p in self.lm.parameters() if p.requires_grad and p.ndim < 2]
        groups = [{"params": decay, "weight_decay": o.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
        if self.cfg.strategy.endswith("_offload"):
            from deepspeed.ops.adam import DeepSpeedCPUAdam  # optimizer states live on the CPU

            optimizer = DeepSpeedCPUAdam(groups, lr=o.lr, betas=(o.beta1, o.beta2))
        else:
            optimizer = torch.optim.AdamW(groups, lr=o.lr, betas=(o.beta1, o.beta2))
        schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_lambda(self.cfg))
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": schedule, "interval": "step"}}


class EncodedExamples(Dataset):
    """Pre-encoded (input ids, labels) rows, padded per batch."""

    def __init__(self, rows: list[tuple[np.ndarray, np.ndarray]], pad_id: int) -> None:
        self.rows, self.pad_id = rows, pad_id
        self.lengths = np.array([len(ids) for ids, _ in rows])

    def __len__(self) -> int:
        return len(self.rows)

    def __getitems__(self, keys: list[Index]) -> dict[str, torch.Tensor]:
        rows = [self.rows[i] for _, i in keys]
        input_ids = pad_batch([ids for ids, _ in rows], self.pad_id)
        mask = pad_batch([np.ones(len(ids)) for ids, _ in rows], 0)
        return {"input_ids": input_ids, "attention_mask": mask, "labels": pad_batch([lab for _, lab in rows], IGNORE)}

    def __getitem__(self, key: Index) -> dict[str, torch.Tensor]:
        return self.__getitems__([key])


class SplitDataModule(_SamplerDataModule):
    """Train on one split's train side; validate on its test side."""

    def __init__(self, cfg: TrainConfig, train_rows: list, val_rows: list, pad_id: int) -> None:
        super().__init__(cfg, None)
        if len(train_rows) < cfg.data.batch_size:
            raise DataError(f"{len(train_rows)} training examples cannot fill one batch of data.batch_size={cfg.data.batch_size}")
        self.train_set = EncodedExamples(train_rows, pad_id)
        self.val_set = EncodedExamples(val_rows, pad_id) if val_rows else None

    def describe(self) -> dict:
        return {"train_examples": len(self.train_set), "val_examples": len(self.val_set) if self.val_set else 0}
