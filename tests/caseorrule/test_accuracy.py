"""Accuracy by region and by distance to the nearest training point, on a hand-checked 6 x 6 case.

    b                                 one square, centre (2, 2), half-length 1 (points 1..3 x 1..3)
    5  . . . . . .                    test points: the 9 inside; right: the centre (2, 2) and (1, 1)
    4  . . . . . .                    train points: the other 27; wrong: (5, 5) and (0, 5)
    3  . # # # . .
    2  . # C # . .                    distance to the nearest training point: 2 at the centre,
    1  . R # # . .                    1 for the 8 around it
    0  . . . . . .
       0 1 2 3 4 5  a
"""

import math

import pytest

from data.caseorrule.squares import Squares
from data.caseorrule.tasks import Task
from eval.caseorrule.accuracy import accuracy_by_distance, accuracy_grid, distances_to_training, region_accuracies

TINY = Task("addition", 6, "a 6 x 6 addition grid")
SQUARE = Squares(((2, 2),), (1,))


def rows() -> list[dict]:
    out = []
    for a in range(6):
        for b in range(6):
            inside = SQUARE.index(a, b) is not None
            correct = (a, b) in ((2, 2), (1, 1)) if inside else (a, b) not in ((5, 5), (0, 5))
            out.append({"id": 6 * a + b, "a": a, "b": b, "side": "test" if inside else "train", "correct": correct})
    return out


def test_region_accuracies_by_hand():
    got = {r.region: (r.correct, r.total) for r in region_accuracies(TINY, rows(), SQUARE)}
    assert got == {"train": (25, 27), "test": (2, 9), "out_of_squares": (25, 27), "in_squares": (2, 9), "square_1": (2, 9)}
    acc = {r.region: r.accuracy for r in region_accuracies(TINY, rows(), None)}
    assert acc == pytest.approx({"train": 25 / 27, "test": 2 / 9})


def test_distance_to_nearest_training_point_by_hand():
    assert sorted(distances_to_training(TINY, rows())) == [1] * 8 + [2]
    by = {d: (r.correct, r.total) for d, r in accuracy_by_distance(TINY, rows())}
    assert by == {1: (1, 8), 2: (1, 1)}


def test_accuracy_grid_is_indexed_b_then_a():
    grid = accuracy_grid(TINY, rows())
    assert grid.shape == (6, 6)
    assert grid[5, 5] == 0 and grid[5, 0] == 0 and grid[2, 2] == 1 and grid[3, 1] == 0 and grid[1, 1] == 1
    assert math.isnan(accuracy_grid(TINY, rows()[:3])[5, 5])
