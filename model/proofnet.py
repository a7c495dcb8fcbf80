"""The proof network: a T5 encoder-decoder (policy) plus a value head on the encoder.

Policy: the encoder reads the state's bytes, the decoder writes a tactic's bytes; the policy loss is the
tactic cross-entropy. Value: the encoder states, mean-pooled over the state's tokens, go through an MLP
to `value_bins` logits, a categorical distribution over the return (-steps); the value is the
expectation over the bin centres and the value loss the cross-entropy against a two-hot target.
Loss = policy + value_weight * value (ALGORITHMS.md, "Proof network").

Everything is built from `ProofNetConfig`: nothing is downloaded.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from transformers import T5Config, T5ForConditionalGeneration

from model.config import ProofNetConfig

IGNORE = -100  # label id the cross-entropy skips (padding of the tactic)


def t5_config(config: ProofNetConfig) -> T5Config:
    tok = config.tokenizer()
    return T5Config(
        vocab_size=tok.vocab_size,
        d_model=config.d_model,
        d_kv=config.d_kv,
        d_ff=config.d_ff,
        num_layers=config.num_layers,
        num_decoder_layers=config.num_decoder_layers,
        num_heads=config.num_heads,
        feed_forward_proj=config.feed_forward_proj,
        dropout_rate=config.dropout,
        pad_token_id=tok.pad_id,
        eos_token_id=tok.eos_id,
        decoder_start_token_id=tok.pad_id,  # T5 starts decoding from pad
    )


# --- value bins -------------------------------------------------------------------------------


def bin_centres(config: ProofNetConfig) -> torch.Tensor:
    return torch.linspace(config.value_min, config.value_max, config.value_bins)


def value_to_bin(returns: torch.Tensor, config: ProofNetConfig) -> torch.Tensor:
    """The index of the bin whose centre is nearest each return (clipped to the range)."""
    return _bin_position(returns, config).round().long()


def two_hot(returns: torch.Tensor, config: ProofNetConfig) -> torch.Tensor:
    """(..., bins) targets putting weight on the two centres around each return, so that the
    expectation over centres equals the (clipped) return exactly."""
    pos = _bin_position(returns, config)
    lower = pos.floor().clamp(max=config.value_bins - 2).long()
    upper_weight = pos - lower
    target = torch.zeros(*returns.shape, config.value_bins, dtype=torch.float32, device=returns.device)
    target.scatter_(-1, lower.unsqueeze(-1), (1 - upper_weight).unsqueeze(-1))
    target.scatter_(-1, (lower + 1).unsqueeze(-1), upper_weight.unsqueeze(-1))
    return target


def _bin_position(returns: torch.Tensor, config: ProofNetConfig) -> torch.Tensor:
    r = returns.float().clamp(config.value_min, config.value_max)
    return (r - config.value_min) / (config.value_max - config.value_min) * (config.value_bins - 1)


# --- the network ------------------------------------------------------------------------------


class ValueHead(nn.Module):
    """Mean-pooled encoder states -> MLP -> logits over the value bins."""

    def __init__(self, d_model: int, hidden: int, bins: int) -> None:
        super().__init__()
        self.mlp = nn.Sequential(nn.Linear(d_model, hidden), nn.GELU(), nn.Linear(hidden, bins))

    def forward(self, encoder_states: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        mask = attention_mask.unsqueeze(-1).to(encoder_states.dtype)
        pooled = (encoder_states * mask).sum(1) / mask.sum(1).clamp(min=1.0)
        return self.mlp(pooled)


@dataclass
class ProofNetOutput:
    logits: torch.Tensor  # (batch, tactic_len, vocab): next-token logits of the tactic
    value_logits: torch.Tensor  # (batch, bins)
    value: torch.Tensor  # (batch,): expectation over bin centres
    policy_loss: torch.Tensor | None = None  # mean tactic cross-entropy per token
    value_loss: torch.Tensor | None = None  # mean value cross-entropy per state
    loss: torch.Tensor | None = None  # policy + value_weight * value (or policy alone)


class ProofNet(nn.Module):
    def __init__(self, config: ProofNetConfig) -> None:
        super().__init__()
        self.config = config
        self.t5 = T5ForConditionalGeneration(t5_config(config))
        self.value_head = ValueHead(config.d_model, config.value_hidden, config.value_bins)
        self.register_buffer("bin_centres", bin_centres(config), persistent=False)

    def encode(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """(batch, state_len, d_model) encoder states."""
        return self.t5.get_encoder()(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state

    def value_from_logits(self, value_logits: torch.Tensor) -> torch.Tensor:
        return (value_logits.float().softmax(-1) * self.bin_centres).sum(-1)

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        labels: torch.Tensor,
        value_targets: torch.Tensor | None = None,
    ) -> ProofNetOutput:
        """`labels`: tactic ids ending in eos, padded with IGNORE. `value_targets`: returns (-steps), NaN
        where unknown (those states get no value loss)."""
        encoder_states = self.encode(input_ids, attention_mask)
        logits = self._decode_logits(encoder_states, attention_mask, labels)
        value_logits = self.value_head(encoder_states, attention_mask)
        # Sums over counts clamped at 1, not means: a batch with no tactic tokens (all IGNORE) or no
        # known value gives a zero loss, not NaN, and every parameter stays in the graph (DDP needs that).
        token_ce = F.cross_entropy(logits.flatten(0, 1).float(), labels.flatten(), ignore_index=IGNORE, reduction="sum")
        policy_loss = token_ce / (labels != IGNORE).sum().clamp(min=1)
        value = self.value_from_logits(value_logits)
        out = ProofNetOutput(logits, value_logits, value, policy_loss, loss=policy_loss)
        if value_targets is not None:
            known = torch.isfinite(value_targets)  # NaN: the state's value is unknown (untraced tree)
            target = two_hot(value_targets.nan_to_num(0.0), self.config)
            per_state = -(target * value_logits.float().log_softmax(-1)).sum(-1)
            out.value_loss = (per_state * known).sum() / known.sum().clamp(min=1)
            out.loss = policy_loss + self.config.value_weight * out.value_loss
        return out

    @torch.no_grad()
    def tactic_log_probs(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor, labels: torch.Tensor
    ) -> torch.Tensor:
        """(batch,) teacher-forced log-probability of each tactic (sum over its non-IGNORE tokens)."""
        encoder_states = self.encode(input_ids, attention_mask)
        logits = self._decode_logits(encoder_states, attention_mask, labels)
        token_lp = logits.float().log_softmax(-1).gather(-1, labels.clamp(min=0).unsqueeze(-1)).squeeze(-1)
        return (token_lp * (labels != IGNORE)).sum(-1)

    def _decode_logits(self, encoder_states, attention_mask, labels) -> torch.Tensor:
        """Teacher-forced decoder logits: the decoder reads the labels shifted right (after pad)."""
        decoder_input_ids = self.t5.prepare_decoder_input_ids_from_labels(labels)
        return self.t5(
            encoder_outputs=(encoder_states,),
            attention_mask=attention_mask,
            decoder_input_ids=decoder_input_ids,
        ).logits

    def num_parameters(self) -> int:
        """Distinct parameters (the tied embedding / LM head counted once)."""
        return sum(p.numel() for p in self.parameters())
