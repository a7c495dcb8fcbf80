"""One theorem, up to k attempts: the `prove_one` that `eval.runner.run_suite` calls per theorem.

Each attempt gets a fresh session and a fresh prover; the first checker-verified proof ends the
theorem (pass@k). Besides the row, a proved theorem leaves a search record (training data, in the
tracer's shard format) and a tree view a person can open.

The theorem's backend picks the proof assistant (`Backend`): its session (Coq: `CoqSession`; Lean:
`LeanSession`), its trusted checker and the renderer that writes the search's proof as that
checker's script. A checker that cannot run (Lean without `lake`: `LeanToolMissing`) makes the
row an env_error that says a proof was found but not checked -- never `proved`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from data.experience import append_records, search_record
from eval.config import EvalConfig
from formal.coq.checker import verify_proof
from formal.coq.pool import ProcessPool
from formal.coq.proof import render_proof as render_coq
from formal.coq.session import CoqSession
from formal.lean.checker import verify_lean_proof
from formal.lean.pool import REPLPool
from formal.lean.proof import render_proof as render_lean
from formal.lean.session import LeanSession
from formal.proof import ProofStep
from formal.session import EnvironmentCrash, InvalidStatement, Session
from formal.theorem import Theorem
from formal.verdict import Verdict
from search.andor import AndOrProver
from search.attempt import Attempt, Status
from search.automation import AutomationProver
from search.bestfirst import BestFirstProver
from search.candidates import CandidatePolicy
from search.htps import HTPSProver
from search.policy import PolicyValue, ScriptedPolicy, SeededPolicy
from search.treeview import write_tree

log = logging.getLogger(__name__)

PolicyFor = Callable[[str, int], PolicyValue]  # (theorem name, attempt index) -> the policy to use
Render = Callable[[ProofStep], str]
UNCHECKED = "the search found a proof that the trusted checker could not check (not counted as proved)"


@dataclass
class Verifier:
    """The `verify` callback a search gets: the trusted checker's verdict, and nothing else, decides.

    A checker that could not run (Lean without `lake`) or could not finish (time or memory limit)
    gives no verdict; the attempt goes on as if the proof were not there, and `finish` makes the row
    an env_error that says so (DESIGN decision 2) unless another proof was verified."""

    check: Callable[[str], Verdict]
    unchecked: list[str] = field(default_factory=list)  # why the checker gave no verdict

    def __call__(self, script: str) -> tuple[bool, str]:
        try:
            v = self.check(script)
        except EnvironmentCrash as e:  # e.g. LeanToolMissing: no verdict at all, so no proof
            self.unchecked.append(str(e))
            return False, f"the checker could not run: {e}"
        if v.inconclusive:
            self.unchecked.append(f"{v.reason}: {v.message}")
            return False, f"the checker could not finish ({v.reason}): {v.message}"
        return v.verified, v.message or v.reason

    def finish(self, row: Attempt) -> Attempt:
        if self.unchecked and row.status is not Status.PROVED:
            row.status, row.proof, row.message = Status.ENV_ERROR, None, f"{UNCHECKED}: {self.unchecked[-1]}"
        return row


def build_prover(cfg: EvalConfig, policy: PolicyValue | None, render: Render = render_coq):
    """The prover `cfg.prover` names, around `policy` (ignored by automation), writing its proofs
    with `render` (the theorem's backend's script writer)."""
    if cfg.prover == "automation":
        return AutomationProver(cfg.automation)
    if policy is None:
        raise ValueError(f"prover {cfg.prover} needs a policy")
    return {"bestfirst": lambda: BestFirstProver(policy, cfg.bestfirst, render=render),
            "andor": lambda: AndOrProver(policy, cfg.andor, render=render),
            "htps": lambda: HTPSProver(policy, cfg.htps, render=render)}[cfg.prover]()


@dataclass
class Pools:
    """Warm proof-assistant processes shared by the theorems of a run, one pool per backend (both
    start processes only when a session asks)."""

    coq: ProcessPool | None = None
    lean: REPLPool | None = None

    def close(self) -> None:
        for pool in (self.coq, self.lean):
            if pool is not None:
                pool.close()

    def __enter__(self) -> Pools:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def make_pools(cfg: EvalConfig, max_idle: int) -> Pools:
    return Pools(ProcessPool(cfg.coq.argv(), cfg.coq.memory_mb, cfg.coq.start_timeout_s, max_idle=max_idle),
                 cfg.lean.make_pool(max_idle=max_idle))


@dataclass(frozen=True)
class Backend:
    """What one theorem's proof assistant gives an attempt: a session, the trusted checker, and the
    renderer that turns the search's proof into that checker's script."""

    open_session: Callable[[Theorem], Session]
    check: Callable[[Theorem, str], Verdict]
    render: Render


def backend_for(theorem: Theorem, cfg: EvalConfig, pools: Pools | None = None) -> Backend:
    if theorem.backend == "lean":
        lean_pool = pools.lean if pools is not None else None
        return Backend(lambda t: LeanSession(t, cfg.lean, lean_pool),
                       lambda t, script: verify_lean_proof(t, script, cfg.lean_checker), render_lean)
    coq_pool = pools.coq if pools is not None else None
    return Backend(lambda t: CoqSession(t, cfg.coq, coq_pool),
                   lambda t, script: verify_proof(t, script, cfg.checker), render_coq)


def with_prelude(theorem: Theorem, cfg: EvalConfig) -> Theorem:
    """Coq: the prelude goes before the statement's own header (the checker sees the same header).
    A Lean statement's header is complete as the suite gives it."""
    if theorem.backend != "coq":
        return theorem
    return dataclasses.replace(theorem, header=f"{cfg.prelude}\n{theorem.header}")


