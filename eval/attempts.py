"""One theorem, up to k attempts, on Coq: the `prove_one` that `eval.runner.run_suite` calls per theorem.

Each attempt gets a fresh session and a fresh prover; the first checker-verified proof ends the
theorem (pass@k). Besides the row, a proved theorem leaves a search record (training data, in the
tracer's shard format) and a tree view a person can open.
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
from formal.coq.session import CoqSession
from formal.session import EnvironmentCrash, InvalidStatement
from formal.theorem import Theorem
from search.andor import AndOrProver
from search.attempt import Attempt, Status
from search.automation import AutomationProver
from search.bestfirst import BestFirstProver
from search.htps import HTPSProver
from search.policy import PolicyValue, ScriptedPolicy
from search.treeview import write_tree

log = logging.getLogger(__name__)

PolicyFor = Callable[[str, int], PolicyValue]  # (theorem name, attempt index) -> the policy to use


def build_prover(cfg: EvalConfig, policy: PolicyValue | None):
    """The prover `cfg.prover` names, around `policy` (ignored by automation)."""
    if cfg.prover == "automation":
        return AutomationProver(cfg.automation)
    if policy is None:
        raise ValueError(f"prover {cfg.prover} needs a policy")
    return {"bestfirst": lambda: BestFirstProver(policy, cfg.bestfirst),
            "andor": lambda: AndOrProver(policy, cfg.andor),
            "htps": lambda: HTPSProver(policy, cfg.htps)}[cfg.prover]()


def scripted_policies(cfg: EvalConfig) -> PolicyFor:
    """A fresh, seeded scripted policy per (theorem, attempt): reproducible whatever the thread order."""

    def policy_for(name: str, attempt: int) -> PolicyValue:
        digest = hashlib.sha256(f"{cfg.seed}/{name}/{attempt}".encode()).digest()
        return ScriptedPolicy(cfg.policy.tactics, seed=int.from_bytes(digest[:8], "big"))

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
                            source=self.source)
        with self._lock:
            append_records(self.records_path, [rec])


def make_prove_one(cfg: EvalConfig, policy_for: PolicyFor | None, artifacts: Artifacts,
                   pool: ProcessPool | None = None) -> Callable[[Theorem], Attempt]:
    def prove_one(theorem: Theorem) -> Attempt:
        theorem = dataclasses.replace(theorem, header=f"{cfg.prelude}\n{theorem.header}")

        def verify(script: str) -> tuple[bool, str]:
            v = verify_proof(theorem, script, cfg.checker)
            return v.verified, v.message or v.reason

        tries: list[Attempt] = []
        env: dict[str, float] = {}
        for i in range(cfg.effective_attempts):
            prover = build_prover(cfg, policy_for(theorem.name, i) if cfg.uses_policy and policy_for else None)
            try:
                with CoqSession(theorem, cfg.coq, pool) as session:
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
        return _combine(theorem.name, tries, env)

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
        status, proof, message = Status.FAILED, None, next(a for a in reversed(tries) if a.status is Status.FAILED).message
    else:
        status, proof, message = last.status, None, last.message
    env = {**env, "attempts": len(tries), "stopped_by": last.env.get("stopped_by", last.status.value)}
    return Attempt(name, status, proof=proof, tactics_used=sum(a.tactics_used for a in tries),
                   tactics_tried=[t for a in tries for t in a.tactics_tried][:200],
                   seconds=sum(a.seconds for a in tries), message=message, env=env)


@dataclass
class ProverFactory:
    """Builds the theorem prover inside a Ray actor: configs, paths and a picklable policy client only,
    so it pickles; each actor gets its own Coq process pool. Tree views and records go to `out_dir`,
    which on a cluster must be a shared file system."""

    cfg: EvalConfig
    out_dir: str
    source: str = ""
    policy: PolicyValue | None = None  # network provers: e.g. a `search.distributed.RemotePolicy`

    def __call__(self) -> ActorProver:
        cfg = self.cfg
        pool = ProcessPool(cfg.coq.argv(), cfg.coq.memory_mb, cfg.coq.start_timeout_s, max_idle=1)
        artifacts = Artifacts(Path(self.out_dir), cfg.trees, cfg.max_trees, cfg.records, source=self.source)
        if not cfg.uses_policy:
            policy_for = None
        elif cfg.policy.kind == "scripted":
            policy_for = scripted_policies(cfg)
        else:
            policy = self.policy
            policy_for = lambda name, attempt: policy
        return ActorProver(make_prove_one(cfg, policy_for, artifacts, pool), pool)


@dataclass
class ActorProver:
    prove_one: Callable[[Theorem], Attempt]
    pool: ProcessPool

    def __call__(self, theorem: Theorem) -> Attempt:
        return self.prove_one(theorem)

    def close(self) -> None:
        self.pool.close()
