"""One RL game: one attempt at proving (or disproving) one problem at a given simulation budget.

The same machinery as an evaluation attempt (`eval.attempts`: the backend's session, the prover,
the trusted checker as the search's `verify`), with the budget the matchmaker chose. A disproof is a
proof of `Theorem.negation()` (ALGORITHMS.md, "Disprove"), checked by the same checker. A game whose
root the checker verified carries its search record (the RL targets of `data/experience.py`);
no other game does, so nothing unverified can reach replay.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from dataclasses import dataclass

from data.experience import search_record
from data.records import TracedTheorem
from eval.attempts import PolicyFor, Pools, Verifier, backend_for, build_prover, with_prelude
from eval.config import EvalConfig
from formal.goal import Goal
from formal.session import EnvironmentCrash, InvalidStatement
from formal.theorem import Theorem
from search.attempt import Status
from search.frontier import open_goals

OPEN_GOALS = 8  # open goals a failed prove game reports

log = logging.getLogger(__name__)


@dataclass
class GameResult:
    status: str  # proved | disproved | failed | env_error | invalid_statement
    expansions: int = 0
    tactics: int = 0
    seconds: float = 0.0
    message: str = ""
    record: TracedTheorem | None = None  # set only for a checker-verified proof or disproof
    proof: str = ""  # the checker-verified script (of the negation, for a disproof)
    open_goals: tuple[Goal, ...] = ()  # a failed prove game: the deepest goals its search left open (TTRL lemmas)


def with_budget(cfg: EvalConfig, budget: int) -> EvalConfig:
    """`cfg` with the prover's simulation budget (max expansions) set to `budget`."""
    if cfg.prover == "automation":
        return cfg
    section = getattr(cfg, cfg.prover)
    return dataclasses.replace(cfg, **{cfg.prover: dataclasses.replace(section, max_expansions=budget)})


def play(theorem: Theorem, mode: str, budget: int, cfg: EvalConfig, policy_for: PolicyFor | None,
         pools: Pools | None, game_id: str, source: str = "rl") -> GameResult:
    """Play one game; environment failures come back as `env_error`, never as a failed proof."""
    t0 = time.perf_counter()
    target = theorem.negation() if mode == "disprove" else theorem
    target = with_prelude(target, cfg)
    cfg = with_budget(cfg, budget)
    backend = backend_for(target, cfg, pools)
    verify = Verifier(lambda script: backend.check(target, script))
    policy = policy_for(f"{theorem.name}/{game_id}", 0) if cfg.uses_policy and policy_for else None
    prover = build_prover(cfg, policy, backend.render)
    try:
        with backend.open_session(target) as session:
            a = verify.finish(prover.prove(target.name, session, verify))
    except InvalidStatement as e:
        # A negation that does not elaborate says nothing about the statement itself.
        status = "invalid_statement" if mode == "prove" else "env_error"
        return GameResult(status, seconds=time.perf_counter() - t0, message=str(e))
    except EnvironmentCrash as e:
        return GameResult("env_error", seconds=time.perf_counter() - t0, message=str(e))
    result = GameResult(a.status.value, int(a.env.get("expansions", 0)), a.tactics_used,
                        time.perf_counter() - t0, a.message)
    if a.status is Status.FAILED and mode == "prove" and getattr(prover, "last_tree", None) is not None:
        result.open_goals = tuple(open_goals(prover.last_tree, OPEN_GOALS))
    if a.status is Status.PROVED:
        result.proof = a.proof or ""
        proof = getattr(prover, "last_proof", None)
        if mode == "disprove":
            result.status = "disproved"
        if proof is not None:
            result.record = search_record(target.name, proof, statement=target.declaration(),
                                          file_path=theorem.source, backend=theorem.backend,
                                          source=f"{source}:{mode}")
        else:  # automation keeps no proof tree: the game counts, but gives no training data
            log.info("%s: verified, but the prover kept no proof tree for replay", theorem.name)
    return result
