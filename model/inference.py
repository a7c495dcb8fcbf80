"""Batched policy/value: many states in, for each K tactics with sequence log-probabilities and a value;
and the log-probabilities of given tactics (`score`).

One encoder pass per batch of states; the K decodes of a state share its encoder states and advance in
lock step with a key/value cache (model/decoding.py). Two ways to choose tactics:
- `sample`: K draws from softmax(logits / temperature), by inverse CDF on one uniform per draw and
  step; a state given a key draws its uniforms from that key alone, so its tactics do not depend on
  the batch it came in. Draws that decode to the same text come back once, with `count` saying how
  many of the K they were (AlphaProof: duplicates add prior mass);
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
import functools
import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import torch

from model.decoding import (
    CrossAttention,
    HFDecoder,
    IncrementalDecoder,
    T5Weights,
    encode,
    length_order,
    teacher_forced_logits,
)
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
    way, so with the same generator they give the same samples up to float rounding.

    Threads (fast path on a CPU): a call's states are dealt into `workers` parts (default: torch's
    thread count), decoded side by side in as many threads, each running torch single-threaded. A
    decode step is some eighty small operations; run with an OpenMP team each one wakes the team
    (with OMP_WAIT_POLICY=PASSIVE, as `proofzero` sets it, ~75 us a wake on the development machine,
    more than most of the operations take), while one part per core never waits on another and,
    when another job holds a core, simply shares it. With OMP_WAIT_POLICY=ACTIVE the calling thread's
    idle OpenMP team would spin on the core a second part needs: one part, torch's own threads."""

    def __init__(self, model: ProofNet, device: str | torch.device = "cpu", decoder: str = "fast",
                 workers: int | None = None) -> None:
        if decoder not in DECODERS:
            raise ValueError(f"decoder must be one of {DECODERS}, got {decoder!r}")
        self.model = model.to(device).eval()
        self.device = torch.device(device)
        self.decoder = decoder
        self.workers = workers or default_workers(self.device)
        self.tokenizer = model.config.tokenizer()
        self._banned: torch.Tensor | None = None
        self._weights: tuple[tuple, T5Weights] | None = None
        self._pool: ThreadPoolExecutor | None = None

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
        uniforms = _uniforms(len(states), k, max_len, self.device, generator, keys) if method == "sample" else None
        job = _Job(k, method, temperature, max_len, uniforms)
        ids, mask = self.encode_states(states)
        self.banned(self.model.t5.config.vocab_size)  # made here: the parts' threads only read it
        if self.decoder == "hf":
            parts = [self._decode_hf(ids, mask, job)]
        else:
            weights = self.weights()
            parts = self._in_threads([functools.partial(self._decode_fast, weights, ids, mask, rows, job)
                                      for rows in self._parts(mask)])
        results: list[PolicyValue | None] = [None] * len(states)
        for order, tokens, log_probs, finished, values in parts:
            for p, s in enumerate(order):
                rows = range(p * k, (p + 1) * k)
                samples = [self._sample_of(tokens[r], log_probs[r], finished[r]) for r in rows]
                results[s] = PolicyValue(_distinct(samples), values[p])
        return results

    def weights(self) -> T5Weights:
        """The fast decoder's view of the model's weights, made again when any parameter has changed
        (in place, as an optimiser step or a load does, or replaced)."""
        params = self.model.t5.parameters()
        version = tuple((p.data_ptr(), p._version) for p in params)
        if self._weights is None or self._weights[0] != version:
            self._weights = (version, T5Weights.of(self.model.t5))
        return self._weights[1]

    def _encode(self, ids: torch.Tensor, mask: torch.Tensor):
        """The model's weights, the states' length order, and their encoder states by groups."""
        weights = self.weights()
        order, runs = length_order(mask.sum(-1).tolist())
        return weights, order, encode(weights, ids, mask, order, runs)

    # --- one part of a call -----------------------------------------------------------------------

    def _parts(self, mask: torch.Tensor) -> list[list[int]]:
        """The states (rows of `mask`) dealt into up to `workers` parts of like lengths."""
        n = min(self.workers, mask.shape[0])
        by_length = sorted(range(mask.shape[0]), key=lambda i: int(mask[i].sum()))
        return [by_length[i::n] for i in range(n)]

    def _in_threads(self, parts: list) -> list:
        """Each part's result; parts beyond the first in the pool's threads, all single-threaded."""
        if len(parts) == 1:
            return [parts[0]()]
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self.workers - 1, thread_name_prefix="proofnet",
                                            initializer=torch.set_num_threads, initargs=(1,))
        before = torch.get_num_threads()
        torch.set_num_threads(1)  # this thread's own setting (OpenMP and MKL keep one per thread)
        try:
            futures = [self._pool.submit(part) for part in parts[1:]]
            first = parts[0]()
            return [first, *(f.result() for f in futures)]
        finally:
            torch.set_num_threads(before)

    def _decode_fast(self, weights, ids, mask, rows, job):
        """(states in decode order, tokens, log-probs, finished, values) of the states `rows`."""
        with torch.inference_mode():
            mask = mask[rows]
            width = int(mask.sum(-1).max())
            mask = mask[:, :width]
            local, runs = length_order(mask.sum(-1).tolist())
            groups = encode(weights, ids[rows, :width], mask, local, runs)
            values = torch.cat([self.model.value_from_logits(self.model.value_head(g.states, g.mask)) for g in groups])
            decoder = IncrementalDecoder(weights, CrossAttention.of(weights, groups), job.k, job.max_len)
            order = [rows[i] for i in local]
            return (order, *self._decode(decoder, order, job), values.tolist())

    def _decode_hf(self, ids, mask, job):
        encoder_states = self.model.encode(ids, mask)
        values = self.model.value_from_logits(self.model.value_head(encoder_states, mask))
        order = list(range(ids.shape[0]))
        return (order, *self._decode(HFDecoder(self.model.t5, encoder_states, mask, job.k), order, job), values.tolist())

    def _decode(self, decoder, order, job):
        if job.method == "sample":
            uniforms = job.uniforms[:, torch.tensor(order, device=self.device)].flatten(1)
            tokens, log_probs, finished = self._sample(decoder, uniforms, job.temperature)
        else:
            tokens, log_probs, finished = self._beam(decoder, len(order), job.k, job.max_len)
        return tokens.tolist(), log_probs.tolist(), finished.tolist()

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
        for t in range(steps):
            logits = decoder.step(tokens[:, t - 1]) if t else decoder.start(pad)  # the decoder starts from pad
            allowed = logits.masked_fill(self.banned(logits.shape[-1]), float("-inf"))
            nxt = _inverse_cdf((allowed / temperature).softmax(-1), uniforms[t])
            nxt = nxt.masked_fill(done, pad)
            step_lp = logits.log_softmax(-1).gather(-1, nxt[:, None]).squeeze(-1)
            log_probs += step_lp.masked_fill(done, 0.0)
            tokens[:, t] = nxt
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
        first_of_state = torch.arange(num_states, device=self.device)[:, None] * k
        frozen = None
        for t in range(max_len):
            logits = decoder.step(tokens[:, t - 1]) if t else decoder.start(pad)
            vocab = logits.shape[-1]
            if frozen is None:
                frozen = torch.full((vocab,), float("-inf"), device=self.device)
                frozen[pad] = 0.0
            lp = logits.log_softmax(-1).masked_fill(self.banned(vocab), float("-inf"))
            lp = torch.where(done[:, None], frozen, lp)
            cand = (scores[:, None] + lp).view(num_states, k * vocab)
            top, idx = cand.topk(k, -1)  # distinct (beam, token) pairs -> distinct sequences
            beam = (idx // vocab + first_of_state).flatten()
            nxt = (idx % vocab).flatten()
            decoder.reorder(beam)
            tokens[:, :t] = tokens[beam, :t]
            tokens[:, t] = nxt
            scores = top.flatten()
            done = done[beam] | (nxt == eos)
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


def default_workers(device: torch.device) -> int:
    """Threads a call is split across: torch's thread count on a CPU (see `ProofNetInference`), else 1."""
    if device.type != "cpu" or os.environ.get("OMP_WAIT_POLICY", "").upper() == "ACTIVE":
        return 1
    return torch.get_num_threads()


@dataclass(frozen=True)
class _Job:
    k: int
    method: str
    temperature: float
    max_len: int
    uniforms: torch.Tensor | None  # sample: (steps, states, k), in the callers' state order


def _uniforms(states: int, k: int, steps: int, device: torch.device, generator, keys) -> torch.Tensor:
    """(steps, states, k) uniforms in [0, 1): one per sample and decode step.

    Without keys: all drawn at once from `generator`. With keys: each keyed state's from a generator of
    its own, seeded with its key, so that its draws are the same whatever other states share the call;
    unkeyed states then draw theirs from `generator`, in order."""
    if keys is None:
        return torch.rand(steps, states, k, generator=generator, device=device)
    return torch.stack([torch.rand(steps, k, device=device,
                                   generator=generator if key is None else torch.Generator(device).manual_seed(key))
                        for key in keys], 1)
