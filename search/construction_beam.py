"""AlphaGeometry's loop: beam search over auxiliary constructions.

The proposer (a language model, or the human-designed heuristics) suggests constructions for each
problem on the beam; each suggestion is drawn into its problem and DD+AR runs on the result (one
*engine run* of the budget); the first run that derives the goal ends the search. Otherwise the
children, scored by their cumulative log-probability, form the next beam (at most `beam_size`), one
construction deeper, until `depth` constructions. A proposer that scores its suggestions by rank and a
wide beam make this breadth-first search.

The search knows no backend: the engine (`ConstructionEngine`) and the proposer (`search.policy.
PolicyValue`, the same protocol the prover's network serves) are protocols; states are opaque to it.
Budgets are counted (engine runs); the wall-clock limit is a safety net.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

from search.policy import PolicyValue

S = TypeVar("S")

SOLVED, EXHAUSTED, BUDGET, TIMEOUT = "solved", "saturated", "budget", "timeout"


@dataclass(frozen=True)
class Extension(Generic[S]):
    """A construction drawn into a state and deduced from: the new state and whether the goal fell;
    or `error` when the construction could not be drawn (then no engine run was spent)."""

    state: S | None
    solved: bool = False
    error: str = ""


class ConstructionEngine(Protocol[S]):
    def describe(self, state: S) -> str:
        """The text the proposer reads for this state."""

    def extend(self, state: S, construction: str) -> Extension[S]:
        """Draw `construction` into `state` and run DD+AR on the result."""


@dataclass(frozen=True)
class BeamConfig:
    beam_size: int = 4  # problems kept per depth
    depth: int = 2  # constructions added at most
    proposals: int = 8  # suggestions asked per problem on the beam
    max_engine_runs: int = 64  # the counted budget: DD+AR runs after the first (which the caller makes)
    wall_seconds: float = 600.0  # safety net only

    def __post_init__(self) -> None:
        if min(self.beam_size, self.depth, self.proposals, self.max_engine_runs) < 1:
            raise ValueError("beam_size, depth, proposals and max_engine_runs must be >= 1")
        if self.wall_seconds <= 0:
            raise ValueError("wall_seconds must be > 0")

    @property
    def budget(self) -> str:
        return f"beam {self.beam_size} x depth {self.depth}, {self.proposals} proposals/problem, <= {self.max_engine_runs} DD+AR runs"


@dataclass(frozen=True)
class BeamResult(Generic[S]):
    status: str  # SOLVED | EXHAUSTED (nothing left to try) | BUDGET | TIMEOUT
    constructions: tuple[str, ...]  # of the solved problem (or of the best problem on the last beam)
    state: S | None
    engine_runs: int
    invalid: int  # suggestions that could not be drawn (no engine run spent)
    proposer_calls: int  # problems the proposer was asked about
    depth: int  # constructions on the deepest problem tried


@dataclass
class _Node(Generic[S]):
    state: S
    constructions: tuple[str, ...]
    score: float


def beam_search(root: S, engine: ConstructionEngine[S], proposer: PolicyValue, config: BeamConfig,
                on_extend: Callable[[tuple[str, ...], Extension], None] | None = None) -> BeamResult[S]:
    """Search from `root` (a state DD+AR alone did not solve). `on_extend` sees every attempt."""
    start = time.monotonic()
    beam = [_Node(root, (), 0.0)]
    seen: set[frozenset[str]] = {frozenset()}
    runs = invalid = calls = deepest = 0

    def result(status: str, node: _Node | None) -> BeamResult:
        node = node or (beam[0] if beam else None)
        return BeamResult(status, node.constructions if node else (), node.state if node else None,
                          runs, invalid, calls, deepest)

    for level in range(1, config.depth + 1):
        evaluations = proposer.evaluate([engine.describe(n.state) for n in beam], config.proposals)
        calls += len(beam)
        candidates = [(node.score + s.log_prob, i, node, s.tactic.strip())
                      for i, (node, ev) in enumerate(zip(beam, evaluations)) for s in ev.tactics[: config.proposals]]
        candidates.sort(key=lambda c: (-c[0], c[1]))
        children: list[_Node] = []
        for score, _, node, construction in candidates:
            key = frozenset((*node.constructions, construction))
            if not construction or key in seen:
                continue
            seen.add(key)
            if runs >= config.max_engine_runs:
                return result(BUDGET, None)
            if time.monotonic() - start > config.wall_seconds:
                return result(TIMEOUT, None)
            ext = engine.extend(node.state, construction)
            if on_extend is not None:
                on_extend((*node.constructions, construction), ext)
            if ext.error:
                invalid += 1
                continue
            runs += 1
            deepest = level
            child = _Node(ext.state, (*node.constructions, construction), score)
            if ext.solved:
                return result(SOLVED, child)
            children.append(child)
        if not children:
            return result(EXHAUSTED, None)
        beam = children[: config.beam_size]  # candidates were tried best first: children are sorted
    return result(EXHAUSTED, None)