def attempt_seed(seed: int, name: str, attempt: int) -> int:
    """The seed of one attempt at one theorem: a fixed function of the run's seed, the theorem and the attempt."""
    digest = hashlib.sha256(f"{seed}/{name}/{attempt}".encode()).digest()
    return int.from_bytes(digest[:8], "big")


def scripted_policies(cfg: EvalConfig) -> PolicyFor:
    """A fresh, seeded scripted policy per (theorem, attempt): reproducible whatever the thread order."""

    def policy_for(name: str, attempt: int) -> PolicyValue:
        return ScriptedPolicy(cfg.policy.tactics, seed=attempt_seed(cfg.seed, name, attempt))

    return policy_for


def candidate_policies(cfg: EvalConfig, backend: str) -> PolicyFor:
    """The model-free candidate search (`policy.kind=candidates`): the backend's candidate tactics at
    every state, uniform priors. Deterministic, so one policy serves every attempt."""
    policy = CandidatePolicy(cfg.policy.candidate_tactics(backend))
    return lambda name, attempt: policy


def seeded_policies(cfg: EvalConfig, policy: PolicyValue) -> PolicyFor:
    """Per (theorem, attempt), a view of the shared network `policy` (a batching server, a Ray client)
    whose samples are seeded by the attempt alone: two runs of the same eval sample the same tactics,
    whatever the threads and the batches."""

    def policy_for(name: str, attempt: int) -> PolicyValue:
        return SeededPolicy(policy, attempt_seed(cfg.seed, name, attempt))

    return policy_for


def safe_name(name: str) -> str:
    """A theorem name as a file name (names come from suite files: untrusted)."""
    return re.sub(r"[^\w.-]", "_", name)[:120] or "_"


def tree_of(prover) -> dict | None:
    """The serialized search tree or graph of the prover's last attempt, if it keeps one."""
    tree = getattr(prover, "last_tree", None)
    if tree is None:
        return None
    root = getattr(tree, "root", None)
    return root.serialize() if root is not None and hasattr(root, "serialize") else tree.serialize()


@dataclass
class Artifacts:
    """Where tree views and search records go; shared by the worker threads."""

    out_dir: Path
    trees: str = "proved"
    max_trees: int = 50
    records: bool = True
    source: str = ""
    _written: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def records_path(self) -> Path:
        return self.out_dir / "records.jsonl"

    def tree(self, name: str, attempt: int, tree: dict | None, proved: bool) -> str | None:
        if tree is None or self.trees == "none" or (self.trees == "proved" and not proved):
            return None
        with self._lock:
            if self._written >= self.max_trees:
                return None
            self._written += 1
        page, _ = write_tree(tree, self.out_dir / "trees" / f"{safe_name(name)}.{attempt}",
                             title=f"{name} (attempt {attempt + 1}{', proved' if proved else ''})")
        return str(page.relative_to(self.out_dir))

    def record(self, theorem: Theorem, proof) -> None:
        if not self.records or proof is None:
            return
        rec = search_record(theorem.name, proof, statement=theorem.declaration(), file_path=theorem.source,
                            backend=theorem.backend, source=self.source)
        with self._lock:
            append_records(self.records_path, [rec])


