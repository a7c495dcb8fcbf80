"""Held-out squares: centres and half-lengths, as upstream's `test_squares.txt` writes them.

A square (c, k) holds the points p with |p.x - c.x| <= k and |p.y - c.y| <= k in the task's plane.
`parse_squares` reads an untrusted file (a clear `ValueError`, never a crash); `draw_squares` draws new,
non-overlapping squares with upstream's procedure, seeded (upstream's own draws were not).
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass

from data.caseorrule.tasks import Task

MAX_SQUARES = 64
_FILE = re.compile(r"\s*centers:\s*\[(?P<centres>[^\]]*)\]\s*\n\s*lengths:\s*\[(?P<halves>[^\]]*)\]\s*")
_PAIR = re.compile(r"\(\s*(-?\d+)\s*,\s*(-?\d+)\s*\)")


@dataclass(frozen=True)
class Squares:
    centres: tuple[tuple[int, int], ...]
    halves: tuple[int, ...]  # half side lengths: a square of half-length k is 2k+1 points wide

    def __post_init__(self) -> None:
        if not self.centres or len(self.centres) != len(self.halves):
            raise ValueError(f"{len(self.centres)} centres and {len(self.halves)} lengths: need the same number, at least one")
        if len(self.centres) > MAX_SQUARES:
            raise ValueError(f"{len(self.centres)} squares: at most {MAX_SQUARES}")
        if any(k < 0 for k in self.halves):
            raise ValueError(f"lengths must be >= 0, got {list(self.halves)}")

    def index(self, x: float, y: float) -> int | None:
        """The first square holding (x, y), or None."""
        for i, ((cx, cy), k) in enumerate(zip(self.centres, self.halves)):
            if cx - k <= x <= cx + k and cy - k <= y <= cy + k:
                return i
        return None

    @property
    def nominal_size(self) -> int:
        """Upstream's `test_num` (the number in a split's name): the squares' areas summed."""
        return sum((2 * k + 1) ** 2 for k in self.halves)

    def text(self) -> str:
        """Upstream's `test_squares.txt` text (Python's list-of-tuples repr, no final newline)."""
        return f"centers:{list(self.centres)}\nlengths:{list(self.halves)}"

    def check_inside(self, task: Task) -> None:
        width, height = task.plane_size()
        for (cx, cy), k in zip(self.centres, self.halves):
            if not (0 <= cx < width and 0 <= cy < height):
                raise ValueError(f"centre ({cx}, {cy}) lies outside {task.name}'s plane [0, {width}) x [0, {height})")


def parse_squares(text: str) -> Squares:
    m = _FILE.fullmatch(text)
    if m is None:
        raise ValueError("not a squares file: expected 'centers:[(x, y), ...]' then 'lengths:[k, ...]'")
    centres = [(int(x), int(y)) for x, y in _PAIR.findall(m["centres"])]
    if _PAIR.sub("", m["centres"]).replace(",", "").strip():
        raise ValueError(f"centers: expected (x, y) pairs of integers, got [{m['centres'].strip()}]")
    try:
        halves = [int(v) for v in m["halves"].split(",") if v.strip()]
    except ValueError:
        raise ValueError(f"lengths: expected integers, got [{m['halves'].strip()}]") from None
    return Squares(tuple(centres), tuple(halves))


def one_square(centre: tuple[int, int], half: int) -> Squares:
    return Squares((tuple(centre),), (half,))


def draw_squares(task: Task, n: int, seed: int, lengths: tuple[int, int] | None = None,
                 max_tries: int = 100_000) -> Squares:
    """`n` squares inside the task's plane, no two sharing a point, half-lengths drawn from `lengths`
    (inclusive; upstream: 10..19, and 5..14 for rabbits and chickens, whose squares must also keep to
    the region of valid (legs, heads): a centre (x, y) with y <= x <= 2y, a half-length at most
    (x - y) / 2 and (2y - x) / 3)."""
    rabbits = task.name == "rabbits_and_chickens"
    lo, hi = lengths or ((5, 14) if rabbits else (10, 19))
    if n < 1 or n > MAX_SQUARES or lo < 0 or hi < lo:
        raise ValueError(f"need 1..{MAX_SQUARES} squares and 0 <= min length <= max length, got {n}, {lo}..{hi}")
    width, height = task.plane_size()
    rng = random.Random(seed)
    centres: list[tuple[int, int]] = []
    halves: list[int] = []
    for _ in range(max_tries):
        if len(centres) == n:
            break
        if rabbits:
            cy = rng.randint(0, height - 1)
            cx = rng.randint(cy, 2 * cy)
            top = min(hi, (cx - cy) // 2, (2 * cy - cx) // 3)
            if top < lo:
                continue
            k = rng.randint(lo, top)
        else:
            cx, cy, k = rng.randint(0, width - 1), rng.randint(0, height - 1), rng.randint(lo, hi)
        inside = 0 <= cx - k and cx + k <= width - 1 and 0 <= cy - k and cy + k <= height - 1
        if inside and all(abs(cx - ox) > k + ok or abs(cy - oy) > k + ok for (ox, oy), ok in zip(centres, halves)):
            centres.append((cx, cy))
            halves.append(k)
    if len(centres) < n:
        raise ValueError(f"could not place {n} disjoint squares of half-length {lo}..{hi} in {task.name}'s plane")
    return Squares(tuple(centres), tuple(halves))
