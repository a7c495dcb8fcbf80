"""AlphaGeometry's problem language, read and translated to newclid's (the engine's) dialect.

A problem file alternates a name line and a problem line. Two problem languages occur:

- constructions (AlphaGeometry 1, JGEX-AG-231, examples.txt): `a b c = triangle a b c; d = foot d a b c ? perp a d b c`.
  newclid reads the same language with four differences, translated here:
  the shorthand that leaves the new points out of a construction's arguments (`a b c = triangle`,
  `h = on_tline b a c`; AlphaGeometry puts the clause's points in front), the argument order of
  `parallelogram` and `square` (newclid puts the new points first), `s_angle`'s angle (degrees in
  AlphaGeometry, `60o` in newclid) and `eq_trapezoid` (newclid's `iso_trapezoid`).
- coordinates (AlphaGeometry 2's test problems): every point with its coordinates, `a@0.1_0.2 = ;`,
  and the premises as predicates after the last `=`: `... q@0.3_0.1 = perp a b a c, coll a c e ? cong e p e q`.

Both become a `GeometryProblem` whose `text` newclid reads (constructions: `setup [| aux] ? goal`).
Nothing here runs the engine; arities come from newclid's construction definitions.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

DIALECTS = ("alphageometry", "newclid")
CONSTRUCTIONS = "constructions"
COORDINATES = "coordinates"

# AlphaGeometry's argument order -> newclid's, by the definitions' variable names (defs.txt vs newclid).
_REORDER = {
    "parallelogram": ((0, 1, 2, 3), (3, 0, 1, 2)),  # a b c x -> x a b c
    "square": ((0, 1, 2, 3), (2, 3, 0, 1)),  # a b x y -> x y a b
}
_RENAME = {"eq_trapezoid": "iso_trapezoid"}
_DEGREES = {"s_angle": 3}  # construction -> index of an angle given in degrees
# Goals and premises newclid has no predicate for (AlphaGeometry 2's language).
UNSUPPORTED_PREDICATES = {
    "acompute": "an angle to compute (AlphaGeometry 2's `acompute` goal), not a statement to prove",
    "rcompute": "a ratio to compute (AlphaGeometry 2's `rcompute` goal), not a statement to prove",
    "distseq": "a linear relation of lengths (AlphaGeometry 2's `distseq`)",
}
_NAME = re.compile(r"^[a-z][a-z0-9_']*$")
_COORD = re.compile(r"^([a-z][a-z0-9_']*)@(-?[0-9.e-]+)_(-?[0-9.e-]+)$")


class SyntaxError_(ValueError):
    """A problem text this module cannot read or translate; the message is one line."""


@dataclass(frozen=True)
class Clause:
    """`points = construction args, construction args` in newclid's dialect."""

    points: tuple[str, ...]
    constructions: tuple[tuple[str, ...], ...]  # (name, *args)

    def __str__(self) -> str:
        return " ".join(self.points) + " = " + ", ".join(" ".join(c) for c in self.constructions)

    @property
    def inputs(self) -> tuple[str, ...]:
        """The existing points the clause's constructions refer to (its dependencies)."""
        seen: dict[str, None] = {}
        for name, *args in self.constructions:
            for a in args:
                if _NAME.match(a) and a not in self.points:
                    seen[a] = None
        return tuple(seen)


@dataclass(frozen=True)
class GeometryProblem:
    name: str
    kind: str  # CONSTRUCTIONS | COORDINATES
    setup: tuple[Clause, ...]  # constructions: the statement's clauses
    aux: tuple[Clause, ...]  # constructions: auxiliary clauses (`|` part, or added by a search)
    goals: tuple[tuple[str, ...], ...]  # (predicate, *args)
    source: str  # the problem line as given
    points_at: tuple[tuple[str, float, float], ...] = ()  # coordinates: every point
    premises: tuple[tuple[str, ...], ...] = ()  # coordinates: the premises

    @property
    def text(self) -> str:
        """newclid's text of the problem (constructions), or a readable form of the coordinates one."""
        goal = "; ".join(" ".join(g) for g in self.goals)
        if self.kind == COORDINATES:
            return ", ".join(" ".join(p) for p in self.premises) + " ? " + goal
        setup = "; ".join(str(c) for c in self.setup)
        aux = (" | " + "; ".join(str(c) for c in self.aux)) if self.aux else ""
        return f"{setup}{aux} ? {goal}"

    @property
    def points(self) -> tuple[str, ...]:
        """Every point, in construction order."""
        if self.kind == COORDINATES:
            return tuple(p for p, _, _ in self.points_at)
        return tuple(p for c in (*self.setup, *self.aux) for p in c.points)

    def with_aux(self, clause: Clause) -> GeometryProblem:
        if self.kind != CONSTRUCTIONS:
            raise SyntaxError_("auxiliary constructions need a problem stated by constructions")
        clash = set(clause.points) & set(self.points)
        if clash:
            raise SyntaxError_(f"the construction {clause} names existing point(s) {' '.join(sorted(clash))}")
        missing = [p for p in clause.inputs if p not in self.points]
        if missing:
            raise SyntaxError_(f"the construction {clause} refers to unknown point(s) {' '.join(missing)}")
        return GeometryProblem(self.name, self.kind, self.setup, (*self.aux, clause), self.goals, self.source)


