"""AlphaGeometry's synthetic theorems: random premises -> deduction closure -> traceback.

One *problem* is a random sequence of construction clauses (a base figure, then constructions on
randomly chosen existing points), drawn numerically with a seed. DD+AR runs to its closure (no goal);
every derived fact is a candidate theorem, and its traceback gives the premises it needs. The theorem's
statement is the clauses that define the fact's points (and the points those depend on); any other
clause the proof needs is an auxiliary construction. A theorem with auxiliary constructions yields
(statement, auxiliary construction) training pairs, one per construction, in the order they are drawn
(AlphaGeometry: ~9% of its 100M theorems). Texts are alphabetized (points a, b, c, ... in construction
order, auxiliary points last), the form the proposer is trained on and queried with.

Work is cut into chunks of problems, each written atomically as a shard: a rerun skips finished chunks.
"""

from __future__ import annotations

import json
import logging
import math
import random
import resource
import time
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from data.trace_run import atomic_write
from formal.geometry.syntax import ALPHABET, CONSTRUCTIONS, Clause, GeometryProblem, alphabetize

log = logging.getLogger(__name__)

# Base figures and the constructions drawn on them (newclid's names; none takes a number).
BASES = ("triangle", "triangle", "triangle", "segment", "quadrangle", "iso_triangle", "r_triangle", "trapezoid")
CONSTRUCTION_POOL = (
    "midpoint", "foot", "circle", "orthocenter", "incenter", "excenter", "mirror", "reflect",
    "on_line", "on_pline", "on_tline", "on_circle", "on_bline", "on_dia", "on_circum", "angle_bisector",
    "intersection_ll", "intersection_lc", "intersection_cc", "eq_triangle", "parallelogram", "psquare",
    "nsquare", "lc_tangent", "shift", "eqdistance", "angle_mirror",
)
# One of these alone leaves the point free on a line or circle; two pin it down (an intersection).
PARTIAL = ("on_line", "on_pline", "on_tline", "on_circle", "on_bline", "on_dia", "on_circum", "angle_bisector", "eqdistance")
THEOREM_PREDICATES = ("coll", "para", "perp", "cong", "eqangle", "eqratio", "cyclic", "midp", "circle", "simtri",
                      "simtrir", "contri", "contrir")


@dataclass(frozen=True)
class SynthConfig:
    n: int = 1000  # random problems drawn
    workers: int = 1
    seed: int = 0
    chunk: int = 10  # problems per shard (the unit of resumption)
    min_clauses: int = 3  # constructions drawn after the base figure
    max_clauses: int = 6
    intersect_probability: float = 0.5  # a partial construction gets a second one (an intersection)
    min_proof_steps: int = 2  # shorter proofs are trivial
    max_theorems_per_problem: int = 300  # facts traced back per problem (the closure can be large)
    engine_timeout: float = 30.0  # safety net per DD+AR run, seconds
    val_fraction: float = 0.05
    pairs_from: str = "traced"  # traced: every theorem whose traced proof uses auxiliary points (the paper);
    # needed: only those DD+AR cannot prove without them
    decontaminate: list[str] = field(default_factory=list)  # problem files whose statements are dropped
    bases: list[str] = field(default_factory=lambda: list(BASES))
    constructions: list[str] = field(default_factory=lambda: list(CONSTRUCTION_POOL))

    def __post_init__(self) -> None:
        if self.n < 1 or self.workers < 1 or self.chunk < 1:
            raise ValueError("n, workers and chunk must be >= 1")
        if not 1 <= self.min_clauses <= self.max_clauses:
            raise ValueError("need 1 <= min_clauses <= max_clauses")
        if not 0 <= self.intersect_probability <= 1 or not 0 <= self.val_fraction < 1:
            raise ValueError("intersect_probability must be in [0, 1], val_fraction in [0, 1)")
        if self.pairs_from not in ("traced", "needed"):
            raise ValueError(f"pairs_from must be traced or needed, got {self.pairs_from!r}")
        if self.min_proof_steps < 1 or self.max_theorems_per_problem < 1 or self.engine_timeout <= 0:
            raise ValueError("min_proof_steps, max_theorems_per_problem >= 1; engine_timeout > 0")
        unknown = [c for c in (*self.bases, *self.constructions) if c not in _definitions()]
        if unknown:
            raise ValueError(f"unknown construction(s): {unknown}")


