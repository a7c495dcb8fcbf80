"""What `proofzero eval` runs: one prover, its policy, its budget, and what to keep besides the results.

The proof assistant is the suite's: Coq theorems use `coq` and `checker` (and the `prelude`), Lean
theorems `lean` (the REPL sessions) and `lean_checker` (the trusted checker); see docs/lean.md."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from formal.coq.checker import CheckerConfig
from formal.coq.session import CoqConfig
from formal.lean.checker import LeanCheckerConfig
from formal.lean.session import LeanConfig
from search.andor import AndOrConfig
from search.automation import AutomationConfig
from search.bestfirst import BestFirstConfig
from search.candidates import resolve_candidates
from search.distributed import RayConfig
from search.htps import HTPSConfig

PROVERS = ("automation", "bestfirst", "andor", "htps")
POLICIES = ("network", "scripted", "candidates")


@dataclass(frozen=True)
class PolicyConfig:
    """The proof network behind the learned provers (or a scripted stand-in, for tests and ablations)."""

    kind: str = "network"  # network | scripted | candidates (model-free: the candidates, uniform priors)
    checkpoint: str = ""  # network: an export dir, a .ckpt, a ZeRO checkpoint dir or a training run dir
    method: str = "sample"  # sample | beam
    temperature: float = 1.0
    device: str = "cpu"
    decoder: str = "fast"  # fast (model/decoding.py) | hf (the Hugging Face forward: the old path, for comparisons)
    tactics: tuple[str, ...] = ()  # scripted: the tactics proposed at every state, in a seeded order
    batch: bool = True  # share one batching server between the theorems in flight
    max_batch: int = 32  # states per model call
    max_wait_ms: float = 5.0  # how long the server waits to fill a batch
    # Candidate tactics the network ranks at every expansion, joined to its samples
    # (search/candidates.py): none | default (the backend's list) | a file | a list of tactics.
    candidates: Any = "none"

    def __post_init__(self) -> None:
        if self.kind not in POLICIES:
            raise ValueError(f"policy.kind must be one of {', '.join(POLICIES)}, got {self.kind!r}")
        if self.method not in ("sample", "beam"):
            raise ValueError("policy.method must be sample or beam")
        if self.decoder not in ("fast", "hf"):
            raise ValueError("policy.decoder must be fast or hf")
        if self.temperature <= 0 or self.max_batch < 1 or self.max_wait_ms < 0:
            raise ValueError("policy.temperature must be > 0, max_batch >= 1, max_wait_ms >= 0")
        spec = self.candidates
        if isinstance(spec, list):
            object.__setattr__(self, "candidates", tuple(spec))
        resolve_candidates(self.candidates, "coq")  # the spec's shape and file, checked up front
        if self.kind == "candidates" and self.candidates in ("none", "", None):
            raise ValueError("policy.kind=candidates needs policy.candidates (default, a file or a list)")

    def candidate_tactics(self, backend: str) -> tuple[str, ...]:
        return resolve_candidates(self.candidates, backend)


@dataclass(frozen=True)
class EvalConfig:
    name: str = ""  # label in comparisons (default: the prover)
    prover: str = "andor"  # automation | bestfirst | andor | htps
    attempts: int = 1  # pass@k: independent attempts per theorem, stopping at the first proof
    seed: int = 0
    workers: int = 2  # theorems in flight at once, each with its own Coq or Lean process
    runner: str = "threads"  # threads (one process) | ray (prover actors, local or a cluster: see `ray`)
    # Coq only: put before each statement's own header so that the tactics the policy proposes exist;
    # the checker verifies the proof with exactly this header. (A Lean statement's header is complete.)
    prelude: str = "From Coq Require Import Lia Lra Psatz."
    limit: int = 0  # only the first N theorems by name; 0 = all
    trees: str = "proved"  # tree views to write: proved | all | none
    max_trees: int = 50  # at most this many tree views per prover
    records: bool = True  # write each verified proof as a search record (training data)
    policy: PolicyConfig = field(default_factory=PolicyConfig)
    automation: AutomationConfig = field(default_factory=AutomationConfig)
    bestfirst: BestFirstConfig = field(default_factory=BestFirstConfig)
    andor: AndOrConfig = field(default_factory=AndOrConfig)
    htps: HTPSConfig = field(default_factory=HTPSConfig)
    coq: CoqConfig = field(default_factory=CoqConfig)
    checker: CheckerConfig = field(default_factory=CheckerConfig)
    lean: LeanConfig = field(default_factory=LeanConfig)  # Lean suites: the REPL and its limits
    lean_checker: LeanCheckerConfig = field(default_factory=LeanCheckerConfig)  # Lean suites: the trusted checker
    ray: RayConfig = field(default_factory=RayConfig)  # runner=ray: ray.num_actors theorems in flight

    def __post_init__(self) -> None:
        if self.prover not in PROVERS:
            raise ValueError(f"unknown prover {self.prover!r}; available: {', '.join(PROVERS)}")
        if self.attempts < 1 or self.workers < 1 or self.limit < 0 or self.max_trees < 0:
            raise ValueError("attempts and workers must be >= 1, limit and max_trees >= 0")
        if self.runner not in ("threads", "ray"):
            raise ValueError("runner must be threads or ray")
        if self.trees not in ("proved", "all", "none"):
            raise ValueError("trees must be proved, all or none")
        if self.prover != "automation" and self.policy.kind == "scripted" and not self.policy.tactics:
            raise ValueError("policy.kind=scripted needs policy.tactics")

    @property
    def label(self) -> str:
        return self.name or self.prover

    @property
    def uses_policy(self) -> bool:
        return self.prover != "automation"

    @property
    def effective_attempts(self) -> int:
        """The automation portfolio is deterministic: a second attempt would repeat the first."""
        return 1 if self.prover == "automation" else self.attempts

    def budget_text(self) -> str:
        """The budget a pass rate is stated at, e.g. `pass@1, 400 expansions x 8 samples (andor)`."""
        per = {
            "automation": f"{self.automation.budget} tactic executions",
            "bestfirst": self.bestfirst.budget_text(),
            "andor": self.andor.budget_text(),
            "htps": self.htps.budget_text(),
        }[self.prover]
        return f"pass@{self.effective_attempts}, {per}{self.candidates_text()} ({self.label})"

    def candidates_text(self, backend: str = "coq") -> str:
        """How the candidate tactics enter, for the budget line: they change what a budget buys."""
        if not self.uses_policy or self.policy.kind == "scripted":
            return ""
        n = len(self.policy.candidate_tactics(backend))
        if self.policy.kind == "candidates":
            return f", {n} candidate tactics, uniform priors (no model)"
        return f", + {n} candidate tactics ranked by the network" if n else ""
