"""MathScale's formal realisation: concept walks composed into Coq statements, decided by Coq, filtered,
and served to the RL loop as a problem source.

Per walk, the knowledge points that have a template (`data.mathscale.templates`, at most `max_atoms`,
in walk order) each give an atom about one integer x, drawn to hold at a random x0 -- or, for a share
`p_false` of the walks, one atom drawn false there, so that truth is not known by construction. One
walk, one statement, in one of two shapes:

    find      exists x : Z, A1 /\\ A2 /\\ ...        (a walk with one atom is always `find`)
    implies   forall x : Z, A1 -> ... -> Ak

Python looks for a witness (find) or a counterexample (implies) in [-search, search]; Coq decides. A
statement is emitted in its true polarity: as generated when Coq proves it, or its negation
(`forall x, ~ (A1 /\\ ...)`; `exists x, A1 /\\ ... /\\ ~ Ak`) when Coq proves that. Every proof is a short
automation script (a witness then `reflexivity`/`lia`/`nia`; `lia`/`nia`, with euclidean division and
hints) run in a session and verified by the trusted checker; a statement neither side of which Coq
proves is `undecided`. Decided statements then pass the statement filters (`data.filters`: duplicates,
trivial, contradictory, refuted, ...) against everything kept before; what survives is kept.

Epochs are resumable: each one's outcome is written whole to `epochs/epoch_NNN.jsonl`, and `problems.jsonl`
(the kept statements) and the yield report are rebuilt from those files.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from data.filters import REASONS, FilterConfig, StatementFilter
from data.mathscale.graph import ConceptGraph, Walk, epoch_walks
from data.mathscale.templates import Atom, lit, template_for
from formal.session import EnvironmentCrash, InvalidStatement, Session
from formal.theorem import Theorem
from formal.verdict import Verdict
from search.attempt import Status
from search.automation import AutomationConfig, AutomationProver

log = logging.getLogger(__name__)

HEADER = "From Coq Require Import ZArith Lia.\nOpen Scope Z_scope."
CLOSE_GROUND = "first [reflexivity | lia | nia | (Z.to_euclidean_division_equations; nia)]"
OUTCOMES = ("no_template", "undecided", "env_error")  # before the filters; then the filters' reasons, or kept
PROBLEMS = "problems.jsonl"


class MathScaleSourceError(ValueError):
    """A MathScale output directory the RL pool cannot read (one line)."""


@dataclass(frozen=True)
class FormalConfig:
    max_atoms: int = 3  # knowledge points realised per statement (the first ones of the walk with a template)
    p_false: float = 0.3  # share of walks with one atom drawn false at x0
    x_range: int = 9  # x0 in [-x_range, x_range]
    search: int = 500  # witnesses and counterexamples looked for in [-search, search]
    walks: int = 0  # at most this many walks per epoch (the first topics, sorted); 0: one per topic
    workers: int = 2  # statements decided at once
    filters: FilterConfig = field(default_factory=FilterConfig)

    def __post_init__(self) -> None:
        for name, low in (("max_atoms", 1), ("x_range", 0), ("search", 0), ("walks", 0), ("workers", 1)):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < low:
                raise ValueError(f"formal.{name} must be an integer >= {low}, got {value!r}")
        if not (math.isfinite(self.p_false) and 0 <= self.p_false <= 1):
            raise ValueError(f"formal.p_false must be in [0, 1], got {self.p_false!r}")


@dataclass(frozen=True)
class Candidate:
    """One walk's statement before Coq has judged it."""

    name: str
    walk: Walk
    kps: tuple[str, ...]  # the templates' knowledge points, in the atoms' order
    shape: str  # find | implies
    atoms: tuple[Atom, ...]
    x0: int
    drawn_false: int | None  # index of the atom drawn false at x0, if any


def compose(name: str, walk: Walk, rng: np.random.Generator, cfg: FormalConfig) -> Candidate | None:
    templates = []
    for kp in walk.kps:
        t = template_for(kp)
        if t is not None and t not in templates:
            templates.append(t)
    templates = templates[: cfg.max_atoms]
    if not templates:
        return None
    x0 = int(rng.integers(-cfg.x_range, cfg.x_range + 1))
    shape = "find" if len(templates) == 1 or rng.random() < 0.5 else "implies"
    false_at = int(rng.integers(len(templates))) if rng.random() < cfg.p_false else None
    atoms = tuple(t.make(rng, x0, k != false_at) for k, t in enumerate(templates))
    return Candidate(name, walk, tuple(t.kp for t in templates), shape, atoms, x0, false_at)


