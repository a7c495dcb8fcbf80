"""The human-designed auxiliary constructions AlphaGeometry's paper compares its language model with:
midpoints of segments, feet of perpendiculars, circumcentres of triangles, intersections of existing
lines, reflections of points -- drawn on the segments the problem already has, the goal's first.

`candidates(text)` ranks them (a construction touching more goal points first, then by kind in the order
above), so a search that tries them in rank order, level by level, is the breadth-first baseline.
Nothing here runs the engine: a candidate that cannot be drawn (parallel lines, a point that exists)
is refused when it is drawn.
"""

from __future__ import annotations

from itertools import combinations

from formal.geometry.syntax import COORDINATES, GeometryProblem, fresh_names, parse_problem

KINDS = ("midpoint", "foot", "circumcentre", "intersection", "mirror")


def segments(problem: GeometryProblem) -> list[tuple[str, str]]:
    """Pairs of points the problem joins: within each construction's (or premise's) points, and the
    goal's pairs; in first-mention order."""
    known = set(problem.points)
    seen: dict[frozenset, tuple[str, str]] = {}
    groups = []
    for clause in (*problem.setup, *problem.aux):
        for name, *args in clause.constructions:
            groups.append([a for a in dict.fromkeys((*clause.points, *args)) if a in known])
    for pred in (*problem.premises, *problem.goals):
        args = [a for a in pred[1:] if a in known]
        groups.append(args if pred[0] in ("coll", "cyclic", "circle") else [])
        groups += [args[i : i + 2] for i in range(0, len(args) - 1, 2)]
    for g in groups:
        for a, b in combinations(g, 2):
            if a != b:
                seen.setdefault(frozenset((a, b)), (a, b))
    return list(seen.values())


def candidates(text: str, limit: int | None = None) -> list[tuple[str, float]]:
    """(clause, score) best first, in newclid's dialect; scores are -rank."""
    problem = parse_problem(text, dialect="newclid")
    if problem.kind == COORDINATES:
        return []
    (x,) = fresh_names(set(problem.points), 1)
    goal_points = {a for g in problem.goals for a in g[1:]}
    segs = segments(problem)
    joined = {frozenset(s) for s in segs}
    out: list[tuple[int, int, str]] = []

    def add(kind: str, pts: tuple[str, ...], clause: str) -> None:
        out.append((-len(goal_points & set(pts)), KINDS.index(kind), clause))

    for a, b in segs:
        add("midpoint", (a, b), f"{x} = midpoint {x} {a} {b}")
    for a, b in segs:
        for p in problem.points:
            if p not in (a, b):
                add("foot", (p, a, b), f"{x} = foot {x} {p} {a} {b}")
    for a, b, c in combinations(problem.points, 3):
        if {frozenset((a, b)), frozenset((b, c)), frozenset((a, c))} <= joined:
            add("circumcentre", (a, b, c), f"{x} = circle {x} {a} {b} {c}")
    for (a, b), (c, d) in combinations(segs, 2):
        if len({a, b, c, d}) == 4:
            add("intersection", (a, b, c, d), f"{x} = on_line {x} {a} {b}, on_line {x} {c} {d}")
    for a, b in segs:
        add("mirror", (a, b), f"{x} = mirror {x} {a} {b}")
        add("mirror", (a, b), f"{x} = mirror {x} {b} {a}")
    out.sort(key=lambda t: (t[0], t[1]))
    ranked = list(dict.fromkeys(c for _, _, c in out))
    if limit is not None:
        ranked = ranked[:limit]
    return [(c, -float(i)) for i, c in enumerate(ranked)]
