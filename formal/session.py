"""What every backend's session offers the search, and the two ways opening one can fail."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from formal.goal import GoalState
from formal.result import EnvError, TacticResult
from formal.theorem import Theorem


class InvalidStatement(ValueError):
    """The theorem's header or statement does not elaborate: nothing to prove."""


class EnvironmentCrash(RuntimeError):
    """The proof assistant could not be started or recovered."""


@dataclass
class SessionStats:
    """Counters a report can show. Replays are the price of Coq's linear document."""

    tactics: int = 0  # tactics sent to the proof assistant
    cache_hits: int = 0  # (state, tactic) pairs answered from the cache
    rejected: int = 0  # tactics the sandbox refused
    switches: int = 0  # moves of the document to another branch
    replayed: int = 0  # sentences re-executed by those moves
    switch_ms: float = 0.0  # wall time spent moving between branches
    restarts: int = 0  # processes restarted after a crash or hang
    timeouts: int = 0
    env_errors: int = 0

    def as_dict(self) -> dict[str, float]:
        return {k: round(v, 1) if isinstance(v, float) else v for k, v in dataclasses.asdict(self).items()}


def cached_run(stats: SessionStats, cache: dict[str, TacticResult], tactic: str,
               run: Callable[[str], TacticResult]) -> TacticResult:
    """`cache[tactic]`, or `run(tactic)` remembered there; an env error is not remembered (it may not
    recur, so the tactic may be tried again later)."""
    if tactic in cache:
        stats.cache_hits += 1
        return cache[tactic]
    result = run(tactic)
    if not isinstance(result, EnvError):
        cache[tactic] = result
    return result


class Session(Protocol):
    """An open proof attempt: apply tactics to any state seen so far, in any order."""

    theorem: Theorem
    root: GoalState
    stats: SessionStats

    def run_tactic(self, state: GoalState, tactic: str) -> TacticResult: ...

    def close(self) -> None: ...