def _search(pred: Callable[[int], bool], bound: int) -> int | None:
    """The integer nearest 0 (positive first) in [-bound, bound] satisfying `pred`."""
    for k in range(bound + 1):
        for x in ((k,) if k == 0 else (k, -k)):
            if pred(x):
                return x
    return None


def _conj(atoms) -> str:
    return " /\\ ".join(f"({a.coq})" if len(atoms) > 1 else a.coq for a in atoms)


@dataclass(frozen=True)
class Claim:
    """A statement with the scripts that may prove it, and which polarity it is."""

    statement: str
    scripts: tuple[str, ...]
    polarity: str  # as_generated | negated
    witness: int | None = None


def claims(c: Candidate, search: int) -> list[Claim]:
    """What to try to prove: the side Python's search points to (a witness found: the existential)."""
    atoms = c.atoms
    hints = "".join(f"pose proof ({h}); " for a in atoms for h in a.hints)
    forall_scripts = tuple(f"intros; cbv beta in *; {hints}{tail}"
                           for tail in ("lia", "nia", "Z.to_euclidean_division_equations; nia"))

    def exists(statement: str, witness: int, polarity: str) -> Claim:
        return Claim(statement, (f"exists {lit(witness)}; repeat split; {CLOSE_GROUND}",), polarity, witness)

    if c.shape == "find":
        w = _search(lambda x: all(a.holds(x) for a in atoms), search)
        negated = Claim(f"forall x : Z, ~ ({_conj(atoms)})", forall_scripts, "negated")
        return [exists(f"exists x : Z, {_conj(atoms)}", w, "as_generated")] if w is not None else [negated]
    *hyps, concl = atoms
    generated = Claim("forall x : Z, " + " -> ".join([*(a.coq for a in hyps), concl.coq]), forall_scripts, "as_generated")
    w = _search(lambda x: all(a.holds(x) for a in hyps) and not concl.holds(x), search)
    if w is None:
        return [generated]
    return [exists("exists x : Z, " + " /\\ ".join([*(f"({a.coq})" for a in hyps), f"~ ({concl.coq})"]), w, "negated")]


OpenSession = Callable[[Theorem], Session]
Check = Callable[[Theorem, str], Verdict]


def decide(c: Candidate, search: int, open_session: OpenSession, check: Check) -> dict:
    """The candidate's record: its true statement and checker-verified script, or why there is none."""
    record = {"name": c.name, "walk": c.walk.to_dict(), "kps": list(c.kps), "shape": c.shape, "x0": c.x0,
              "drawn_false": c.drawn_false, "atoms": [a.coq for a in c.atoms]}
    for claim in claims(c, search):
        theorem = Theorem(c.name, claim.statement, header=HEADER, source="mathscale")
        prover = AutomationProver(AutomationConfig(intro="", portfolio=claim.scripts))

        def verify(script: str, theorem: Theorem = theorem) -> tuple[bool, str]:
            v = check(theorem, script)
            return v.verified, v.message or v.reason

        try:
            with open_session(theorem) as session:
                attempt = prover.prove(c.name, session, verify)
        except (InvalidStatement, EnvironmentCrash) as e:
            detail = str(e).splitlines()[0][:300] if str(e) else ""
            outcome = "does_not_elaborate" if isinstance(e, InvalidStatement) else "env_error"
            return {**record, "statement": claim.statement, "outcome": outcome, "detail": detail}
        if attempt.status is Status.PROVED:
            return {**record, "statement": claim.statement, "polarity": claim.polarity, "witness": claim.witness,
                    "proof": attempt.proof, "outcome": "decided"}
        if attempt.status is Status.ENV_ERROR:
            return {**record, "statement": claim.statement, "outcome": "env_error", "detail": attempt.message[:300]}
    return {**record, "statement": claims(c, search)[0].statement, "outcome": "undecided"}


