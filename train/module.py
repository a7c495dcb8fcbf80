"""ProofNetModule: the proof network as a LightningModule, for pretraining, SFT and the RL learner.

Pretraining trains the policy (encoder-decoder) alone: the value head is frozen, so DDP sees no unused
parameters. SFT and RL train both heads: tactic cross-entropy + value_weight * value cross-entropy
(RL on replay transitions mixed with SFT rows: train/learner.py).
Validation reports the losses, token accuracy, and tactic accuracy: the share of tactics whose every
token (eos included) is the argmax under teacher forcing -- exactly the tactics greedy decoding returns.
"""

from __future__ import annotations

import dataclasses
import math

import lightning as L
import torch

from model.config import ProofNetConfig
from model.proofnet import IGNORE, ProofNet
from train.config import TrainConfig, train_config_from_dict

NO_DECAY = ("bias", "layer_norm.weight", "final_layer_norm.weight")


class ProofNetModule(L.LightningModule):
    def __init__(self, model_config: dict, train_config: dict) -> None:
        """Plain dicts, so that a checkpoint's `hyper_parameters` rebuild the module with no pickled classes."""
        super().__init__()
        self.save_hyperparameters()
        self.model_config = ProofNetConfig(**model_config)
        self.cfg: TrainConfig = train_config_from_dict(train_config)
        self.net = ProofNet(self.model_config)
        if self.cfg.stage == "pretrain":
            self.net.value_head.requires_grad_(False)
        if self.cfg.gradient_checkpointing:
            self.net.t5.gradient_checkpointing_enable()
            self.net.t5.config.use_cache = False

    @classmethod
    def create(cls, model_config: ProofNetConfig, cfg: TrainConfig) -> ProofNetModule:
        return cls(dataclasses.asdict(model_config), dataclasses.asdict(cfg))

    def _step(self, batch: dict) -> tuple[dict, torch.Tensor]:
        values = batch.get("value_targets") if self.cfg.stage != "pretrain" else None
        out = self.net(batch["input_ids"], batch["attention_mask"], batch["labels"], values)
        losses = {"loss": out.loss, "policy_loss": out.policy_loss}
        if out.value_loss is not None:
            losses["value_loss"] = out.value_loss
        return losses, out.logits

    def training_step(self, batch: dict, batch_idx: int) -> dict:
        losses, _ = self._step(batch)
        n = batch["input_ids"].shape[0]
        for name, value in losses.items():
            self.log(f"train/{name}", value, on_step=True, on_epoch=False, prog_bar=name == "loss", batch_size=n)
        tokens = batch["attention_mask"].sum() + (batch["labels"] != IGNORE).sum()
        return {**losses, "tokens": tokens.detach()}

    def validation_step(self, batch: dict, batch_idx: int) -> None:
        losses, logits = self._step(batch)
        labels = batch["labels"]
        mask = labels != IGNORE
        correct = (logits.argmax(-1) == labels) & mask
        has_target = mask.any(-1)
        n_tokens, n_tactics = int(mask.sum()), int(has_target.sum())
        log = {"on_step": False, "on_epoch": True, "sync_dist": True}
        for name, value in losses.items():
            self.log(f"val/{name}", value, batch_size=labels.shape[0], **log)
        if n_tokens:
            self.log("val/token_acc", correct.sum() / n_tokens, batch_size=n_tokens, **log)
            if self.cfg.stage != "pretrain":  # in pretraining a target is a masked span or a continuation
                tactic_ok = (correct | ~mask).all(-1) & has_target
                self.log("val/tactic_acc", tactic_ok.sum() / n_tactics, batch_size=n_tactics, **log)

    def configure_optimizers(self):
        o = self.cfg.optim
        decay, no_decay = [], []
        for name, p in self.net.named_parameters():
            if p.requires_grad:
                (no_decay if name.endswith(NO_DECAY) else decay).append(p)
        groups = [{"params": decay, "weight_decay": o.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
        if self.cfg.strategy.endswith("_offload"):
            from deepspeed.ops.adam import (
                DeepSpeedCPUAdam,  # optimizer states live on the CPU
            )

            optimizer = DeepSpeedCPUAdam(groups, lr=o.lr, betas=(o.beta1, o.beta2))
        else:
            optimizer = torch.optim.AdamW(groups, lr=o.lr, betas=(o.beta1, o.beta2))
        schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_lambda(self.cfg))
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": schedule, "interval": "step"}}


def lr_lambda(cfg: TrainConfig):
    """Step -> lr multiplier: linear warm-up to 1, then cosine or linear decay to min_lr_ratio (or constant)."""
    o, total = cfg.optim, cfg.max_steps

    def factor(step: int) -> float:
        if step < o.warmup_steps:
            return (step + 1) / o.warmup_steps
        if o.schedule == "constant":
            return 1.0
        progress = min(1.0, (step - o.warmup_steps) / max(1, total - o.warmup_steps))
        shape = 0.5 * (1 + math.cos(math.pi * progress)) if o.schedule == "cosine" else 1 - progress
        return o.min_lr_ratio + (1 - o.min_lr_ratio) * shape

    return factor
