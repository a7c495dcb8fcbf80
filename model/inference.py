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
from dataclasses import dataclass

import torch

from model.proofnet import ProofNet


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
    def __init__(self, model: ProofNet, device: str | torch.device = "cpu") -> None:
        self.model = model.to(device).eval()
        self.device = torch.device(device)
        self.tokenizer = model.config.tokenizer()
        self._banned: torch.Tensor | None = None

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
        width = max(map(len, rows))
        ids = torch.full((len(rows), width), self.tokenizer.pad_id, dtype=torch.long)
        for i, r in enumerate(rows):
            ids[i, : len(r)] = torch.tensor(r)
        return ids.to(self.device), (ids != self.tokenizer.pad_id).long().to(self.device)

    @torch.no_grad()
    def policy_value(
        self,
        states: list[str],
        k: int = 8,
        method: str = "sample",
        temperature: float = 1.0,
        max_tactic_length: int | None = None,
        generator: torch.Generator | None = None,
    ) -> list[PolicyValue]:
        if method not in ("sample", "beam"):
            raise ValueError(f"method must be 'sample' or 'beam', got {method!r}")
        if k < 1 or temperature <= 0:
            raise ValueError("k must be >= 1 and temperature > 0")
        if not states:
            return []
        max_len = max_tactic_length or self.model.config.max_tactic_length
        ids, mask = self.encode_states(states)
        encoder_states = self.model.encode(ids, mask)
        values = self.model.value_from_logits(self.model.value_head(encoder_states, mask))
        # Every state's encoder states serve its K decodes: repeat, do not re-encode.
        enc_k, mask_k = encoder_states.repeat_interleave(k, 0), mask.repeat_interleave(k, 0)
        if method == "sample":
            tokens, log_probs, finished = self._sample(enc_k, mask_k, max_len, temperature, generator)
        else:
            tokens, log_probs, finished = self._beam(enc_k, mask_k, len(states), k, max_len)
        results = []
        for s in range(len(states)):
            rows = range(s * k, (s + 1) * k)
            samples = [self._sample_of(tokens[r], float(log_probs[r]), bool(finished[r])) for r in rows]
            results.append(PolicyValue(_distinct(samples), float(values[s])))
        return results

    # --- decoding -------------------------------------------------------------------------------

    def _step(self, enc, mask, last_tokens, cache):
        """Next-token log-probs (float32) for each row, given its last token and the cache."""
        out = self.model.t5(
            encoder_outputs=(enc,), attention_mask=mask, decoder_input_ids=last_tokens[:, None],
            cache=cache, use_cache=True,
        )
        return out.logits[:, -1].float(), out.cache

    def _sample(self, enc, mask, max_len, temperature, generator):
        pad, eos = self.tokenizer.pad_id, self.tokenizer.eos_id
        n = enc.shape[0]
        tokens = torch.full((n, 1), pad, dtype=torch.long, device=self.device)  # decoder start
        log_probs = torch.zeros(n, device=self.device)
        done = torch.zeros(n, dtype=torch.bool, device=self.device)
        cache = None
        for _ in range(max_len):
            logits, cache = self._step(enc, mask, tokens[:, -1], cache)
            allowed = logits.masked_fill(self.banned(logits.shape[-1]), float("-inf"))
            probs = (allowed / temperature).softmax(-1)
            nxt = torch.multinomial(probs, 1, generator=generator).squeeze(-1)
            nxt = torch.where(done, torch.full_like(nxt, pad), nxt)
            step_lp = logits.log_softmax(-1).gather(-1, nxt[:, None]).squeeze(-1)
            log_probs += torch.where(done, torch.zeros_like(step_lp), step_lp)
            tokens = torch.cat([tokens, nxt[:, None]], 1)
            done |= nxt == eos
            if done.all():
                break
        return tokens[:, 1:], log_probs, done

    def _beam(self, enc, mask, num_states, k, max_len):
        """Beam search of width k per state; finished beams only extend with pad at log-prob 0."""
        pad, eos = self.tokenizer.pad_id, self.tokenizer.eos_id
        n = num_states * k
        tokens = torch.full((n, 1), pad, dtype=torch.long, device=self.device)
        scores = torch.full((num_states, k), float("-inf"), device=self.device)
        scores[:, 0] = 0.0  # all beams start identical: expand only the first
        scores = scores.flatten()
        done = torch.zeros(n, dtype=torch.bool, device=self.device)
        cache = None
        for _ in range(max_len):
            logits, cache = self._step(enc, mask, tokens[:, -1], cache)
            lp = logits.log_softmax(-1).masked_fill(self.banned(logits.shape[-1]), float("-inf"))
            frozen = torch.full_like(lp, float("-inf"))
            frozen[:, pad] = 0.0
            lp = torch.where(done[:, None], frozen, lp)
            vocab = lp.shape[-1]
            cand = (scores[:, None] + lp).view(num_states, k * vocab)
            top, idx = cand.topk(k, -1)  # distinct (beam, token) pairs -> distinct sequences
            beam = (idx // vocab + torch.arange(num_states, device=self.device)[:, None] * k).flatten()
            nxt = (idx % vocab).flatten()
            cache.reorder_cache(beam)
            tokens = torch.cat([tokens[beam], nxt[:, None]], 1)
            scores = top.flatten()
            done = done[beam] | (nxt == eos)
            if done.all():
                break
        return tokens[:, 1:], scores, done

    def _sample_of(self, row: torch.Tensor, log_prob: float, finished: bool) -> TacticSample:
        ids = row.tolist()
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
