"""The causal LM and its tokenizer: built from a config or loaded by name; examples encoded for training;
greedy answers for a list of prompts.

An example is `[bos] prompt target [eos]` (no bos where the tokenizer has none); the loss covers the
target and eos (`loss_on=target`) or every token (`loss_on=all`). Greedy decoding batches prompts of
equal token length together, so no prompt is padded and each answer is exactly what the model generates
for that prompt alone.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import torch

from data.caseorrule.formats import Example
from train.caseorrule.config import CausalLMConfig
from train.caseorrule.tokenizer import build_tokenizer

IGNORE = -100


def load_tokenizer(cfg: CausalLMConfig):
    if cfg.from_scratch:
        return build_tokenizer(cfg.tokenizer)
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(cfg.name)
    if tok.eos_token_id is None:
        raise ValueError(f"model.name={cfg.name}: its tokenizer has no eos token to end an answer with")
    if tok.pad_token_id is None:
        tok.pad_token = tok.eos_token
    return tok


def build_lm(cfg: CausalLMConfig, tokenizer) -> torch.nn.Module:
    if not cfg.from_scratch:
        from transformers import AutoModelForCausalLM

        return AutoModelForCausalLM.from_pretrained(cfg.name)
    from transformers import GPT2Config, GPT2LMHeadModel

    config = GPT2Config(vocab_size=len(tokenizer), n_positions=cfg.n_positions, n_embd=cfg.n_embd, n_layer=cfg.n_layer,
                        n_head=cfg.n_head, resid_pdrop=cfg.dropout, embd_pdrop=cfg.dropout, attn_pdrop=cfg.dropout,
                        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
                        pad_token_id=tokenizer.pad_token_id)
    return GPT2LMHeadModel(config)


def context_length(model: torch.nn.Module) -> int | None:
    config = model.config
    return getattr(config, "n_positions", None) or getattr(config, "max_position_embeddings", None)


def _ids(tokenizer, text: str) -> list[int]:
    return tokenizer(text, add_special_tokens=False)["input_ids"]


def prompt_ids(tokenizer, prompt: str) -> list[int]:
    bos = [tokenizer.bos_token_id] if tokenizer.bos_token_id is not None else []
    return bos + _ids(tokenizer, prompt)


def encode_example(tokenizer, example: Example, loss_on: str = "target") -> tuple[np.ndarray, np.ndarray]:
    """(input ids, labels) of one example; labels are IGNORE where no loss is taken."""
    prompt = prompt_ids(tokenizer, example.prompt)
    target = _ids(tokenizer, example.target) + [tokenizer.eos_token_id]
    ids = np.array(prompt + target, dtype=np.int64)
    labels = ids.copy()
    if loss_on == "target":
        labels[: len(prompt)] = IGNORE
    elif tokenizer.bos_token_id is not None:
        labels[0] = IGNORE  # nothing predicts the first token
    return ids, labels


def target_length(tokenizer, example: Example) -> int:
    return len(_ids(tokenizer, example.target)) + 1


@torch.no_grad()
def greedy_answers(model: torch.nn.Module, tokenizer, prompts: list[str], max_new_tokens: int,
                   batch_size: int = 512, progress=None) -> list[str]:
    """The greedy continuation of each prompt up to eos (eos and what follows dropped), decoded."""
    model.eval()
    encoded = [prompt_ids(tokenizer, p) for p in prompts]
    groups: dict[int, list[int]] = defaultdict(list)
    for i, ids in enumerate(encoded):
        groups[len(ids)].append(i)
    eos, pad = tokenizer.eos_token_id, tokenizer.pad_token_id
    out: list[str] = [""] * len(prompts)
    for length in sorted(groups):
        members = groups[length]
        for lo in range(0, len(members), batch_size):
            chunk = members[lo : lo + batch_size]
            ids = torch.tensor([encoded[i] for i in chunk], dtype=torch.long, device=model.device)
            gen = model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), max_new_tokens=max_new_tokens,
                                 do_sample=False, num_beams=1, eos_token_id=eos, pad_token_id=pad, use_cache=True)
            for i, row in zip(chunk, gen[:, length:].tolist()):
                if eos in row:
                    row = row[: row.index(eos)]
                out[i] = tokenizer.decode(row, skip_special_tokens=True)
            if progress is not None:
                progress(len(chunk))
    return out
