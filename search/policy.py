"""How the network enters the search: a small protocol, and the implementations behind it.

`PolicyValue.evaluate(states, k)` returns, per state, up to k distinct tactics with their sequence
log-probabilities, how many of the k samples each was, and a value (expected return, -steps). One call is one *expansion* of the budget,
however many states it batches.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class Suggestion:
    tactic: str
    log_prob: float
    count: float = 1  # how many of the K samples were this tactic (each adds prior mass); for a candidate
    # tactic, the number the network expects (search/candidates.py)


@dataclass(frozen=True)
class Evaluation:
    tactics: tuple[Suggestion, ...]
    value: float


class PolicyValue(Protocol):
    def evaluate(self, states: Sequence[str], k: int) -> list[Evaluation]: ...


@dataclass
class ScriptedPolicy:
    """Proposes a fixed list of tactics at every state (e.g. a known proof's tactics among distractors),
    in a seeded random order with made-up log-probabilities, and a constant value. For tests and as a
    model-free baseline: the search, not the policy, must find which tactic goes where."""

    tactics: Sequence[str]
    value: float = -1.0
    seed: int = 0

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)

    def evaluate(self, states: Sequence[str], k: int) -> list[Evaluation]:
        out = []
        for _ in states:
            chosen = self._rng.sample(list(dict.fromkeys(self.tactics)), min(k, len(set(self.tactics))))
            out.append(Evaluation(tuple(Suggestion(t, -float(i)) for i, t in enumerate(chosen)), self.value))
        return out


@dataclass
class NetworkPolicy:
    """The proof network (`model/`): K sampled (or beam) tactics and the value head, batched."""

    inference: object  # model.inference.ProofNetInference (imported lazily: torch stays out of search/)
    method: str = "sample"
    temperature: float = 1.0

    def evaluate(self, states: Sequence[str], k: int) -> list[Evaluation]:
        results = self.inference.policy_value(list(states), k=k, method=self.method, temperature=self.temperature)
        return [
            Evaluation(tuple(Suggestion(t.tactic, t.log_prob, t.count)
                             for t in r.tactics if t.finished and t.tactic.strip()),
                       r.value)
            for r in results
        ]