@dataclass(frozen=True)
class Theorem:
    statement: str  # alphabetized problem text, newclid's dialect: `clauses ? goal`
    aux: tuple[str, ...]  # alphabetized auxiliary clauses, in drawing order
    goal: str
    proof_length: int
    problem: int  # the random problem's index (its seed)
    needed: bool = False  # has aux, and DD+AR alone does not prove the statement (it saturates)

    def pairs(self) -> list[tuple[str, str]]:
        """(problem text with the auxiliary clauses so far, next auxiliary clause)."""
        setup, goal = self.statement.split(" ? ")
        out = []
        for i, clause in enumerate(self.aux):
            drawn = f" | {'; '.join(self.aux[:i])}" if i else ""
            out.append((f"{setup}{drawn} ? {goal}", clause))
        return out


@lru_cache(maxsize=1)
def _definitions() -> dict:
    from newclid.jgex.constructions import ALL_JGEX_CONSTRUCTIONS

    return {str(d.name.value): d for d in ALL_JGEX_CONSTRUCTIONS}


def _call(name: str, new: list[str], existing: list[str], rng: random.Random) -> tuple[str, ...] | None:
    """A construction call: its new-point variables bound to `new`, its inputs to distinct existing points."""
    d = _definitions()[name]
    inputs = [str(v) for v in d.input_points]
    if len(inputs) > len(existing):
        return None
    chosen = dict(zip(inputs, rng.sample(existing, len(inputs))))
    outs = iter(new)
    args = []
    for v in (str(a) for a in d.args):
        args.append(chosen[v] if v in chosen else next(outs))
    return (name, *args)


def random_problem(index: int, cfg: SynthConfig) -> GeometryProblem:
    """Random premises: a base figure and `min_clauses..max_clauses` constructions (seeded by index)."""
    rng = random.Random(f"{cfg.seed}/{index}")
    defs = _definitions()
    base = rng.choice(cfg.bases)
    pts = list(ALPHABET[: len(defs[base].args)])
    clauses = [Clause(tuple(pts), ((base, *pts),))]
    for _ in range(rng.randint(cfg.min_clauses, cfg.max_clauses)):
        name = rng.choice(cfg.constructions)
        d = defs[name]
        n_new = len(d.args) - len(d.input_points)
        new = list(ALPHABET[len(pts) : len(pts) + n_new])
        first = _call(name, new, pts, rng)
        if first is None:
            continue
        calls = [first]
        if name in PARTIAL and n_new == 1 and rng.random() < cfg.intersect_probability:
            second = _call(rng.choice(PARTIAL), new, pts, rng)
            if second is not None and second[0] != name:
                calls.append(second)
        clauses.append(Clause(tuple(new), tuple(calls)))
        pts += new
    return GeometryProblem(f"synthetic/{cfg.seed}/{index}", CONSTRUCTIONS, tuple(clauses), (), (), "")


