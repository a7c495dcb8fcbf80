"""The DD+AR engine: newclid 3.0.1 with its compiled backend (py-yuclid's `yuclid` binary), adapted.

newclid builds numeric diagrams from construction clauses, runs yuclid (deductive database + algebraic
reasoning) and replays its deductions into a proof state whose dependency graph (`hyper_graph`:
every derived fact -> the justification that first derived it) the traceback reads. What the pipeline
needs beyond that lives here: finding the binary without the user editing PATH, a wall-clock safety
net on it, adding one auxiliary clause to a built diagram, problems given by coordinates (AlphaGeometry
2), and every result as a value. Only newclid's yuclid path is used: its pure-Python engine solves
nothing in 3.0.1.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
import sysconfig
import time
import warnings
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from formal.geometry.syntax import (
    CONSTRUCTIONS,
    UNSUPPORTED_PREDICATES,
    Clause,
    GeometryProblem,
)

log = logging.getLogger(__name__)

SOLVED, SATURATED = "solved", "saturated"


class EngineUnavailable(RuntimeError):
    """newclid or its yuclid binary is not installed (`pip install -e '.[geometry]'`)."""


class BuildError(ValueError):
    """The diagram cannot be built: an unsupported construction or predicate, or no numeric placement
    satisfies the clauses within the attempts allowed. The message is one line."""


class EngineError(RuntimeError):
    """yuclid crashed, printed something unreadable or ran past its wall-clock safety net."""


@dataclass(frozen=True)
class ClauseFacts:
    """What one clause put into the diagram: its new points and the facts it asserts (newclid's
    canonical predicate strings), so a proof can say which premise came from which construction."""

    clause: str
    points: tuple[str, ...]
    facts: tuple[str, ...]
    aux: bool


@dataclass(frozen=True)
class Diagram:
    """A problem placed numerically. `setup` is newclid's `ProblemSetup` (points with coordinates,
    assumptions, goals); `seed` made the placement."""

    problem: GeometryProblem
    setup: object
    seed: int
    clauses: tuple[ClauseFacts, ...]

    @property
    def coordinates(self) -> dict[str, tuple[float, float]]:
        return {str(p.name): (float(p.num.x), float(p.num.y)) for p in self.setup.points}

    @property
    def aux_points(self) -> tuple[str, ...]:
        return tuple(p for c in self.clauses if c.aux for p in c.points)


@dataclass(frozen=True)
class Deduction:
    """One DD+AR run. `solver` is newclid's `GeometricSolver` after the run: its `proof_state.graph.
    hyper_graph` maps each derived fact to its justification (only the goal's deductions when a goal
    was set: yuclid replays what the goal needs; the full closure without one)."""

    diagram: Diagram
    status: str  # SOLVED | SATURATED
    solver: object
    seconds: float

    @property
    def facts(self) -> int:
        return len(self.solver.proof_state.graph.hyper_graph)


# --- the binary ------------------------------------------------------------------------------


def yuclid_path() -> Path:
    """The yuclid binary py-yuclid installed: on PATH, else beside this interpreter (the venv's bin,
    which is not on PATH when the venv is used without activating it)."""
    found = shutil.which("yuclid")
    if found:
        return Path(found)
    for d in (sysconfig.get_path("scripts"), str(Path(sys.executable).parent), str(Path(sys.prefix) / "bin")):
        p = Path(d) / "yuclid"
        if p.is_file() and os.access(p, os.X_OK):
            return p
    raise EngineUnavailable("the yuclid binary (py-yuclid) is not installed: pip install -c constraints.txt -e '.[geometry]'")


@lru_cache(maxsize=1)
def _backend():
    """Import newclid and py-yuclid once, with yuclid's directory on PATH (py-yuclid looks it up at import)."""
    binary = yuclid_path()
    os.environ["PATH"] = f"{binary.parent}{os.pathsep}{os.environ.get('PATH', '')}"
    try:
        import newclid.api  # noqa: F401
        from py_yuclid import yuclid_adapter
        from py_yuclid.api_default import HEDefault
    except ImportError as e:
        raise EngineUnavailable(f"newclid is not installed ({e}): pip install -c constraints.txt -e '.[geometry]'") from None
    for name in ("newclid", "py_yuclid"):  # their INFO/WARNING lines say nothing to a user of this adapter
        logging.getLogger(name).setLevel(logging.ERROR)
    # numpy's divide-by-zero warnings from newclid's sketches of degenerate candidates (which it refuses)
    warnings.filterwarnings("ignore", category=RuntimeWarning, module=r"newclid\.")

    class TimedYuclid(yuclid_adapter.YuclidAdapter):
        """py-yuclid's adapter with a wall-clock limit on the binary (it has none). Overrides the
        private `_run_yuclid` of the pinned py-yuclid 3.0.0; the command line is the same."""

        timeout: float = 60.0

        def _run_yuclid(self):
            import tempfile

            with tempfile.TemporaryDirectory() as tmp:
                path = Path(tmp) / "problem.txt"
                path.write_text(self.precomputation_input_str)
                cmd = [str(binary), "--mode", "ddar", "--disable-ar-dist", "--disable-ar-squared",
                       "--disable-eqn-statements", "--disable-ar-sin", "--use-json", "--log-level", "warning",
                       "--input-file", str(path)]
                try:
                    out = subprocess.run(cmd, capture_output=True, text=True, timeout=self.timeout, check=False)
                except subprocess.TimeoutExpired:
                    raise EngineError(f"yuclid ran past its {self.timeout:g} s safety net") from None
            if out.returncode != 0:
                last = (out.stderr.strip().splitlines() or ["no message"])[-1]
                raise EngineError(f"yuclid exited with {out.returncode}: {last[:200]}")
            try:
                return yuclid_adapter.YuclidOutput.model_validate_json(out.stdout)
            except ValueError as e:
                raise EngineError(f"yuclid's output is not readable: {str(e).splitlines()[0][:200]}") from None

    return HEDefault, TimedYuclid


# --- diagrams --------------------------------------------------------------------------------


def build(problem: GeometryProblem, seed: int = 0, attempts: int = 100) -> Diagram:
    """Place the problem's points numerically (seeded). A problem by constructions is drawn clause by
    clause, the whole drawing retried up to `attempts` times until every clause and the goal hold
    numerically; a problem by coordinates is checked as given."""
    _backend()
    for pred in (*problem.premises, *problem.goals):
        if pred[0] in UNSUPPORTED_PREDICATES:
            raise BuildError(f"unsupported by newclid: {' '.join(pred)} ({UNSUPPORTED_PREDICATES[pred[0]]})")
    if problem.kind == CONSTRUCTIONS:
        return _build_constructions(problem, seed, attempts)
    return _build_coordinates(problem, seed)


def _build_constructions(problem: GeometryProblem, seed: int, attempts: int) -> Diagram:
    from newclid.jgex.errors import JGEXConstructionError
    from newclid.jgex.formulation import JGEXFormulation
    from newclid.jgex.problem_builder import JGEXProblemBuilder
    from newclid.problem import nc_problem_is_valid

    try:
        jgex = JGEXFormulation.from_text(problem.text)
    except ValueError as e:
        raise BuildError(f"newclid cannot read the problem: {_first_line(e)}") from None
    builder = JGEXProblemBuilder(rng=seed).with_problem(jgex).include_auxiliary_clauses(True)
    try:
        setup = builder.build(max_attempts_to_satisfy_goals_numerically=attempts)
    except (ValueError, JGEXConstructionError, KeyError, IndexError, ZeroDivisionError) as e:
        raise BuildError(_build_message(e)) from None
    if not nc_problem_is_valid(setup):
        raise BuildError("the goal does not hold numerically in the diagram")
    clauses = []
    n_setup = len(problem.setup)
    for i, (clause, consequences) in enumerate(builder.clauses_consequences.items()):
        clauses.append(ClauseFacts(_clause_text(clause), tuple(str(p) for p in clause.points),
                                   tuple(str(a) for a in consequences.to_assumptions()), aux=i >= n_setup))
    return Diagram(problem, setup, seed, tuple(clauses))


def _build_coordinates(problem: GeometryProblem, seed: int) -> Diagram:
    from newclid.numerical.geometries import PointNum
    from newclid.problem import PredicateConstruction, ProblemSetup, nc_problem_is_valid
    from newclid.symbols.points_registry import Point

    try:
        points = tuple(Point(name=n, num=PointNum(x=x, y=y)) for n, x, y in problem.points_at)
        premises = tuple(PredicateConstruction.from_tuple(p) for p in problem.premises)
        goals = tuple(PredicateConstruction.from_tuple(g) for g in problem.goals)
        setup = ProblemSetup(name=problem.name, points=points, assumptions=premises, goals=goals)
    except (ValueError, KeyError, IndexError) as e:
        raise BuildError(f"newclid cannot read the problem: {_first_line(e)}") from None
    if not nc_problem_is_valid(setup):
        raise BuildError("a premise or the goal does not hold numerically at the given coordinates")
    facts = ClauseFacts("(given coordinates)", problem.points, tuple(str(p) for p in premises), aux=False)
    return Diagram(problem, setup, seed, (facts,))


def add_construction(diagram: Diagram, clause: Clause, attempts: int = 5) -> Diagram:
    """The diagram with one more (auxiliary) clause drawn into it, the existing points kept where they
    are: newclid's `add_clause_to_problem`, seeded by the diagram's seed and the clause."""
    from newclid.jgex.clause import JGEXClause
    from newclid.jgex.errors import JGEXConstructionError
    from newclid.jgex.to_newclid import add_clause_to_problem
    from newclid.problem import ProblemSetup
    from numpy.random import default_rng

    problem = diagram.problem.with_aux(clause)  # names checked: fresh points, known inputs
    defs = _definitions()
    try:
        (jclause,) = JGEXClause.from_str(str(clause))
        rng = default_rng([diagram.seed, *str(clause).encode()])
        setup, consequences = add_clause_to_problem(diagram.setup, jclause, defs, rng, attempts)
        setup = ProblemSetup(name=diagram.setup.name, points=setup.points, assumptions=setup.assumptions,
                             goals=diagram.setup.goals)
    except (ValueError, JGEXConstructionError, KeyError, IndexError, ZeroDivisionError) as e:
        raise BuildError(_build_message(e)) from None
    facts = ClauseFacts(str(clause), clause.points, tuple(str(a) for a in consequences.to_assumptions()), aux=True)
    return Diagram(problem, setup, diagram.seed, (*diagram.clauses, facts))


@lru_cache(maxsize=1)
def _definitions() -> dict:
    from newclid.jgex.constructions import ALL_JGEX_CONSTRUCTIONS
    from newclid.jgex.definition import JGEXDefinition

    return JGEXDefinition.to_dict(ALL_JGEX_CONSTRUCTIONS)


# --- deduction -------------------------------------------------------------------------------


def deduce(diagram: Diagram, *, goal: bool = True, goals: tuple[str, ...] | None = None,
           timeout: float = 60.0) -> Deduction:
    """One DD+AR run on the diagram: to the problem's goal (stops when it is derived); with `goals`
    (predicate strings, each numerically true), to those instead (SOLVED when all fall; the graph holds
    the ones that did); `goal=False`, to the deduction closure: every fact the rules reach. yuclid's
    closure does not enumerate what algebraic reasoning (angle/ratio chasing) alone would conclude: it
    derives those only when asked (a goal, or a rule's premise), hence `goals` for synthetic data."""
    HEDefault, TimedYuclid = _backend()
    from newclid.api import GeometricSolverBuilder
    from newclid.problem import PredicateConstruction, ProblemSetup

    setup = diagram.setup
    if not goal or goals is not None:
        targets = tuple(PredicateConstruction.from_str(g) for g in goals or ())
        setup = ProblemSetup(name=setup.name, points=setup.points, assumptions=setup.assumptions, goals=targets)
    adapter = TimedYuclid()
    adapter.timeout = timeout
    t0 = time.perf_counter()
    try:
        solver = GeometricSolverBuilder(rng=diagram.seed, api_default=HEDefault(adapter)).build(setup)
        solved = solver.run()
    except EngineError:
        raise
    except Exception as e:  # noqa: BLE001 -- newclid failing inside (e.g. refusing to replay a deduction) is an environment error
        raise EngineError(f"newclid failed following yuclid's deductions: {type(e).__name__}: {_first_line(e)}") from None
    status = SOLVED if (goal or goals) and solved else SATURATED
    return Deduction(diagram, status, solver, time.perf_counter() - t0)


def check_numerically(diagram: Diagram, fact: str) -> bool:
    """Whether `fact` (a predicate string, `perp a d b c`) holds at the diagram's coordinates."""
    _backend()
    from newclid.predicates import predicate_from_construction
    from newclid.problem import PredicateConstruction
    from newclid.symbols.points_registry import PointsRegisty

    registry = PointsRegisty()
    for p in diagram.setup.points:
        registry.add_point(p)
    try:
        pred = predicate_from_construction(PredicateConstruction.from_str(fact), registry)
    except (ValueError, KeyError):
        return False
    return pred is not None and bool(pred.check_numerical())


def _clause_text(jclause) -> str:
    return " ".join(str(p) for p in jclause.points) + " = " + ", ".join(str(c) for c in jclause.constructions)


def _build_message(e: BaseException) -> str:
    msg = _first_line(e)
    # newclid nests "Last error: ..." several levels deep; the innermost says what failed.
    if "Last error:" in msg:
        msg = msg.rsplit("Last error:", 1)[1].strip()
    if "has no definition" in msg:
        return f"unsupported construction: {msg}"
    if msg.startswith("Could not reduce"):
        return "no numeric placement found (the constructions do not meet where they should)"
    return msg[:300]


def _first_line(e: BaseException) -> str:
    return (str(e).strip().splitlines() or [type(e).__name__])[0]