def realise_epoch(graph: ConceptGraph, epoch: int, seed: int, cfg: FormalConfig, open_session: OpenSession, check: Check,
                  kept_before: list[Theorem]) -> list[dict]:
    """One epoch's records: every walk, what became of it (`outcome`), and the kept statements. The
    epoch is a function of (seed, epoch) and the statements kept before it."""
    rng = np.random.default_rng([seed, epoch])
    walks = epoch_walks(graph, rng)
    if cfg.walks:
        walks = walks[: cfg.walks]
    records, todo = [], []
    for i, walk in enumerate(walks):
        name = f"mathscale_e{epoch}_{i:03d}"
        c = compose(name, walk, rng, cfg)
        if c is None:
            records.append({"name": name, "walk": walk.to_dict(), "outcome": "no_template"})
        else:
            todo.append(c)
    with ThreadPoolExecutor(max_workers=cfg.workers) as pool:
        decided = list(pool.map(lambda c: decide(c, cfg.search, open_session, check), todo))
    theorems = [Theorem(r["name"], r["statement"], header=HEADER, source="mathscale") for r in decided if r["outcome"] == "decided"]
    report = StatementFilter(cfg.filters, open_session, check).run(theorems, pool=kept_before)
    verdicts = {r.name: r for r in report.results}
    for r in decided:
        if r["outcome"] == "decided":
            v = verdicts[r["name"]]
            r["outcome"] = v.reason  # kept, or the filter's reason
            r["filter_detail"] = v.detail
        records.append(r)
    return sorted(records, key=lambda r: r["name"])


def epoch_path(out: Path, epoch: int) -> Path:
    return out / "epochs" / f"epoch_{epoch:03d}.jsonl"


def read_epoch(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def kept_theorems(records: list[dict]) -> list[Theorem]:
    return [Theorem(r["name"], r["statement"], header=HEADER, source="mathscale") for r in records if r["outcome"] == "kept"]


def realise(graph: ConceptGraph, cfg: FormalConfig, out: Path, epochs: int, seed: int, open_session: OpenSession,
            check: Check, progress: Callable[[int, dict], None] | None = None) -> dict[int, list[dict]]:
    """Epochs 0..epochs-1 (finished ones read back, not redone), then `problems.jsonl`."""
    out.mkdir(parents=True, exist_ok=True)
    results: dict[int, list[dict]] = {}
    for epoch in range(epochs):
        path = epoch_path(out, epoch)
        if path.exists():
            results[epoch] = read_epoch(path)
            continue
        t0 = time.perf_counter()
        before = [t for e in sorted(results) for t in kept_theorems(results[e])]
        records = realise_epoch(graph, epoch, seed, cfg, open_session, check, before)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
        tmp.replace(path)
        results[epoch] = records
        if progress is not None:
            progress(epoch, {"seconds": round(time.perf_counter() - t0, 1), **epoch_yield(records)})
    _write_problems(out, results)
    return results


def _write_problems(out: Path, results: dict[int, list[dict]]) -> None:
    tmp = out / f".{PROBLEMS}.tmp"
    with tmp.open("w", encoding="utf-8") as f:
        for epoch in sorted(results):
            for r in results[epoch]:
                if r["outcome"] == "kept":
                    f.write(json.dumps({"name": r["name"], "statement": r["statement"], "header": HEADER,
                                        "kps": r["kps"], "walk": r["walk"], "polarity": r["polarity"],
                                        "proof": r["proof"], "epoch": epoch}, ensure_ascii=False) + "\n")
    tmp.replace(out / PROBLEMS)


def epoch_yield(records: list[dict]) -> dict:
    """Walks, statements, how Coq decided them, and each outcome counted."""
    c = Counter(r["outcome"] for r in records)
    decided = [r for r in records if "polarity" in r]
    return {"walks": len(records), "statements": len(records) - c["no_template"],
            "as_generated": sum(r["polarity"] == "as_generated" for r in decided),
            "negated": sum(r["polarity"] == "negated" for r in decided),
            "outcomes": {k: c[k] for k in ("kept", *OUTCOMES, *REASONS) if c[k]}}


@dataclass
class MathScaleSource:
    """The kept statements of a `proofzero mathscale formal --out DIR` run, as RL problems."""

    path: Path
    limit: int = 0

    @property
    def name(self) -> str:
        return f"mathscale:{Path(self.path).name}"

    def problems(self) -> list[Theorem]:
        """Raises MathScaleSourceError for a directory without problems.jsonl or a line that is not one of ours."""
        file = Path(self.path) / PROBLEMS
        if not file.is_file():
            raise MathScaleSourceError(f"{self.path}: no {PROBLEMS} (run `proofzero mathscale formal --out {self.path}` first)")
        out = []
        for n, line in enumerate(file.read_text(encoding="utf-8").splitlines(), 1):
            try:
                r = json.loads(line)
                out.append(Theorem(r["name"], r["statement"], header=r.get("header", HEADER), source=f"mathscale:{Path(self.path).name}"))
            except (ValueError, KeyError, TypeError) as e:
                raise MathScaleSourceError(f"{file}: line {n} is not a MathScale problem ({type(e).__name__}: {e})") from None
        out.sort(key=lambda t: t.name)
        return out[: self.limit] if self.limit else out