def theorems_of(index: int, cfg: SynthConfig) -> tuple[list[Theorem], dict]:
    """Draw random problem `index`, run DD+AR to closure and trace back its derived facts."""
    from formal.geometry.engine import BuildError, EngineError, build, deduce
    from formal.geometry.proof import NotProved, traceback

    stats = {"problems": 1, "aux_not_needed": 0, "clauses_dropped": 0, "build_failed": 0, "engine_failed": 0, "facts": 0, "traced": 0}
    drawn = random_problem(index, cfg)
    problem, diagram = None, None
    for clause in drawn.setup:  # clause by clause: one that cannot be drawn is dropped, not the problem
        if problem is not None and not set(clause.inputs) <= set(problem.points):
            stats["clauses_dropped"] += 1  # it leans on a dropped clause's point
            continue
        trial = GeometryProblem(drawn.name, CONSTRUCTIONS, (*(problem.setup if problem else ()), clause), (), (), "")
        try:
            diagram, problem = build(trial, seed=index, attempts=2), trial
        except BuildError:
            stats["clauses_dropped"] += 1
    if diagram is None or len(problem.setup) < 2:
        stats["build_failed"] = 1
        return [], stats
    from newclid.justifications._index import JustificationType as J
    from newclid.problem import predicate_to_construction

    # Two runs: the closure (what the rules reach), and the numerically true statements about the
    # diagram's points as goals (what angle and ratio chasing would conclude, which yuclid derives only
    # when asked).
    derived: dict[str, object] = {}
    try:
        closure = deduce(diagram, goal=False, timeout=cfg.engine_timeout)
        asked = deduce(diagram, goals=numerically_true_facts(diagram, cfg.max_theorems_per_problem),
                       timeout=cfg.engine_timeout)
    except EngineError:
        stats["engine_failed"] = 1
        return [], stats
    for run in (closure, asked):
        for p, j in run.solver.proof_state.graph.hyper_graph.items():
            fact = str(predicate_to_construction(p))
            if j.dependency_type in (J.RULE_APPLICATION, J.AR_DEDUCTION) and fact.split()[0] in THEOREM_PREDICATES:
                derived.setdefault(fact, run)
    stats["facts"] = len(derived)
    defining = {p: c for c in problem.setup for p in c.points}
    out = []
    for fact, run in list(derived.items())[: cfg.max_theorems_per_problem]:
        try:
            proof = traceback(run, fact)
        except NotProved:
            continue
        stats["traced"] += 1
        if proof.length < cfg.min_proof_steps:
            continue
        goal_points = _points(fact, defining)
        used = goal_points.union(*(_points(p.fact, defining) for p in proof.premises),
                                 *(_points(s.fact, defining) for s in proof.steps))
        statement = _closure(goal_points, defining)
        needed = _closure(used, defining)
        setup = tuple(c for c in problem.setup if set(c.points) & statement)
        aux = tuple(c for c in problem.setup if set(c.points) & (needed - statement))
        thm = GeometryProblem("", CONSTRUCTIONS, setup, aux, (tuple(fact.split()),), "")
        named, _ = alphabetize(thm)
        bare = GeometryProblem("", CONSTRUCTIONS, named.setup, (), named.goals, "")
        needed = bool(aux) and not _solves_alone(bare, index, cfg)
        stats["aux_not_needed"] += bool(aux) and not needed
        out.append(Theorem(bare.text, tuple(str(c) for c in named.aux), " ".join(named.goals[0]), proof.length,
                           index, needed))
    return out, stats


def _solves_alone(statement: GeometryProblem, index: int, cfg: SynthConfig) -> bool:
    """Whether DD+AR proves the statement without the auxiliary clauses its traced proof used: then it
    is no example of a needed auxiliary point (the proof found first merely went through one)."""
    from formal.geometry.engine import SOLVED, BuildError, EngineError, build, deduce

    try:
        return deduce(build(statement, seed=index, attempts=3), timeout=cfg.engine_timeout).status == SOLVED
    except (BuildError, EngineError):
        return True  # not checkable: not kept as an auxiliary example