@lru_cache(maxsize=1)
def arities() -> dict[str, int]:
    """Construction name -> number of arguments, from newclid's definitions."""
    from newclid.jgex.constructions import ALL_JGEX_CONSTRUCTIONS

    return {str(d.name.value): len(d.args) for d in ALL_JGEX_CONSTRUCTIONS}


@lru_cache(maxsize=1)
def predicate_names() -> frozenset[str]:
    from newclid.predicates._index import PredicateType

    return frozenset(p.value for p in PredicateType)


@dataclass(frozen=True)
class Unreadable:
    """A problem of a file whose line this module cannot read: listed (and reported), not dropped."""

    name: str
    source: str
    message: str


def read_problems(path: str | Path) -> list[GeometryProblem | Unreadable]:
    """Every problem of a file (name line, problem line, ...), in file order. A file that is not one
    raises; a problem whose line cannot be read comes back as `Unreadable` with the reason."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise SyntaxError_(f"{path}: not a UTF-8 text file") from None
    except OSError as e:
        raise SyntaxError_(f"{path}: cannot read it ({e.strerror or e})") from None
    lines = [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.startswith("#")]
    if not lines:
        raise SyntaxError_(f"{path}: no problems in it")
    if len(lines) % 2:
        raise SyntaxError_(f"{path}: {len(lines)} lines; expected pairs of a name line and a problem line")
    problems, seen = [], set()
    for i in range(0, len(lines), 2):
        name, line = lines[i], lines[i + 1]
        if name in seen:
            raise SyntaxError_(f"{path}:{i + 1}: problem name {name!r} occurs twice")
        seen.add(name)
        try:
            problems.append(parse_problem(line, name))
        except SyntaxError_ as e:
            problems.append(Unreadable(name, line, f"line {i + 2}: {e}"))
    return problems


def parse_problem(line: str, name: str = "problem", dialect: str = "alphageometry") -> GeometryProblem:
    """One problem line, in either language, translated to newclid's dialect. `dialect="newclid"`
    reads text already in newclid's dialect (what `GeometryProblem.text` writes) without translating."""
    if dialect not in DIALECTS:
        raise SyntaxError_(f"dialect must be one of {DIALECTS}, got {dialect!r}")
    if line.count("?") != 1:
        raise SyntaxError_("a problem is `premises ? goal`, with one `?`")
    premises, goal_text = (s.strip() for s in line.split("?"))
    goals = tuple(_predicate(g) for g in goal_text.split(";") if g.strip())
    if not goals:
        raise SyntaxError_("no goal after `?`")
    if "@" in premises:
        return _parse_coordinates(premises, goals, name, line)
    setup, _, aux = premises.partition("|")
    setup_clauses = parse_clauses(setup, dialect)
    aux_clauses = parse_clauses(aux, dialect) if aux.strip() else ()
    problem = GeometryProblem(name, CONSTRUCTIONS, setup_clauses, aux_clauses, goals, line)
    _check_points(problem)
    return problem


def parse_clauses(text: str, dialect: str = "alphageometry") -> tuple[Clause, ...]:
    """`a b c = triangle; d = foot d a b c` (AlphaGeometry's or newclid's dialect) -> newclid's clauses."""
    clauses = []
    for chunk in text.split(";"):
        if chunk.strip():
            clauses.append(parse_clause(chunk, dialect))
    if not clauses:
        raise SyntaxError_("no construction clauses")
    return tuple(clauses)


def parse_clause(text: str, dialect: str = "alphageometry") -> Clause:
    if text.count("=") != 1:
        raise SyntaxError_(f"a clause is `points = construction args, ...`: {text.strip()!r}")
    lhs, rhs = text.split("=")
    points = tuple(lhs.split())
    if not points or not all(_NAME.match(p) for p in points):
        raise SyntaxError_(f"bad point names in {text.strip()!r}")
    if len(set(points)) != len(points):
        raise SyntaxError_(f"a point is named twice in {text.strip()!r}")
    constructions = tuple(_construction(c, points, dialect == "alphageometry") for c in rhs.split(",") if c.strip())
    if not constructions:
        raise SyntaxError_(f"no construction in {text.strip()!r}")
    return Clause(points, constructions)


