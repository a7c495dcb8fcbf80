"""Batched policy/value: many states in, for each K tactics with sequence log-probabilities and a value.

One encoder pass per batch of states; the K decodes of a state reuse its encoder states (repeated, not
recomputed) and the decoder's key/value cache. Two ways to choose tactics:
- `sample`: K draws from softmax(logits / temperature); draws that decode to the same text come back
  once, with `count` saying how many of the K they were (AlphaProof: duplicates add prior mass);
- `beam`: beam search of width K (K distinct token sequences; blank tactics are dropped, and so are
  sequences that decode to the same text).

A tactic's `log_prob` is always the model's own (temperature 1) log-probability of its tokens, eos
included when it finished: the prior the search uses, and what `ProofNet.tactic_log_probs` returns for
the same tokens. Tactics come back sorted by log_prob, highest first.

Tokens no tactic can contain (pad before the end, unk, the span-corruption sentinels, ids past the
tokenizer's vocabulary) are never chosen: a weakly trained model still puts mass on them, and every
such sample would be a tactic the environment must reject.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from model.decoding import CrossAttention, IncrementalDecoder, T5Weights, encode, length_order, teacher_forced_logits
from model.proofnet import IGNORE, ProofNet

DECODERS = ("fast", "hf")


@dataclass(frozen=True)
class TacticSample:
    tactic: str
    log_prob: float
    ids: tuple[int, ...]  # decoder tokens, eos included when `finished`
    finished: bool  # False: cut at max_tactic_length before eos
    count: int = 1  # how many of the K draws decoded to this tactic (sampling; beam: 1)


@dataclass(frozen=True)
class PolicyValue:
    tactics: list[TacticSample]  # distinct tactic strings, log_prob descending
    value: float  # expected return (-steps) of the state


class ProofNetInference:
    """`decoder="fast"`: model/decoding.py's encoder and incremental decoder over the model's weights;
    `decoder="hf"`: the Hugging Face T5 forward with its cache, on encoder states repeated K times
    (the earlier path, kept as the reference and the benchmark's baseline). Both choose tokens the same
    way, so with the same generator they give the same samples up to float rounding."""

    def __init__(self, model: ProofNet, device: str | torch.device = "cpu", decoder: str = "fast") -> None:
        if decoder not in DECODERS:
            raise ValueError(f"decoder must be one of {DECODERS}, got {decoder!r}")
        self.model = model.to(device).eval()
        self.device = torch.device(device)
        self.decoder = decoder
        self.tokenizer = model.config.tokenizer()
        self._banned: torch.Tensor | None = None

    def generator(self, seed: int) -> torch.Generator:
        """A generator on this inference's device, seeded: `policy_value(..., generator=)`."""
        return torch.Generator(self.device).manual_seed(seed)

    def banned(self, vocab: int) -> torch.Tensor:
        """Bool mask over the model's output ids: True where a tactic may not put that token."""
        if self._banned is None or self._banned.shape[0] != vocab:
            tok = self.tokenizer
            mask = torch.ones(vocab, dtype=torch.bool, device=self.device)
            mask[tok.offset : tok.offset + 256] = False  # the bytes
            mask[tok.eos_id] = False
            self._banned = mask
        return self._banned

    def encode_states(self, states: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """Right-padded (ids, mask); each state cut to max_state_length - 1 bytes, then eos."""
        limit = self.model.config.max_state_length - 1
        rows = [self.tokenizer.encode(s)[:limit] + [self.tokenizer.eos_id] for s in states]
        return self._padded(rows, self.tokenizer.pad_id)

    def _padded(self, rows: list[list[int]], fill: int) -> tuple[torch.Tensor, torch.Tensor]:
        width = max(map(len, rows))
        ids = torch.full((len(rows), width), fill, dtype=torch.long)
        for i, r in enumerate(rows):
            ids[i, : len(r)] = torch.tensor(r)
        return ids.to(self.device), (ids != fill).long().to(self.device)

    @torch.inference_mode()
    def policy_value(
        self,
        states: list[str],
        k: int = 8,
        method: str = "sample",
        temperature: float = 1.0,
        max_tactic_length: int | None = None,
        generator: torch.Generator | None = None,
        keys: Sequence[int | None] | None = None,
    ) -> list[PolicyValue]:
        """`keys`: one per state, or None. A state with a key draws its samples' noise from a generator
        seeded with that key alone, so its tactics do not depend on what else is in the batch (or on
        the batch size); the other states draw from `generator` (torch's global one if None)."""
        if method not in ("sample", "beam"):
            raise ValueError(f"method must be 'sample' or 'beam', got {method!r}")
        if k < 1 or temperature <= 0:
            raise ValueError("k must be >= 1 and temperature > 0")
        if keys is not None and len(keys) != len(states):
            raise ValueError(f"{len(keys)} keys for {len(states)} states")
        if not states:
            return []
        max_len = max_tactic_length or self.model.config.max_tactic_length
        ids, mask = self.encode_states(states)
        if self.decoder == "hf":
            order = list(range(len(states)))
            encoder_states = self.model.encode(ids, mask)
            values = self.model.value_from_logits(self.model.value_head(encoder_states, mask))
            decoder = _HFDecoder(self.model.t5, encoder_states, mask, k)
        else:  # states in length order, in groups of similar length; put back in order at the end
            weights, order, groups = self._encode(ids, mask)
            values = torch.cat([self.model.value_from_logits(self.model.value_head(g.states, g.mask)) for g in groups])
            decoder = IncrementalDecoder(weights, CrossAttention.of(weights, groups), k, max_len)
        if method == "sample":
            uniforms = _uniforms(order, k, max_len, self.device, generator, keys)
            tokens, log_probs, finished = self._sample(decoder, uniforms, temperature)
        else:
            tokens, log_probs, finished = self._beam(decoder, len(states), k, max_len)
        tokens, log_probs, finished, values = tokens.tolist(), log_probs.tolist(), finished.tolist(), values.tolist()
        results: list[PolicyValue | None] = [None] * len(states)
        for p, s in enumerate(order):
            rows = range(p * k, (p + 1) * k)
            samples = [self._sample_of(tokens[r], log_probs[r], finished[r]) for r in rows]
            results[s] = PolicyValue(_distinct(samples), values[p])
        return results

    def _encode(self, ids: torch.Tensor, mask: torch.Tensor):
        """The model's weights, the states' length order, and their encoder states by groups."""
        weights = T5Weights.of(self.model.t5)
        order, runs = length_order(mask.sum(-1).tolist())
        return weights, order, encode(weights, ids, mask, order, runs)

    @torch.inference_mode()
    def score(self, states: list[str], candidates_per_state: Sequence[Sequence[str]]) -> list[list[float]]:
        """Teacher-forced log-probability (eos included) of each candidate tactic on its state, in order:
        what `ProofNet.tactic_log_probs` gives for the same tokens. All candidates of all states go
        through the decoder in one pass (a state with fewer candidates is padded with blank rows)."""
        if len(states) != len(candidates_per_state):
            raise ValueError(f"{len(candidates_per_state)} candidate lists for {len(states)} states")
        out: list[list[float]] = [[] for _ in states]
        live = [i for i, c in enumerate(candidates_per_state) if len(c)]
        if not live:
            return out
        eos, width = self.tokenizer.eos_id, max(len(candidates_per_state[i]) for i in live)
        targets = [[self.tokenizer.encode(c) + [eos] for c in candidates_per_state[i]] for i in live]
        targets = [t + [[eos]] * (width - len(t)) for t in targets]  # blank rows, never read back
        labels, tokens = self._padded([t for ts in targets for t in ts], IGNORE)
        labels = labels.view(len(live), width, -1)
        inputs = torch.cat([torch.full_like(labels[..., :1], self.tokenizer.pad_id),
                            labels[..., :-1].clamp(min=0)], -1)  # pad first, then shifted right (IGNORE -> pad)
        ids, mask = self.encode_states([states[i] for i in live])
        weights, order, groups = self._encode(ids, mask)
        inputs, labels, tokens = inputs[order], labels[order], tokens.view_as(labels)[order]
        logits = teacher_forced_logits(weights, CrossAttention.of(weights, groups), inputs)
        token_lp = logits.log_softmax(-1).gather(-1, labels.clamp(min=0)[..., None]).squeeze(-1)
        sums = (token_lp * tokens).sum(-1).tolist()
        for p, j in enumerate(order):
            i = live[j]
            out[i] = sums[p][: len(candidates_per_state[i])]
        return out

    # --- decoding -------------------------------------------------------------------------------

    def _sample(self, decoder, uniforms, temperature):
        """One draw per row and step from softmax(logits / temperature) over the allowed tokens, by
        inverse CDF on `uniforms` (steps, rows); each row's log_prob is the temperature-1 one. A row that
        has written eos writes pad at log-prob 0."""
        pad, eos = self.tokenizer.pad_id, self.tokenizer.eos_id
        steps, n = uniforms.shape
        tokens = torch.full((n, steps), pad, dtype=torch.long, device=self.device)
        log_probs = torch.zeros(n, device=self.device)
        done = torch.zeros(n, dtype=torch.bool, device=self.device)
        last = tokens[:, 0].clone()  # the decoder starts from pad
        for t in range(steps):
            logits = decoder.step(last)
            allowed = logits.masked_fill(self.banned(logits.shape[-1]), float("-inf"))
            nxt = _inverse_cdf((allowed / temperature).softmax(-1), uniforms[t])
            nxt = nxt.masked_fill(done, pad)
            step_lp = logits.log_softmax(-1).gather(-1, nxt[:, None]).squeeze(-1)
            log_probs += step_lp.masked_fill(done, 0.0)
            tokens[:, t] = last = nxt
            done |= nxt == eos
            if done.all():
                break
        return tokens, log_probs, done

    def _beam(self, decoder, num_states, k, max_len):
        """Beam search of width k per state; finished beams only extend with pad at log-prob 0."""
        pad, eos = self.tokenizer.pad_id, self.tokenizer.eos_id
        n = num_states * k
        tokens = torch.full((n, max_len), pad, dtype=torch.long, device=self.device)
        scores = torch.full((num_states, k), float("-inf"), device=self.device)
        scores[:, 0] = 0.0  # all beams start identical: expand only the first
        scores = scores.flatten()
        done = torch.zeros(n, dtype=torch.bool, device=self.device)
        last = tokens[:, 0].clone()
        first_of_state = torch.arange(num_states, device=self.device)[:, None] * k
        frozen = None
        for t in range(max_len):
            logits = decoder.step(last)
            vocab = logits.shape[-1]
            if frozen is None:
                frozen = torch.full((vocab,), float("-inf"), device=self.device)
                frozen[pad] = 0.0
            lp = logits.log_softmax(-1).masked_fill(self.banned(vocab), float("-inf"))
            lp = torch.where(done[:, None], frozen, lp)
            cand = (scores[:, None] + lp).view(num_states, k * vocab)
            top, idx = cand.topk(k, -1)  # distinct (beam, token) pairs -> distinct sequences
            beam = (idx // vocab + first_of_state).flatten()
            last = (idx % vocab).flatten()
            decoder.reorder(beam)
            tokens[:, :t] = tokens[beam, :t]
            tokens[:, t] = last
            scores = top.flatten()
            done = done[beam] | (last == eos)
            if done.all():
                break
        return tokens, scores, done

    def _sample_of(self, ids: list[int], log_prob: float, finished: bool) -> TacticSample:
        if finished:
            ids = ids[: ids.index(self.tokenizer.eos_id) + 1]
        return TacticSample(self.tokenizer.decode(ids), log_prob, tuple(ids), finished)


def _distinct(samples: list[TacticSample]) -> list[TacticSample]:
    """One sample per tactic string (the likeliest), with `count` = how many draws gave that string,
    highest log_prob first; blank tactics (all pad, say) and impossible ones (-inf) dropped."""
    best: dict[str, TacticSample] = {}
    counts: dict[str, int] = {}
    for s in samples:
        if not s.tactic.strip() or s.log_prob == float("-inf"):
            continue
        counts[s.tactic] = counts.get(s.tactic, 0) + 1
        if s.tactic not in best or s.log_prob > best[s.tactic].log_prob:
            best[s.tactic] = s
    out = [dataclasses.replace(s, count=counts[t]) for t, s in best.items()]
    return sorted(out, key=lambda s: -s.log_prob)


def _inverse_cdf(probs: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
    """Per row, the first token whose cumulative probability exceeds u x total: a draw from `probs`
    that never lands on a zero-probability token (the target stays below the total, and the CDF only
    rises at tokens with mass)."""
    cdf = probs.cumsum(-1)
    total = cdf[:, -1:]
    target = torch.minimum(u[:, None] * total, torch.nextafter(total, torch.zeros_like(total)))
    return torch.searchsorted(cdf, target, right=True).squeeze(-1)


class _HFDecoder:
    """The Hugging Face T5 decoder with its own cache, one token per `step`, on encoder states repeated
    for each of a state's k rows (cross-attention keys and values computed for every copy)."""

    def __init__(self, t5, encoder_states: torch.Tensor, mask: torch.Tensor, k: int) -> None:
        self.t5, self.enc, self.mask = t5, encoder_states.repeat_interleave(k, 0), mask.repeat_interleave(k, 0)
        self.cache = None

    def step(self, tokens: torch.Tensor) -> torch.Tensor:
        out = self.t5(encoder_outputs=(self.enc,), attention_mask=self.mask, decoder_input_ids=tokens[:, None],
                      cache=self.cache, use_cache=True)
        self.cache = out.cache
        return out.logits[:, -1].float()

    def reorder(self, rows: torch.Tensor) -> None:
        self.cache.reorder_cache(rows)


def _uniforms(order: list[int], k: int, steps: int, device: torch.device, generator, keys) -> torch.Tensor:
    """(steps, rows) uniforms in [0, 1), one per row and decode step, rows in the decoder's state `order`.

    Without keys: all drawn at once from `generator`, in the callers' state order. With keys: each keyed
    state's k columns from a generator of its own, seeded with its key, so that its draws are the same
    whatever other states share the call; unkeyed states then draw theirs from `generator`, in order."""
    if keys is None:
        u = torch.rand(steps, len(order), k, generator=generator, device=device)
        return u[:, torch.tensor(order, device=device)].flatten(1)
    cols = [torch.rand(steps, k, device=device,
                       generator=generator if keys[s] is None else torch.Generator(device).manual_seed(keys[s]))
            for s in order]
    return torch.cat(cols, 1)