def numerically_true_facts(diagram, limit: int) -> tuple[str, ...]:
    """Statements about the diagram's points that hold in its drawing (to 1e-9), not degenerate:
    parallel and perpendicular segments, equal segments, collinear triples, concyclic quadruples."""
    from itertools import combinations

    xy = diagram.coordinates
    pts = sorted(xy)
    segs = list(combinations(pts, 2))
    out = []

    def vec(s):
        (x0, y0), (x1, y1) = xy[s[0]], xy[s[1]]
        return x1 - x0, y1 - y0

    for s, t in combinations(segs, 2):
        (ax, ay), (bx, by) = vec(s), vec(t)
        na, nb = math.hypot(ax, ay), math.hypot(bx, by)
        if na < 1e-9 or nb < 1e-9:
            continue
        if not set(s) & set(t) and abs(ax * by - ay * bx) < 1e-9 * na * nb:
            out.append(f"para {s[0]} {s[1]} {t[0]} {t[1]}")
        if abs(ax * bx + ay * by) < 1e-9 * na * nb:
            out.append(f"perp {s[0]} {s[1]} {t[0]} {t[1]}")
        if abs(na - nb) < 1e-9 * max(na, nb):
            out.append(f"cong {s[0]} {s[1]} {t[0]} {t[1]}")
    for a, b, c in combinations(pts, 3):
        (ax, ay), (bx, by) = vec((a, b)), vec((a, c))
        if abs(ax * by - ay * bx) < 1e-9 * max(math.hypot(ax, ay) * math.hypot(bx, by), 1e-12):
            out.append(f"coll {a} {b} {c}")
    for q in combinations(pts, 4):
        if _concyclic(*(xy[p] for p in q)):
            out.append(f"cyclic {' '.join(q)}")
    return tuple(out[:limit])


def _concyclic(a, b, c, d) -> bool:
    rows = [(p[0] - d[0], p[1] - d[1], (p[0] - d[0]) ** 2 + (p[1] - d[1]) ** 2) for p in (a, b, c)]
    det = (rows[0][0] * (rows[1][1] * rows[2][2] - rows[1][2] * rows[2][1])
           - rows[0][1] * (rows[1][0] * rows[2][2] - rows[1][2] * rows[2][0])
           + rows[0][2] * (rows[1][0] * rows[2][1] - rows[1][1] * rows[2][0]))
    scale = max(abs(v) for r in rows for v in r) ** 2
    collinear = abs(rows[0][0] * rows[1][1] - rows[0][1] * rows[1][0]) < 1e-9
    return not collinear and abs(det) < 1e-9 * max(scale, 1e-12)


def _points(fact: str, defining: dict) -> set[str]:
    return {a for a in fact.split()[1:] if a in defining}


def _closure(points: set[str], defining: dict) -> set[str]:
    """The points and every point their clauses depend on (and the clauses' other new points)."""
    todo, seen = list(points), set()
    while todo:
        p = todo.pop()
        if p in seen:
            continue
        seen.add(p)
        clause = defining[p]
        todo += [q for q in (*clause.points, *clause.inputs) if q not in seen]
    return seen


# --- chunks, shards, resumption ------------------------------------------------------------


def run_chunk(args: tuple[int, SynthConfig, str]) -> tuple[int, dict]:
    """Problems [chunk * size, ...) -> OUT/shards/chunk-NNNNN.json (atomic). Returns (chunk, stats)."""
    chunk, cfg, out = args
    t_wall, t_cpu, t_child = time.time(), time.process_time(), _children_cpu()
    lo, hi = chunk * cfg.chunk, min(cfg.n, (chunk + 1) * cfg.chunk)
    theorems, stats = [], {}
    for index in range(lo, hi):
        found, s = theorems_of(index, cfg)
        theorems += found
        for k, v in s.items():
            stats[k] = stats.get(k, 0) + v
    stats["theorems"] = len(theorems)
    stats["wall_seconds"] = time.time() - t_wall
    stats["cpu_seconds"] = time.process_time() - t_cpu + _children_cpu() - t_child  # yuclid runs in a child
    path = shard_path(out, chunk)
    atomic_write(path, json.dumps({"stats": stats, "theorems": [t.__dict__ | {"aux": list(t.aux)} for t in theorems]}))
    return chunk, stats


def _children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def shard_path(out: str | Path, chunk: int) -> Path:
    return Path(out) / "shards" / f"chunk-{chunk:05d}.json"


def read_shard(path: Path) -> tuple[dict, list[Theorem]] | None:
    """A finished shard, or None for one that is missing or unreadable (it is redone)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        theorems = [Theorem(t["statement"], tuple(t["aux"]), t["goal"], int(t["proof_length"]), int(t["problem"]),
                            bool(t.get("needed", False))) for t in data["theorems"]]
        return data["stats"], theorems
    except (OSError, ValueError, KeyError, TypeError):
        return None

