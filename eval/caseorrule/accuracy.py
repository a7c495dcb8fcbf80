"""Accuracy by region of the (a, b) plane: inside the held-out squares (each square too) and outside them,
from a model's graded answers over the task's grid.

A prediction row is `{"id", "a", "b", "side": "train"|"test", "generated", "correct"}` (and, for the
scratchpad format, the share of its lines the line checker accepts). For a leave-square-out split the
test side *is* the inside of the squares; for a random split there are no squares, and `test` is the
random 30%.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from data.caseorrule.squares import Squares
from data.caseorrule.tasks import Task


@dataclass(frozen=True)
class RegionAccuracy:
    region: str
    correct: int
    total: int
    lines_ok: float | None = None  # scratchpad format: mean share of lines the checker accepts

    @property
    def accuracy(self) -> float:
        return self.correct / self.total if self.total else float("nan")


def region_accuracies(task: Task, rows: list[dict], squares: Squares | None,
                      group: Callable[[dict], str] | None = None) -> list[RegionAccuracy]:
    """Per region, in a fixed order: train, test (for squares: out_of_squares, in_squares, square_1..n),
    then `group(row)`'s groups of the test side, sorted (the length split's operand lengths)."""
    buckets: dict[str, list[dict]] = {}
    groups: set[str] = set()
    for r in rows:
        buckets.setdefault(r["side"], []).append(r)
        if group is not None and r["side"] == "test":
            groups.add(name := group(r))
            buckets.setdefault(name, []).append(r)
        if squares is not None:
            i = squares.index(*task.plane(r))
            buckets.setdefault("in_squares" if i is not None else "out_of_squares", []).append(r)
            if i is not None:
                buckets.setdefault(f"square_{i + 1}", []).append(r)
    order = ["train", "test", "out_of_squares", "in_squares"] + [f"square_{i + 1}" for i in range(len(squares.centres) if squares else 0)]
    order += sorted(groups)
    return [_accuracy(name, buckets[name]) for name in order if name in buckets]


def _accuracy(name: str, rows: list[dict]) -> RegionAccuracy:
    lines = [r["lines_ok"] for r in rows if r.get("lines_ok") is not None]
    return RegionAccuracy(name, sum(bool(r["correct"]) for r in rows), len(rows), sum(lines) / len(lines) if lines else None)


def accuracy_grid(task: Task, rows: list[dict]):
    """A (height x width) array over the task's plane: 1 right, 0 wrong, NaN where nothing was asked."""
    import numpy as np

    width, height = task.plane_size()
    grid = np.full((height, width), np.nan)
    for r in rows:
        x, y = task.plane(r)
        grid[int(y), int(x)] = 1.0 if r["correct"] else 0.0
    return grid


def distances_to_training(task: Task, rows: list[dict]) -> list[int]:
    """For each test row, the Chebyshev distance (in the task's plane) to the nearest training point:
    1 for a point beside a training case, k+1 at the centre of a held-out square of half-length k."""
    import numpy as np

    train = np.array([task.plane(r) for r in rows if r["side"] == "train"], dtype=float)
    test = np.array([task.plane(r) for r in rows if r["side"] == "test"], dtype=float)
    if not len(test) or not len(train):
        return []
    out = []
    for lo in range(0, len(test), 512):
        chunk = test[lo : lo + 512]
        d = np.abs(chunk[:, None, :] - train[None, :, :]).max(-1).min(-1)
        out += [int(round(v)) for v in d]
    return out


def accuracy_by_distance(task: Task, rows: list[dict]) -> list[tuple[int, RegionAccuracy]]:
    """Test accuracy per distance to the nearest training point: case-based reasoning shows as accuracy
    falling with the distance, rule-based reasoning as none."""
    test = [r for r in rows if r["side"] == "test"]
    by: dict[int, list[dict]] = {}
    for r, d in zip(test, distances_to_training(task, rows)):
        by.setdefault(d, []).append(r)
    return [(d, _accuracy(f"distance {d}", by[d])) for d in sorted(by)]
