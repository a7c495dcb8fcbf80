"""The best-first baseline (ReProver-style, OR only; ALGORITHMS.md "Best-first baseline").

A priority queue of whole proof states -- the list of goal states still open, in goal order -- ordered
by the cumulative log-probability of the tactics that reached them. Expanding a state asks the policy
for K tactics for its first open goal state and runs them; a tactic's new goal states replace that goal
at the front. No value function. Same budget units as the AND-OR prover: expansions and tactics.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from formal.coq.proof import render_proof
from formal.goal import GoalState
from formal.proof import ProofStep
from formal.result import EnvError, TacticOk
from formal.session import EnvironmentCrash, Session
from search.attempt import Attempt, Status, conclude
from search.policy import PolicyValue

log = logging.getLogger(__name__)

Verify = Callable[[str], tuple[bool, str]]


@dataclass(frozen=True)
class BestFirstConfig:
    k: int = 8
    max_expansions: int = 400
    max_tactics: int = 0  # 0: no limit beyond what the expansions run
    max_env_errors: int = 3
    wall_limit_s: float = 0.0  # safety net only

    def __post_init__(self) -> None:
        if self.k < 1 or self.max_expansions < 1 or self.max_tactics < 0 or self.max_env_errors < 1:
            raise ValueError("k, max_expansions, max_env_errors must be >= 1; max_tactics >= 0")
        if self.wall_limit_s < 0:  # a negative limit would stop every search before its first expansion
            raise ValueError(f"wall_limit_s must be >= 0 (0: none), got {self.wall_limit_s}")

    def budget_text(self) -> str:
        return f"{self.max_expansions} expansions x {self.k} samples"


@dataclass(eq=False)
class _Entry:
    """A whole proof state: the open goal states, how it was reached, its cumulative log-probability."""

    open_states: tuple[GoalState, ...]
    log_prob: float
    parent: _Entry | None = None
    tactic: str | None = None  # applied to the parent's first open goal state
    produced: int = 0  # goal states that tactic left (they head `open_states`)


def linear_steps(entry: _Entry) -> list[tuple[str, int, str, tuple[int, ...]]]:
    """(tactic, goal states it left, printed state it acted on, that state's slots) from the root to
    `entry`, each acting on the first open goal."""
    steps = []
    while entry.parent is not None:
        acted = entry.parent.open_states[0]
        steps.append((entry.tactic, entry.produced, acted.printed, acted.slots))
        entry = entry.parent
    return steps[::-1]


def to_proof(steps: list[tuple]) -> ProofStep:
    """The depth-first, first-goal-first tactic sequence, (tactic, produced[, state[, slots]]) each, as a
    ProofStep tree."""
    it = iter(steps)

    def take() -> ProofStep:
        tactic, produced, *state = next(it)
        return ProofStep(tactic, tuple(take() for _ in range(produced)), *state)

    return take()


@dataclass
class BestFirstProver:
    policy: PolicyValue
    config: BestFirstConfig = field(default_factory=BestFirstConfig)
    render: Callable[[ProofStep], str] = render_proof
    last_proof: ProofStep | None = None  # the most recent proof found, states included (for search records)

    def prove(self, name: str, session: Session, verify: Verify) -> Attempt:
        t0 = time.perf_counter()
        cfg = self.config
        attempt = Attempt(name=name, status=Status.FAILED)
        tie = itertools.count()
        queue = [(-0.0, next(tie), _Entry((session.root,), 0.0))]
        seen = {(session.root.printed,)}
        expansions, env_errors, found, stopped_by = 0, [], None, "expansions"
        try:
            while queue and found is None:
                if expansions >= cfg.max_expansions:
                    break
                if cfg.max_tactics and attempt.tactics_used >= cfg.max_tactics:
                    stopped_by = "tactics"
                    break
                if cfg.wall_limit_s and time.perf_counter() - t0 > cfg.wall_limit_s:
                    stopped_by = "wall_clock"
                    break
                _, _, entry = heapq.heappop(queue)
                goal, rest = entry.open_states[0], entry.open_states[1:]
                (evaluation,) = self.policy.evaluate([goal.printed], cfg.k)
                expansions += 1
                for s in {s.tactic: s for s in evaluation.tactics}.values():
                    attempt.tactics_used += 1
                    result = session.run_tactic(goal, s.tactic)
                    if isinstance(result, EnvError):
                        env_errors.append(result.message)
                        continue
                    if not isinstance(result, TacticOk):
                        continue
                    child = _Entry((*result.states, *rest), entry.log_prob + s.log_prob, entry, s.tactic,
                                   len(result.states))
                    if not child.open_states:
                        found = child
                        break
                    key = tuple(st.printed for st in child.open_states)
                    if key not in seen:  # a whole state reached twice is searched once
                        seen.add(key)
                        heapq.heappush(queue, (-child.log_prob, next(tie), child))
                if len(env_errors) >= cfg.max_env_errors:
                    stopped_by = "env_error"
                    break
            else:
                stopped_by = "proved" if found is not None else "exhausted"
        except EnvironmentCrash as e:
            env_errors.append(str(e))
            stopped_by = "env_error"
        attempt.env = {"expansions": expansions, "stopped_by": stopped_by, "queue": len(queue)}
        self.last_proof = to_proof(linear_steps(found)) if found is not None else None
        script = self.render(self.last_proof) if self.last_proof is not None else None
        conclude(attempt, script, verify, stopped_by, env_errors, expansions)
        attempt.seconds = time.perf_counter() - t0
        return attempt
