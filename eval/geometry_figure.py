"""The figure of a geometry diagram: points, the lines and circles its constructions assert, the goal's
points and every auxiliary construction (points and the lines/circles it asserts) highlighted."""

from __future__ import annotations

import math
from pathlib import Path

from formal.geometry.engine import Diagram

AUX_COLOR, GOAL_COLOR, BASE_COLOR = "#d62728", "#1f77b4", "#444444"


def _lines_and_circles(fact: str, xy: dict) -> tuple[list[tuple[str, ...]], list[tuple[tuple[float, float], float]]]:
    """(point tuples to join by one line, circles as (centre, radius)) that a fact asserts."""
    name, *args = fact.split()
    pts = [a for a in args if a in xy]
    if name == "coll":
        return [tuple(pts)], []
    if name in ("para", "perp", "cong", "eqangle", "eqratio") and len(pts) >= 4:
        return [tuple(pts[i : i + 2]) for i in range(0, len(pts) - 1, 2)], []
    if name == "midp" and len(pts) == 3:
        return [(pts[1], pts[2])], []
    if name == "circle" and len(pts) >= 2:
        return [], [(xy[pts[0]], _dist(xy[pts[0]], xy[pts[1]]))]
    if name == "cyclic" and len(pts) >= 3:
        c = _circumcentre(xy[pts[0]], xy[pts[1]], xy[pts[2]])
        return ([], [(c, _dist(c, xy[pts[0]]))]) if c else ([], [])
    return [], []


def draw(diagram: Diagram, path: str | Path, title: str = "", goal: str = "") -> Path:
    """Write the diagram as a PNG at `path` (parents made); returns the path."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    xy = diagram.coordinates
    aux_points = set(diagram.aux_points)
    goal_points = {a for a in goal.split()[1:] if a in xy}
    fig, ax = plt.subplots(figsize=(6.4, 6.4))
    drawn: set = set()
    for clause in diagram.clauses:
        color, style, width = (AUX_COLOR, "--", 1.4) if clause.aux else (BASE_COLOR, "-", 0.9)
        for fact in clause.facts:
            lines, circles = _lines_and_circles(fact, xy)
            for pts in lines:
                key = ("l", frozenset(pts))
                if len(pts) < 2 or key in drawn:
                    continue
                drawn.add(key)
                (x0, y0), (x1, y1) = _extent([xy[p] for p in pts])
                ax.plot([x0, x1], [y0, y1], style, color=color, lw=width, zorder=1)
            for centre, r in circles:
                key = ("c", round(centre[0], 6), round(centre[1], 6), round(r, 6))
                if key in drawn or not math.isfinite(r) or r <= 0:
                    continue
                drawn.add(key)
                ax.add_patch(plt.Circle(centre, r, fill=False, ls=style, color=color, lw=width, zorder=1))
    for p, (x, y) in xy.items():
        color = AUX_COLOR if p in aux_points else GOAL_COLOR if p in goal_points else "black"
        ax.plot([x], [y], "o", color=color, ms=5 if p not in aux_points else 7, zorder=3)
        ax.annotate(p, (x, y), textcoords="offset points", xytext=(4, 4), color=color, fontsize=10, zorder=4)
    ax.set_aspect("equal")
    ax.margins(0.08)  # room for the labels of points on the edge
    ax.axis("off")
    lines = [title] if title else []
    if goal:
        lines.append(f"goal: {goal}")
    if aux_points:
        lines.append("auxiliary (red): " + "; ".join(c.clause for c in diagram.clauses if c.aux))
    if lines:
        ax.set_title("\n".join(_short(s) for s in lines), fontsize=9)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _short(s: str, n: int = 90) -> str:
    return s if len(s) <= n else "…" + s[-(n - 1) :]


def _dist(a, b) -> float:
    return math.hypot(a[0] - b[0], a[1] - b[1])


def _extent(points: list[tuple[float, float]]) -> tuple[tuple[float, float], tuple[float, float]]:
    """The two points farthest apart (a line drawn as the segment its points span)."""
    best, pair = -1.0, (points[0], points[-1])
    for i, a in enumerate(points):
        for b in points[i + 1 :]:
            d = _dist(a, b)
            if d > best:
                best, pair = d, (a, b)
    return pair


def _circumcentre(a, b, c):
    d = 2 * (a[0] * (b[1] - c[1]) + b[0] * (c[1] - a[1]) + c[0] * (a[1] - b[1]))
    if abs(d) < 1e-12:
        return None
    ux = ((a[0] ** 2 + a[1] ** 2) * (b[1] - c[1]) + (b[0] ** 2 + b[1] ** 2) * (c[1] - a[1]) + (c[0] ** 2 + c[1] ** 2) * (a[1] - b[1])) / d
    uy = ((a[0] ** 2 + a[1] ** 2) * (c[0] - b[0]) + (b[0] ** 2 + b[1] ** 2) * (a[0] - c[0]) + (c[0] ** 2 + c[1] ** 2) * (b[0] - a[0])) / d
    return (ux, uy)
