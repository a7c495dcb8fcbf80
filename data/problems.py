"""Problem sources for the RL loop: statements to attempt, never their proofs (DESIGN.md, "problem sources").

A source is anything with a `name` and `problems()`; a suite is one, a traced library is another
(`TracedSource`: each traced theorem's opening goal as a closed statement), MathScale's formal
realisation a third (`data.mathscale.formal.MathScaleSource`: Coq-decided statements composed from
concept walks), and the variant generator is another. `split_by_hash` cuts a suite into an RL pool and a held-out pool by a
hash of each name (stable across machines, runs and suite edits), and `decontaminate` drops from a
pool every statement whose proposition is also in a held-out suite, under any name.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from data.decontaminate import proposition_key
from formal.goal import Goal
from formal.suite import Suite, load_suite
from formal.theorem import Theorem

log = logging.getLogger(__name__)


class ProblemSource(Protocol):
    name: str

    def problems(self) -> list[Theorem]: ...


@dataclass
class SuiteSource:
    """The statements of a suite that parse (an unparsable file is logged, not attempted), optionally
    only those named in `names`."""

    suite: Suite
    names: frozenset[str] | None = None

    @property
    def name(self) -> str:
        return self.suite.name

    def problems(self) -> list[Theorem]:
        keep = self.names
        return sorted((t for t in self.suite.theorems if keep is None or t.name in keep), key=lambda t: t.name)


def goal_theorem(name: str, goal: Goal, header: str = "", source: str = "") -> Theorem:
    """A Coq goal as a statement of its own: its hypotheses become the binders (a local definition
    `(x : T := body)`), its conclusion the statement. Also how a failed search's open subgoal becomes a
    lemma to attempt."""
    binders = " ".join(f"({' '.join(h.names)} : {h.type}{'' if h.body is None else f' := {h.body}'})"
                       for h in goal.hypotheses)
    return Theorem(name, goal.conclusion, header=header, binders=binders, source=source)


def library_header(full_name: str, file_path: str) -> str:
    """What a traced Coq theorem's statement needs: its library (`Coq.Bool.Bool` for `Coq.Bool.Bool.x`
    traced from `stdlib/Bool/Bool.v`: the longest run of the file's path that the name contains), the
    modules it was declared in, imported, and the standard list notations its goal may print with."""
    parts = full_name.split(".")[:-1]
    comps = Path(file_path).with_suffix("").parts
    end = None
    for k in range(len(comps), 0, -1):
        tail = list(comps[-k:])
        end = next((j for j in range(len(parts) - k, -1, -1) if parts[j:j + k] == tail), None)
        if end is not None:
            end += k - 1
            break
    if end is None:
        return ""
    lines = ["Require Import Coq.Lists.List.", "Import ListNotations.", f"Require Import {'.'.join(parts[: end + 1])}."]
    lines += [f"Import {'.'.join(parts[: i + 1])}." for i in range(end + 1, len(parts))]
    return "\n".join(lines)


@dataclass
class TracedSource:
    """The theorems of a `proofzero trace` output (`DIR/shards/*.jsonl`) as problems: each one's opening
    goal (section variables and all) as a closed statement under its library's import, never its proof.
    Coq only; a statement that does not elaborate standalone is found by its first game and retired.
    `limit` keeps that many, chosen by name hash (the same on every machine)."""

    path: Path
    limit: int = 0
    salt: str = "proofzero-rl"

    @property
    def name(self) -> str:
        return f"traced:{Path(self.path).name}"

    def problems(self) -> list[Theorem]:
        """Raises `data.shards.TraceInputError` on a directory with no shards or a line that is not one."""
        from data.shards import find_trace_files, read_theorems

        out: dict[str, Theorem] = {}
        for file in find_trace_files([self.path]):
            for t in read_theorems(file):
                if t.backend != "coq" or not t.traced_tactics or not t.traced_tactics[0].goals_before:
                    continue
                name = "lib_" + t.full_name.replace(".", "_").replace("'", "_")
                try:
                    out[name] = goal_theorem(name, t.traced_tactics[0].goals_before[0],
                                             library_header(t.full_name, t.file_path), source=t.file_path)
                except ValueError:
                    continue  # an empty conclusion or an unusable name
        names = sorted(out, key=lambda n: name_bucket(n, self.salt))
        if self.limit:
            names = names[: self.limit]
        return [out[n] for n in sorted(names)]


@dataclass(frozen=True)
class PoolConfig:
    suite: str = "benchmarks/minif2f-rocq-valid"  # the suite the RL and held-out pools are cut from
    rl_fraction: float = 0.6  # share of names (by hash) in the RL pool; the rest is held out
    salt: str = "proofzero-rl"  # a different salt is a different split
    limit: int = 0  # only the first N names of each pool (by name); 0: all
    decontaminate: tuple[str, ...] = ()  # more suites whose statements the RL pool must not contain
    traced: tuple[str, ...] = ()  # `proofzero trace --out` dirs whose theorem statements join the RL pool
    traced_limit: int = 0  # at most this many statements from each traced dir (by name hash); 0: all
    mathscale: tuple[str, ...] = ()  # `proofzero mathscale formal --out` dirs whose kept statements join the RL pool
    mathscale_limit: int = 0  # at most this many statements from each (by name); 0: all

    def __post_init__(self) -> None:
        if not 0.0 < self.rl_fraction < 1.0:
            raise ValueError(f"pool.rl_fraction must be in (0, 1), got {self.rl_fraction}")
        if self.limit < 0:
            raise ValueError("pool.limit must be >= 0")
        if self.traced_limit < 0 or self.mathscale_limit < 0:
            raise ValueError("pool.traced_limit and pool.mathscale_limit must be >= 0")
        for key in ("decontaminate", "traced", "mathscale"):
            value = getattr(self, key)
            if isinstance(value, (list, str)):
                object.__setattr__(self, key, tuple([value] if isinstance(value, str) else value))


def name_bucket(name: str, salt: str) -> float:
    """A name's place in [0, 1): a fixed function of the name and the salt."""
    digest = hashlib.sha256(f"{salt}\0{name}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def split_by_hash(names: Iterable[str], fraction: float, salt: str) -> tuple[list[str], list[str]]:
    """(RL pool, held-out pool), each sorted: a name is in the RL pool iff its bucket < fraction."""
    rl, held = [], []
    for n in sorted(set(names)):
        (rl if name_bucket(n, salt) < fraction else held).append(n)
    return rl, held


@dataclass
class Pools:
    """The RL pool and the held-out pool of one suite, and what decontamination removed (and why)."""

    suite: Suite
    rl: list[Theorem]
    heldout: Suite  # the held-out names as a suite of their own (invalid statements included)
    removed: dict[str, str] = field(default_factory=dict)  # RL-pool name -> the held-out statement it equals
    sources: dict[str, int] = field(default_factory=dict)  # source -> statements it gave the RL pool

    def describe(self) -> dict:
        return {"suite": self.suite.name, "suite_sha256": self.suite.sha256(),
                "rl": [t.name for t in self.rl], "heldout": sorted(self.heldout.files),
                "rl_sources": self.sources,
                "removed_as_contaminated": self.removed,
                "overlap_checked": True, "overlap": sorted(overlap(self.rl, self.heldout.theorems))}


def overlap(pool: Iterable[Theorem], heldout: Iterable[Theorem]) -> set[str]:
    """Names of `pool` whose proposition (normalised) is a held-out one's."""
    keys = {proposition_key(t) for t in heldout}
    return {t.name for t in pool if proposition_key(t) in keys}


def decontaminate(pool: list[Theorem], against: Iterable[Theorem], where: str) -> tuple[list[Theorem], dict[str, str]]:
    keys = {proposition_key(t): t.name for t in against}
    kept, removed = [], {}
    for t in pool:
        hit = keys.get(proposition_key(t))
        if hit is None:
            kept.append(t)
        else:
            removed[t.name] = f"{where}/{hit}"
    return kept, removed


def build_pools(cfg: PoolConfig, root: Path | None = None) -> Pools:
    """Split `cfg.suite` by name hash (every name, valid or not), then decontaminate the RL pool against
    the held-out pool and any further suites: a pool never holds a statement of its own held-out split.
    Statements known not to elaborate stay in the held-out suite (its denominator) but not in the RL pool."""
    def resolve(p: str) -> Path:
        path = Path(p)
        return path if path.is_absolute() or root is None else root / path

    suite = load_suite(resolve(cfg.suite))
    rl_names, held_names = split_by_hash(suite.files, cfg.rl_fraction, cfg.salt)
    if cfg.limit:
        rl_names, held_names = rl_names[: cfg.limit], held_names[: cfg.limit]
    heldout = suite.subset(held_names, name=f"{suite.name}-heldout")
    keep = set(rl_names) - set(suite.invalid)
    rl = sorted((t for t in suite.theorems if t.name in keep), key=lambda t: t.name)
    sources = {suite.name: len(rl)}
    for traced in cfg.traced:
        extra = TracedSource(resolve(traced), cfg.traced_limit, cfg.salt).problems()
        taken = {t.name for t in rl}
        extra = [t for t in extra if t.name not in taken]
        sources[f"traced:{traced}"] = len(extra)
        rl = sorted(rl + extra, key=lambda t: t.name)
    for generated in cfg.mathscale:
        from data.mathscale.formal import MathScaleSource

        extra = MathScaleSource(resolve(generated), cfg.mathscale_limit).problems()
        taken = {t.name for t in rl}
        extra = [t for t in extra if t.name not in taken]
        sources[f"mathscale:{generated}"] = len(extra)
        rl = sorted(rl + extra, key=lambda t: t.name)
    rl, removed = decontaminate(rl, heldout.theorems, heldout.name)
    for other in cfg.decontaminate:
        extra_suite = load_suite(resolve(other))
        rl, more = decontaminate(rl, extra_suite.theorems, extra_suite.name)
        removed.update(more)
    if removed:
        log.info("RL pool: %d statements removed as equal to evaluation statements", len(removed))
    return Pools(suite, rl, heldout, removed, sources)