def make_prove_one(cfg: EvalConfig, policy_for: PolicyFor | None, artifacts: Artifacts,
                   pools: Pools | None = None) -> Callable[[Theorem], Attempt]:
    def prove_one(theorem: Theorem) -> Attempt:
        theorem = with_prelude(theorem, cfg)
        backend = backend_for(theorem, cfg, pools)
        verify = Verifier(lambda script: backend.check(theorem, script))

        tries: list[Attempt] = []
        env: dict[str, float] = {}
        for i in range(cfg.effective_attempts):
            policy = policy_for(theorem.name, i) if cfg.uses_policy and policy_for else None
            prover = build_prover(cfg, policy, backend.render)
            try:
                with backend.open_session(theorem) as session:
                    a = prover.prove(theorem.name, session, verify)
                    _add(env, session.stats.as_dict())
            except InvalidStatement as e:
                return Attempt(theorem.name, Status.INVALID_STATEMENT, message=str(e))
            except EnvironmentCrash as e:
                a = Attempt(theorem.name, Status.ENV_ERROR, message=str(e))
            _add(env, {k: v for k, v in a.env.items() if k in ("expansions", "simulations")})
            tries.append(a)
            proved = a.status is Status.PROVED
            page = artifacts.tree(theorem.name, i, tree_of(prover), proved)
            if page:
                env["tree"] = page
            if proved:
                artifacts.record(theorem, getattr(prover, "last_proof", None))
                break
            if verify.unchecked:  # the next attempt's proof could not be checked either
                break
        return verify.finish(_combine(theorem.name, tries, env))

    return prove_one


def _add(total: dict, more: dict) -> None:
    for k, v in more.items():
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            total[k] = total.get(k, 0) + v


def _combine(name: str, tries: list[Attempt], env: dict) -> Attempt:
    """pass@k: proved if any attempt was; env_error only if no attempt got to spend its budget."""
    last = tries[-1]
    proved = next((a for a in tries if a.status is Status.PROVED), None)
    if proved is not None:
        status, proof, message = Status.PROVED, proved.proof, proved.message
    elif any(a.status is Status.FAILED for a in tries):
        failed = next(a for a in reversed(tries) if a.status is Status.FAILED)
        status, proof, message = Status.FAILED, None, failed.message
    else:
        status, proof, message = last.status, None, last.message
    env = {**env, "attempts": len(tries), "stopped_by": last.env.get("stopped_by", last.status.value)}
    return Attempt(name, status, proof=proof, tactics_used=sum(a.tactics_used for a in tries),
                   tactics_tried=[t for a in tries for t in a.tactics_tried][:200],
                   seconds=sum(a.seconds for a in tries), message=message, env=env)


@dataclass
class ProverFactory:
    """Builds the theorem prover inside a Ray actor: configs, paths and a picklable policy client only,
    so it pickles; each actor gets its own Coq and Lean process pools. Tree views and records go to
    `out_dir`, which on a cluster must be a shared file system."""

    cfg: EvalConfig
    out_dir: str
    source: str = ""
    policy: PolicyValue | None = None  # network provers: e.g. a `search.distributed.RemotePolicy`
    backend: str = "coq"  # the suite's: picks the default candidate tactics

    def __call__(self) -> ActorProver:
        cfg = self.cfg
        pools = make_pools(cfg, max_idle=1)
        artifacts = Artifacts(Path(self.out_dir), cfg.trees, cfg.max_trees, cfg.records, source=self.source)
        if not cfg.uses_policy:
            policy_for = None
        elif cfg.policy.kind == "scripted":
            policy_for = scripted_policies(cfg)
        elif cfg.policy.kind == "candidates":
            policy_for = candidate_policies(cfg, self.backend)
        else:
            policy_for = seeded_policies(cfg, self.policy)
        return ActorProver(make_prove_one(cfg, policy_for, artifacts, pools), pools)


@dataclass
class ActorProver:
    prove_one: Callable[[Theorem], Attempt]
    pools: Pools

    def __call__(self, theorem: Theorem) -> Attempt:
        return self.prove_one(theorem)

    def close(self) -> None:
        self.pools.close()
