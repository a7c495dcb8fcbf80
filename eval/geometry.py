"""Geometry solve rates: DD+AR alone, + the human-designed auxiliary constructions (breadth-first), or
+ the proposer model's constructions (beam search), one row per problem at a stated, counted budget.

Each row is one of: solved, saturated (DD+AR and the search found nothing more to try), budget (engine
runs spent), timeout (the wall-clock safety net), build_error (the diagram cannot be drawn: the reason
is in the row), engine_error (yuclid or newclid failed). A solved row's proof is traced back, each
step re-checked numerically on a fresh drawing, and its diagram drawn.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from formal.geometry import heuristics
from formal.geometry.engine import (
    SOLVED,
    BuildError,
    Deduction,
    Diagram,
    EngineError,
    add_construction,
    build,
    deduce,
)
from formal.geometry.proof import Proof, recheck, traceback
from formal.geometry.syntax import (
    COORDINATES,
    GeometryProblem,
    SyntaxError_,
    Unreadable,
    alphabetize,
    fresh_names,
    parse_clause,
    rename,
)
from search.construction_beam import BeamConfig, Extension, beam_search
from search.policy import Evaluation, PolicyValue, Suggestion

log = logging.getLogger(__name__)

AUX_MODES = ("none", "heuristic", "model")
STATUSES = ("solved", "saturated", "budget", "timeout", "build_error", "engine_error")


@dataclass(frozen=True)
class ModelConfig:
    checkpoint: str = ""  # an export, a checkpoint or a run directory (`--checkpoint`)
    method: str = "beam"  # beam | sample
    temperature: float = 1.0
    device: str = "cpu"

    def __post_init__(self) -> None:
        if self.method not in ("beam", "sample"):
            raise ValueError(f"model.method must be beam or sample, got {self.method!r}")


@dataclass(frozen=True)
class GeometryEvalConfig:
    aux: str = "none"  # none | heuristic | model
    run_dir: str = ""  # default: runs/geometry/<file stem>-<aux>
    seed: int = 0  # the diagrams' drawing
    limit: int = 0  # the first N problems (0: all)
    problems: list[str] = field(default_factory=list)  # only these names (or unique name suffixes)
    engine_timeout: float = 60.0  # wall-clock safety net per DD+AR run, seconds
    beam: BeamConfig = field(default_factory=BeamConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    figures: bool = True  # a PNG per solved problem
    recheck: bool = True  # every proof step re-checked on a drawing with seed + 1

    def __post_init__(self) -> None:
        if self.aux not in AUX_MODES:
            raise ValueError(f"aux must be one of {AUX_MODES}, got {self.aux!r}")
        if self.limit < 0 or self.engine_timeout <= 0:
            raise ValueError("limit must be >= 0 and engine_timeout > 0")

    @property
    def budget(self) -> str:
        if self.aux == "none":
            return "1 DD+AR run"
        return f"1 + {self.beam.budget}"


@dataclass(frozen=True)
class State:
    """What the beam search carries: a diagram and its DD+AR run."""

    diagram: Diagram
    deduction: Deduction | None


class DiagramEngine:
    """`search.construction_beam.ConstructionEngine` over newclid: proposals are read in (and the
    problem shown to the proposer in) the alphabetized naming the proposer was trained on."""

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout

    def describe(self, state: State) -> str:
        return alphabetize(state.diagram.problem)[0].text

    def extend(self, state: State, construction: str) -> Extension[State]:
        problem = state.diagram.problem
        try:
            clause = parse_clause(construction, dialect="newclid")
            back = alphabetize(problem)[1]  # alphabetized name -> the problem's own
            new = list(clause.points)
            fresh = fresh_names(set(problem.points), len(new))
            mapping = {**back, **dict(zip(new, fresh))}
            clause = rename(_one_clause_problem(clause, problem), mapping).aux[-1]
            diagram = add_construction(state.diagram, clause)
            deduction = deduce(diagram, timeout=self.timeout)
        except (SyntaxError_, BuildError, EngineError) as e:
            return Extension(None, error=str(e))
        return Extension(State(diagram, deduction), solved=deduction.status == SOLVED)


def _one_clause_problem(clause, problem: GeometryProblem) -> GeometryProblem:
    return GeometryProblem(problem.name, problem.kind, (), (clause,), (), "")


class HeuristicPolicy:
    """The human-designed constructions as a `PolicyValue`, scored by rank (breadth-first)."""

    def evaluate(self, states: Sequence[str], k: int) -> list[Evaluation]:
        return [Evaluation(tuple(Suggestion(c, s) for c, s in heuristics.candidates(t, limit=k)), 0.0) for t in states]


@dataclass(frozen=True)
class Row:
    name: str
    status: str
    aux: tuple[str, ...] = ()
    proof_length: int = 0
    engine_runs: int = 0  # DD+AR runs, the first included
    invalid: int = 0  # proposals that could not be drawn
    proposer_calls: int = 0
    seconds: float = 0.0
    budget: str = ""
    rechecked: str = ""  # "k/n" proof steps true on a fresh drawing
    figure: str = ""
    error: str = ""


@dataclass(frozen=True)
class Solved:
    row: Row
    proof: Proof | None
    state: State | None


def solve(problem: GeometryProblem | Unreadable, cfg: GeometryEvalConfig, proposer: PolicyValue | None,
          figure_dir: Path | None = None) -> Solved:
    """One problem at the configured budget."""
    t0 = time.perf_counter()
    budget = cfg.budget

    def done(status: str, **kw) -> Solved:
        proof, state = kw.pop("proof", None), kw.pop("state", None)
        return Solved(Row(problem.name, status, seconds=round(time.perf_counter() - t0, 3), budget=budget, **kw), proof, state)

    if isinstance(problem, Unreadable):
        return done("build_error", error=problem.message)
    try:
        diagram = build(problem, seed=cfg.seed)
    except BuildError as e:
        return done("build_error", error=str(e))
    try:
        first = deduce(diagram, timeout=cfg.engine_timeout)
    except EngineError as e:
        return done("engine_error", engine_runs=1, error=str(e))
    state, runs, extra = State(diagram, first), 1, {}
    if first.status != SOLVED:
        if cfg.aux == "none" or proposer is None:
            return done("saturated", engine_runs=1)
        if problem.kind == COORDINATES:  # AlphaGeometry 2's problems come with their auxiliary points
            return done("saturated", engine_runs=1, error="no auxiliary constructions are drawn into a problem given by coordinates")
        result = beam_search(state, DiagramEngine(cfg.engine_timeout), proposer, cfg.beam)
        runs += result.engine_runs
        extra = dict(invalid=result.invalid, proposer_calls=result.proposer_calls)
        if result.status != "solved":
            return done(result.status, engine_runs=runs, **extra)
        state = result.state
    proof = traceback(state.deduction)
    aux = tuple(c.clause for c in state.diagram.clauses if c.aux)
    checked = ""
    if cfg.recheck:
        try:
            ok = recheck(proof, state.diagram, seed=cfg.seed + 1)
            # a problem given by coordinates has one drawing: its steps are checked on that one
            checked = f"{sum(ok)}/{len(ok)}" + (" (given coordinates)" if problem.kind == COORDINATES else "")
        except BuildError as e:
            checked = f"no fresh drawing ({e})"
    figure = ""
    if figure_dir is not None:
        from eval.geometry_figure import draw

        path = figure_dir / f"{safe_name(problem.name)}.png"
        figure = str(draw(state.diagram, path, title=problem.name, goal=proof.goal))
    return done("solved", aux=aux, proof_length=proof.length, engine_runs=runs, rechecked=checked,
                figure=figure, proof=proof, state=state, **extra)


def safe_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("._")[-120:] or "problem"


def select(problems: list, cfg: GeometryEvalConfig) -> list:
    """The configured problems: by name (or a unique name suffix), then the first `limit`."""
    if cfg.problems:
        chosen = []
        for want in cfg.problems:
            hits = [p for p in problems if p.name == want] or [p for p in problems if p.name.endswith(want)]
            if len(hits) != 1:
                raise ValueError(f"problem {want!r}: {'no problem' if not hits else f'{len(hits)} problems'} of that name")
            chosen.append(hits[0])
        problems = chosen
    return problems[: cfg.limit] if cfg.limit else problems


def summarize(rows: list[Row], cfg: GeometryEvalConfig, source: str) -> dict:
    counts = Counter(r.status for r in rows)
    solved = [r for r in rows if r.status == "solved"]
    return {
        "file": source,
        "aux": cfg.aux,
        "budget": cfg.budget,
        "problems": len(rows),
        **{_count_key(s): counts.get(s, 0) for s in STATUSES},
        "solved_with_aux": sum(1 for r in solved if r.aux),
        "engine_runs": sum(r.engine_runs for r in rows),
        "seconds": round(sum(r.seconds for r in rows), 1),
        "mean_seconds_solved": round(sum(r.seconds for r in solved) / len(solved), 3) if solved else 0.0,
        "mean_proof_length": round(sum(r.proof_length for r in solved) / len(solved), 1) if solved else 0.0,
        "rechecked_all_steps": sum(1 for r in solved if r.rechecked and _all_ok(r.rechecked)),
    }


def _all_ok(s: str) -> bool:
    k, _, n = s.split()[0].partition("/") if s else ("", "", "")
    return k == n and k.isdigit()


def format_table(summary: dict, rows: list[Row], show: int = 0) -> str:
    lines = []
    if show:
        w = max(len(r.name[-60:]) for r in rows[:show]) if rows else 10
        lines.append(f"{'problem':<{w}}  {'status':<12} {'steps':>5} {'runs':>5} {'sec':>7}  aux")
        for r in rows[:show]:
            lines.append(f"{r.name[-60:]:<{w}}  {r.status:<12} {r.proof_length:>5} {r.engine_runs:>5} {r.seconds:>7.2f}  "
                         f"{'; '.join(r.aux)}")
        lines.append("")
    s = summary
    lines.append(f"{s['file']}  aux={s['aux']}  budget: {s['budget']}")
    lines.append(f"  solved {s['solved']}/{s['problems']} ({s['solved_with_aux']} with auxiliary constructions)  "
                 f"saturated {s['saturated']}  budget spent {s['budget_spent']}  timeout {s['timeout']}  "
                 f"build_error {s['build_error']}  engine_error {s['engine_error']}")
    lines.append(f"  DD+AR runs {s['engine_runs']}, {s['seconds']} s in all; solved: mean {s['mean_seconds_solved']} s, "
                 f"mean proof length {s['mean_proof_length']} steps, all steps re-checked true in {s['rechecked_all_steps']}")
    return "\n".join(lines)


def _count_key(status: str) -> str:
    return "budget_spent" if status == "budget" else status


def row_from_json(d: dict) -> Row:
    d = dict(d)
    d["aux"] = tuple(d.get("aux", ()))
    return Row(**{k: v for k, v in d.items() if k in Row.__dataclass_fields__})


def row_to_json(r: Row) -> dict:
    return asdict(r)


def proof_to_json(name: str, proof: Proof) -> str:
    return json.dumps({"name": name, **proof.to_json()}, ensure_ascii=False)
