"""Candidate tactics the network ranks: decision procedures and cheap structural moves, offered at every
expansion next to the network's own samples (issue 12, "candidate tactics the network ranks").

A weak tactic generator rarely writes `nra` or `field` on purpose, while a shell script that tries a
fixed list proves a fifth of miniF2F-valid. So a prover may name candidates; at each expansion the
network scores every one on the state (its own teacher-forced sequence log-probability) and the
candidates join the samples as children. The search then tries what the network believes in first.

Priors. A sampled tactic's weight is the number of the K samples that drew it (`Suggestion.count`,
AlphaProof: every sample adds exp(logprob / tau)). A candidate gets the number of samples the network
*expects* to draw it, K * P(c) = K * exp(score): its weight if it were sampled, in expectation; a
candidate that was also sampled keeps the larger of the two. The model-free counterpart
(`CandidatePolicy`) gives every candidate weight 1: the same search with uniform priors, the
baseline that isolates what the network adds.

Budget: scoring is part of the same expansion (one state evaluated, counted once); every candidate
the search runs is a tactic execution, counted as any other.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from search.automation import DEFAULT_PORTFOLIO
from search.policy import Evaluation, PolicyValue, Suggestion

# Per backend: the automation portfolio plus moves that need no argument and rarely hurt.
DEFAULT_CANDIDATES: dict[str, tuple[str, ...]] = {
    "coq": (*DEFAULT_PORTFOLIO, "intros", "split", "left", "right", "subst", "simpl", "assumption",
            "constructor", "symmetry", "f_equal", "tauto", "ring_simplify", "field_simplify"),
    "lean": ("linarith", "nlinarith", "norm_num", "omega", "simp", "simp_all", "positivity", "decide",
             "ring", "ring_nf", "field_simp", "intro", "intros", "constructor", "tauto", "rfl", "trivial",
             "assumption"),
}
MAX_CANDIDATES = 256

Scorer = Callable[[list[str], list[list[str]]], list[list[float]]]  # states, candidates -> log-probs


def resolve_candidates(spec, backend: str) -> tuple[str, ...]:
    """`policy.candidates` as a tuple of tactics: "none"/"" (no candidates), "default" (the backend's
    list above), a path to a file (one tactic per line, `#` comments), or a list of tactics."""
    if spec is None or spec == "" or spec == "none":
        return ()
    if spec == "default":
        return DEFAULT_CANDIDATES[backend]
    if isinstance(spec, str):
        path = Path(spec).expanduser()
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as e:
            raise ValueError(f"policy.candidates: cannot read {path}: {e}") from None
        tactics = [line.split("#", 1)[0].strip() for line in lines]
        return _checked([t for t in tactics if t], str(path))
    if isinstance(spec, (list, tuple)) and all(isinstance(t, str) for t in spec):
        return _checked([t.strip() for t in spec if t.strip()], "policy.candidates")
    raise ValueError("policy.candidates must be none, default, a file or a list of tactics")


def _checked(tactics: list[str], where: str) -> tuple[str, ...]:
    out = tuple(dict.fromkeys(tactics))
    if not out:
        raise ValueError(f"{where}: no candidate tactics")
    if len(out) > MAX_CANDIDATES:
        raise ValueError(f"{where}: {len(out)} candidates, more than {MAX_CANDIDATES}")
    return out


def join_candidates(evaluation: Evaluation, candidates: Sequence[str], scores: Sequence[float],
                    k: int) -> Evaluation:
    """The network's samples plus the candidates, each weighted as the module docstring says."""
    by_tactic = {s.tactic: s for s in evaluation.tactics}
    for tactic, score in zip(candidates, scores):
        if not math.isfinite(score):
            continue  # the network cannot write it (a banned token): no prior, nothing to run
        expected = k * math.exp(score)
        sampled = by_tactic.get(tactic)
        count = max(sampled.count, expected) if sampled is not None else expected
        by_tactic[tactic] = Suggestion(tactic, score, count)
    ordered = sorted(by_tactic.values(), key=lambda s: -s.log_prob)
    return Evaluation(tuple(ordered), evaluation.value)


@dataclass
class RankedCandidates:
    """A policy whose evaluations are `inner`'s samples joined with `candidates` scored by `score`
    (the same network: `ProofNetInference.score`). Put it below a batching server so that the scoring
    of many searches' states is batched too."""

    inner: PolicyValue
    candidates: tuple[str, ...]
    score: Scorer

    def evaluate(self, states: Sequence[str], k: int) -> list[Evaluation]:
        states = list(states)
        evaluations = self.inner.evaluate(states, k)
        scores = self.score(states, [list(self.candidates)] * len(states))
        return [join_candidates(e, self.candidates, s, k) for e, s in zip(evaluations, scores)]


@dataclass
class CandidatePolicy:
    """The model-free baseline: every candidate at every state with weight 1 and a constant value."""

    candidates: tuple[str, ...]
    value: float = -1.0

    def evaluate(self, states: Sequence[str], k: int) -> list[Evaluation]:
        suggestions = tuple(Suggestion(t, 0.0, 1) for t in self.candidates)
        return [Evaluation(suggestions, self.value) for _ in states]