def _construction(text: str, points: tuple[str, ...], translate: bool) -> tuple[str, ...]:
    name, *args = text.split()
    name = _RENAME.get(name, name) if translate else name
    arity = arities().get(name)
    if arity is None:
        if name in predicate_names():  # a bare predicate is a numerical requirement (e.g. `ncoll a b c`)
            return (name, *args)
        raise SyntaxError_(f"unknown construction {name!r}")
    if len(args) != arity:
        if translate and arity - len(args) == len(points):  # AlphaGeometry's shorthand: new points in front
            args = [*points, *args]
        else:
            raise SyntaxError_(f"{name} takes {arity} arguments, got {len(args)} in {text.strip()!r}")
    if translate and name in _REORDER:
        src, dst = _REORDER[name]
        by_src = dict(zip(src, args))
        args = [by_src[i] for i in dst]
    if translate and name in _DEGREES:
        i = _DEGREES[name]
        if re.fullmatch(r"-?\d+", args[i]):
            args[i] = args[i] + "o"
    for a in args:
        if not (_NAME.match(a) or re.fullmatch(r"-?[0-9][0-9./]*(pi/-?[0-9]+|o)?", a)):
            raise SyntaxError_(f"bad argument {a!r} in {text.strip()!r}")
    return (name, *args)


def _predicate(text: str) -> tuple[str, ...]:
    name, *args = text.split()
    if name in UNSUPPORTED_PREDICATES:
        return (name, *args)  # kept so the problem can be listed; the engine reports it unsupported
    if name not in predicate_names():
        raise SyntaxError_(f"unknown predicate {name!r}")
    if not args:
        raise SyntaxError_(f"predicate {name} without arguments")
    return (name, *args)


def _parse_coordinates(premises: str, goals, name: str, line: str) -> GeometryProblem:
    points: list[tuple[str, float, float]] = []
    preds: list[tuple[str, ...]] = []
    for chunk in premises.split(";"):
        if not chunk.strip():
            continue
        if chunk.count("=") != 1:
            raise SyntaxError_(f"a clause is `name@x_y = [predicates]`: {chunk.strip()!r}")
        lhs, rhs = chunk.split("=")
        for p in lhs.split():
            m = _COORD.match(p)
            if not m:
                raise SyntaxError_(f"a point is `name@x_y`: {p!r}")
            try:
                points.append((m.group(1), float(m.group(2)), float(m.group(3))))
            except ValueError:
                raise SyntaxError_(f"bad coordinates {p!r}") from None
        preds += [_predicate(c) for c in rhs.split(",") if c.strip()]
    names = [p for p, _, _ in points]
    if len(set(names)) != len(names):
        raise SyntaxError_("a point is named twice")
    problem = GeometryProblem(name, COORDINATES, (), (), goals, line, tuple(points), tuple(preds))
    _check_points(problem)
    return problem


def _check_points(problem: GeometryProblem) -> None:
    """Every point a clause, premise or goal names is defined (by an earlier clause, for constructions)."""
    known: set[str] = set(problem.points) if problem.kind == COORDINATES else set()
    for clause in (*problem.setup, *problem.aux):
        missing = [p for p in clause.inputs if p not in known]
        if missing:
            raise SyntaxError_(f"clause {clause} refers to point(s) not yet constructed: {' '.join(missing)}")
        dup = [p for p in clause.points if p in known]
        if dup:
            raise SyntaxError_(f"clause {clause} constructs existing point(s) {' '.join(dup)}")
        known.update(clause.points)
    for pred in (*problem.premises, *problem.goals):
        missing = [a for a in pred[1:] if _NAME.match(a) and a not in known]
        if missing:
            raise SyntaxError_(f"{' '.join(pred)} names unknown point(s) {' '.join(missing)}")


def rename(problem: GeometryProblem, mapping: dict[str, str]) -> GeometryProblem:
    """The problem with its points renamed (constructions only); unmapped points keep their names."""

    def args(xs):
        return tuple(mapping.get(x, x) for x in xs)

    def clause(c: Clause) -> Clause:
        return Clause(args(c.points), tuple((c_[0], *args(c_[1:])) for c_ in c.constructions))

    return GeometryProblem(problem.name, problem.kind, tuple(map(clause, problem.setup)), tuple(map(clause, problem.aux)),
                           tuple((g[0], *args(g[1:])) for g in problem.goals), problem.source)


ALPHABET = tuple(
    [chr(c) for c in range(ord("a"), ord("z") + 1)] + [f"{chr(c)}{i}" for i in range(1, 10) for c in range(ord("a"), ord("z") + 1)]
)


def alphabetize(problem: GeometryProblem) -> tuple[GeometryProblem, dict[str, str]]:
    """Points renamed a, b, c, ... in construction order (the form the proposer is trained and queried
    on, whatever names the source used); also returns new name -> original name."""
    order = problem.points
    if len(order) > len(ALPHABET):
        raise SyntaxError_(f"{len(order)} points; at most {len(ALPHABET)} can be renamed")
    forward = dict(zip(order, ALPHABET))
    return rename(problem, forward), {v: k for k, v in forward.items()}


def fresh_names(taken: set[str] | tuple[str, ...], n: int) -> list[str]:
    """The first `n` names of ALPHABET not in `taken`."""
    out = [p for p in ALPHABET if p not in taken][:n]
    if len(out) < n:
        raise SyntaxError_("no fresh point names left")
    return out
