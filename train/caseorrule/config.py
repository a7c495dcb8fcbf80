"""The causal LM of the Case-or-Rule experiment: a GPT-2 built from a config (no download), or any Hugging
Face causal LM by name or path (the cluster's RFFT run: Llama-2-7B in the paper)."""

from __future__ import annotations

from dataclasses import dataclass

from train.caseorrule.tokenizer import TOKENIZERS

LOSS_ON = ("target", "all")


@dataclass(frozen=True)
class CausalLMConfig:
    name: str = ""  # "": GPT-2 from the sizes below, trained from scratch; else a HF model name or path
    tokenizer: str = "numbers"  # from-scratch models only: numbers | chars (train/caseorrule/tokenizer.py)
    n_layer: int = 2
    n_head: int = 4
    n_embd: int = 128
    n_positions: int = 64  # the longest prompt + target (+ bos, eos) it can hold
    dropout: float = 0.0
    loss_on: str = "target"  # target: the answer (and eos) only; all: the prompt too, as upstream trained

    def __post_init__(self) -> None:
        if self.tokenizer not in TOKENIZERS:
            raise ValueError(f"model.tokenizer must be one of {TOKENIZERS}, got {self.tokenizer!r}")
        if self.loss_on not in LOSS_ON:
            raise ValueError(f"model.loss_on must be one of {LOSS_ON}, got {self.loss_on!r}")
        if min(self.n_layer, self.n_head, self.n_embd, self.n_positions) < 1:
            raise ValueError("model.n_layer, n_head, n_embd and n_positions must be >= 1")
        if self.n_embd % self.n_head:
            raise ValueError(f"model.n_embd ({self.n_embd}) must be a multiple of model.n_head ({self.n_head})")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError("model.dropout must be in [0, 1)")

    @property
    def from_scratch(self) -> bool:
        return not self.name
