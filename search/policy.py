"""How the network enters the search: a small protocol, and the implementations behind it.

`PolicyValue.evaluate(states, k)` returns, per state, up to k distinct tactics with their sequence
log-probabilities, how many of the k samples each was, and a value (expected return, -steps). One call is one *expansion* of the budget,
however many states it batches.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
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
    """The proof network (`model/`): K sampled (or beam) tactics and the value head, batched.

    Sampling noise: a state that is a `KeyedState` draws its samples from its own key (reproducible
    whatever else shares the call: `SeededPolicy` sends such states through a shared batching server);
    any other state from this policy's generator, seeded with `seed` (None: torch's global one, shared
    by every thread, so not reproducible)."""

    inference: object  # model.inference.ProofNetInference (imported lazily: torch stays out of search/)
    method: str = "sample"
    temperature: float = 1.0
    seed: int | None = None
    _generator: object = field(default=None, init=False, repr=False)

    def evaluate(self, states: Sequence[str], k: int) -> list[Evaluation]:
        if self.seed is not None and self._generator is None:
            self._generator = self.inference.generator(self.seed)
        keys = [getattr(s, "key", None) for s in states]
        results = self.inference.policy_value(list(states), k=k, method=self.method, temperature=self.temperature,
                                              generator=self._generator,
                                              keys=keys if any(key is not None for key in keys) else None)
        return [
            Evaluation(tuple(Suggestion(t.tactic, t.log_prob, t.count)
                             for t in r.tactics if t.finished and t.tactic.strip()),
                       r.value)
            for r in results
        ]


class KeyedState(str):
    """A state (the string itself) carrying `key`, the seed its samples are drawn with. A str, so that
    every policy between a search and the network (batching server, Ray client, candidate ranking)
    passes it on unchanged; pickles with its key."""

    key: int

    def __new__(cls, state: str, key: int) -> KeyedState:
        self = super().__new__(cls, state)
        self.key = key
        return self

    def __reduce__(self):
        return KeyedState, (str(self), self.key)


@dataclass
class SeededPolicy:
    """One search's view of a (possibly shared) policy, with sampling seeded by `seed`: the i-th state of
    its n-th call goes out as a `KeyedState` keyed by (seed, n, i). Its samples then depend on the seed
    and on what the search asked, never on the other searches' states batched with its own."""

    inner: PolicyValue
    seed: int
    calls: int = 0

    def evaluate(self, states: Sequence[str], k: int) -> list[Evaluation]:
        n, self.calls = self.calls, self.calls + 1
        return self.inner.evaluate([KeyedState(s, state_key(self.seed, n, i)) for i, s in enumerate(states)], k)


def state_key(seed: int, call: int, index: int) -> int:
    """A 63-bit key, a fixed function of (seed, call, index)."""
    digest = hashlib.sha256(f"{seed}/{call}/{index}".encode()).digest()
    return int.from_bytes(digest[:8], "big") >> 1
