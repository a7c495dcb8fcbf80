"""The AND-OR prover: MCTS (search/mcts.py) driven by a policy over a proof-assistant session.

Budgets are counted (DESIGN.md decision 1): expansions (policy calls) and tactic executions; the
wall-clock limit is only a safety net, and a proof found on the step that crosses it still counts.
A proof is reported only after the trusted checker accepts the rendered script.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from formal.coq.proof import render_proof
from formal.proof import ProofStep
from formal.result import EnvError, TacticOk
from formal.session import EnvironmentCrash, Session
from search.attempt import Attempt, crashed, search_verdict
from search.mcts import MCTS, Expansion, MCTSConfig, TacticOutcome
from search.policy import PolicyValue
from search.proof import extract_proof

log = logging.getLogger(__name__)

Verify = Callable[[str], tuple[bool, str]]


@dataclass(frozen=True)
class AndOrConfig:
    k: int = 8  # tactics sampled per expansion
    max_expansions: int = 400  # policy calls
    max_tactics: int = 0  # tactic executions; 0: no limit beyond what the expansions run
    max_env_errors: int = 3  # tactics the environment could not run before the attempt is an env_error
    wall_limit_s: float = 0.0  # safety net only; 0: none
    mcts: MCTSConfig = field(default_factory=MCTSConfig)

    def __post_init__(self) -> None:
        if self.k < 1 or self.max_expansions < 1 or self.max_tactics < 0 or self.max_env_errors < 1:
            raise ValueError("k, max_expansions, max_env_errors must be >= 1; max_tactics >= 0")
        if self.wall_limit_s < 0:  # a negative limit would stop every search before its first expansion
            raise ValueError(f"wall_limit_s must be >= 0 (0: none), got {self.wall_limit_s}")

    def budget_text(self) -> str:
        return f"{self.max_expansions} expansions x {self.k} samples"


@dataclass
class SearchOutcome:
    tree: MCTS
    proof: ProofStep | None
    expansions: int
    tactics: int
    env_errors: list[str]
    stopped_by: str  # proved | expansions | tactics | wall_clock | env_error | exhausted


def run_search(session: Session, policy: PolicyValue, config: AndOrConfig) -> SearchOutcome:
    tree = MCTS(session.root, config.mcts)
    expansions = tactics = 0
    env_errors: list[str] = []
    t0 = time.perf_counter()
    stopped_by = "expansions"
    while not tree.done:
        if tree.exhausted:  # every tactic tried failed and progressive sampling asks for no more
            stopped_by = "exhausted"
            break
        if expansions >= config.max_expansions:
            break
        if config.max_tactics and tactics >= config.max_tactics:
            stopped_by = "tactics"
            break
        if config.wall_limit_s and time.perf_counter() - t0 > config.wall_limit_s:
            stopped_by = "wall_clock"
            break
        path = tree.select()
        leaf = path[-1]
        (evaluation,) = policy.evaluate([leaf.state.printed], config.k)
        expansions += 1
        todo = set(tree.new_tactics(leaf, [s.tactic for s in evaluation.tactics]))
        outcomes = []
        for s in evaluation.tactics:
            states = None
            if s.tactic in todo:
                todo.discard(s.tactic)
                tactics += 1
                result = session.run_tactic(leaf.state, s.tactic)
                if isinstance(result, TacticOk):
                    states = result.states
                elif isinstance(result, EnvError):
                    env_errors.append(result.message)
            outcomes.append(TacticOutcome(s.tactic, s.log_prob, states, s.count))
        tree.expand(path, Expansion(evaluation.value, tuple(outcomes)))
        if len(env_errors) >= config.max_env_errors:
            stopped_by = "env_error"
            break
    if tree.done:
        stopped_by = "proved"
    proof = extract_proof(tree.root) if tree.done else None
    return SearchOutcome(tree, proof, expansions, tactics, env_errors, stopped_by)


@dataclass
class AndOrProver:
    policy: PolicyValue
    config: AndOrConfig = field(default_factory=AndOrConfig)
    render: Callable[[ProofStep], str] = render_proof
    last_tree: MCTS | None = None  # the most recent search tree (for tree views)
    last_proof: ProofStep | None = None  # the most recent proof found, states included (for search records)

    def prove(self, name: str, session: Session, verify: Verify) -> Attempt:
        t0 = time.perf_counter()
        try:
            outcome = run_search(session, self.policy, self.config)
        except EnvironmentCrash as e:
            return crashed(name, t0, e)
        self.last_tree, self.last_proof = outcome.tree, outcome.proof
        env = {"simulations": outcome.tree.simulations, "tree_nodes": sum(1 for _ in outcome.tree.root.iter_nodes())}
        return search_verdict(name, t0, outcome.proof, self.render, verify, outcome.stopped_by, outcome.env_errors,
                              outcome.expansions, outcome.tactics, env)
