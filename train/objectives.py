"""Pretraining objectives on packed token sequences (numpy in, numpy out; deterministic given an rng).

- T5 span corruption: mask ~`noise_density` of the tokens in spans of mean length `mean_span_length`;
  the encoder reads the sequence with each span replaced by a sentinel, the decoder writes
  `<sentinel_0> span_0 <sentinel_1> span_1 ... eos`. The span layout follows T5's
  `random_spans_noise_mask`: noise and non-noise lengths are random partitions, non-noise first.
- Next-token prediction on the decoder (prefix LM): the encoder reads a prefix, the decoder predicts the
  tokens that follow it, one at a time.

Window lengths are chosen so that encoder inputs fit `max_input` and decoder targets `max_target`: the
proof network's state and tactic lengths, so pretraining sees the shapes that SFT and search see.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from model.tokenizer import ByteTokenizer

IGNORE = -100


def strip_padding(seq: np.ndarray, pad_id: int) -> np.ndarray:
    """A corpus sequence without the pad that fills the last sequence of a split."""
    nonpad = np.flatnonzero(seq != pad_id)
    return seq[: nonpad[-1] + 1] if len(nonpad) else seq[:0]


def span_counts(length: int, noise_density: float, mean_span_length: float, max_spans: int) -> tuple[int, int]:
    """(noise tokens, noise spans) for a window of `length` tokens, as T5 computes them."""
    noise = round(length * noise_density)
    noise = min(max(noise, 1), length - 1)
    spans = round(noise / mean_span_length)
    spans = max(1, min(spans, noise, length - noise, max_spans))
    return noise, spans


@lru_cache(maxsize=64)
def span_window(seq_len: int, max_input: int, max_target: int, noise_density: float,
                mean_span_length: float, max_spans: int) -> int:
    """The longest window (<= seq_len) whose corrupted input and target fit the limits."""
    for length in range(seq_len, 1, -1):
        noise, spans = span_counts(length, noise_density, mean_span_length, max_spans)
        if length - noise + spans + 1 <= max_input and noise + spans + 1 <= max_target:
            return length
    raise ValueError(f"no window fits max_input={max_input}, max_target={max_target}")


def _partition(rng: np.random.Generator, n: int, k: int) -> np.ndarray:
    """n items in k non-empty segments at random: the k segment lengths."""
    cuts = np.sort(rng.choice(np.arange(1, n), size=k - 1, replace=False)) if k > 1 else np.empty(0, int)
    return np.diff(np.concatenate([[0], cuts, [n]]))


def span_corruption(
    tokens: np.ndarray,
    rng: np.random.Generator,
    tok: ByteTokenizer,
    noise_density: float,
    mean_span_length: float,
) -> tuple[np.ndarray, np.ndarray]:
    """(encoder input ids, decoder labels) for one window of tokens (at least 2)."""
    length = len(tokens)
    if length < 2:
        raise ValueError("span corruption needs at least 2 tokens")
    noise, spans = span_counts(length, noise_density, mean_span_length, tok.num_sentinels)
    noise_lengths = _partition(rng, noise, spans)
    keep_lengths = _partition(rng, length - noise, spans)
    inputs, targets, pos = [], [], 0
    for i, (keep, masked) in enumerate(zip(keep_lengths, noise_lengths)):
        inputs.append(tokens[pos : pos + keep])
        pos += keep
        sentinel = np.array([tok.sentinel(i)], dtype=np.int64)
        inputs.append(sentinel)
        targets += [sentinel, tokens[pos : pos + masked]]
        pos += masked
    eos = np.array([tok.eos_id], dtype=np.int64)
    return np.concatenate([*inputs, eos]).astype(np.int64), np.concatenate([*targets, eos]).astype(np.int64)


def next_token(
    tokens: np.ndarray, rng: np.random.Generator, tok: ByteTokenizer, max_input: int, max_target: int
) -> tuple[np.ndarray, np.ndarray]:
    """(encoder input = prefix + eos, decoder labels = the continuation) for one window (>= 2 tokens)."""
    if len(tokens) < 2:
        raise ValueError("next-token prediction needs at least 2 tokens")
    target_len = int(rng.integers(1, min(max_target, len(tokens) - 1) + 1))
    prefix_end = len(tokens) - target_len
    prefix = tokens[max(0, prefix_end - (max_input - 1)) : prefix_end]
    inputs = np.concatenate([prefix, [tok.eos_id]]).astype(np.int64)
    return inputs, tokens[prefix_end:].astype(np.int64)


def pretrain_example(
    seq: np.ndarray,
    rng: np.random.Generator,
    tok: ByteTokenizer,
    *,
    objective: str,
    max_input: int,
    max_target: int,
    next_token_fraction: float = 0.5,
    noise_density: float = 0.15,
    mean_span_length: float = 20.0,
) -> tuple[np.ndarray, np.ndarray] | None:
    """One training example from one packed sequence, or None if it holds fewer than 2 tokens."""
    tokens = strip_padding(np.asarray(seq), tok.pad_id).astype(np.int64)
    if len(tokens) < 2:
        return None
    if objective == "mixed":
        objective = "next_token" if rng.random() < next_token_fraction else "span_corruption"
    if objective == "next_token":
        window = min(len(tokens), max_input - 1 + max_target)
        start = int(rng.integers(0, len(tokens) - window + 1))
        return next_token(tokens[start : start + window], rng, tok, max_input, max_target)
    if objective == "span_corruption":
        window = span_window(len(tokens), max_input, max_target, noise_density, mean_span_length, tok.num_sentinels)
        start = int(rng.integers(0, len(tokens) - window + 1))
        return span_corruption(tokens[start : start + window], rng, tok, noise_density, mean_span_length)
    raise ValueError(f"unknown objective {objective!r}")
