"""The paper's five tasks over an (a, b) grid, as upstream's records.

Each task enumerates its grid in upstream's order (a outer, b inner; heads outer, legs inner for rabbits
and chickens), numbers the records from 0 in that order, and writes the keys in upstream's order, so
that `json.dumps` of a split is byte-identical to upstream's files. Tasks also place each record in the
plane where the held-out squares are drawn: (a, b), except rabbits and chickens, whose squares live in
(legs / 2, heads).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

MOD_P = 113
BASE = 9

RABBITS_QUESTION = ("Rabbits have 4 legs and 1 head. Chickens have 2 legs and 1 head. There are {} legs and {} heads "
                    "on the farm. How many rabbits and chickens are there?")
RABBITS_ANSWER = "There are {} rabbits and {} chickens."


def to_base(n: int, base: int) -> str:
    """Non-negative `n` written in `base` (digits 0-9, so base <= 10)."""
    digits = ""
    while True:
        n, d = divmod(n, base)
        digits = str(d) + digits
        if n == 0:
            return digits


@dataclass(frozen=True)
class Task:
    name: str
    grid: int  # a and b (heads for rabbits) range over 0 .. grid-1
    summary: str

    def records(self) -> list[dict]:
        return [{**r, "id": i} for i, r in enumerate(self._points())]  # "id" keeps its place: first

    def _points(self) -> Iterator[dict]:
        if self.name == "rabbits_and_chickens":
            for heads in range(self.grid):
                for legs in range(2 * heads, 4 * heads + 1, 2):
                    rabbits, chickens = (legs - 2 * heads) // 2, (4 * heads - legs) // 2
                    yield {"id": None, "question": RABBITS_QUESTION.format(legs, heads),
                           "answers": [RABBITS_ANSWER.format(rabbits, chickens)], "a": legs, "b": heads}
            return
        for a in range(self.grid):
            for b in range(self.grid):
                yield {"id": None, "question": self.question(a, b), "a": a, "b": b, "answers": [self.answer(a, b)]}

    def question(self, a: int, b: int) -> str:
        if self.name == "linear_regression":
            return f"({a},{b})="
        if self.name == "base_addition":
            return f"{to_base(a, BASE)}+{to_base(b, BASE)}="
        return f"{a}+{b}="

    def answer(self, a: int, b: int) -> str | int:
        """The gold answer as upstream stores it (an int for modular addition, a string otherwise)."""
        if self.name == "addition":
            return str(a + b)
        if self.name == "mod_addition":
            return (a + b) % MOD_P
        if self.name == "base_addition":
            return to_base(a + b, BASE)
        if self.name == "linear_regression":
            return str(a + 2 * b + 3)
        legs, heads = a, b
        return RABBITS_ANSWER.format((legs - 2 * heads) // 2, (4 * heads - legs) // 2)

    def plane(self, record: dict) -> tuple[float, int]:
        """Where `record` sits in the plane of the held-out squares."""
        if self.name == "rabbits_and_chickens":
            return record["a"] / 2, record["b"]
        return record["a"], record["b"]

    def plane_size(self) -> tuple[int, int]:
        """The extent of that plane (x range, y range): legs / 2 of rabbits and chickens reach 2 x heads."""
        return (2 * self.grid, self.grid) if self.name == "rabbits_and_chickens" else (self.grid, self.grid)


TASKS: dict[str, Task] = {t.name: t for t in (
    Task("addition", 100, "a+b, 0 <= a, b < 100"),
    Task("mod_addition", MOD_P, f"(a+b) mod {MOD_P}, 0 <= a, b < {MOD_P}"),
    Task("base_addition", 100, f"a+b written in base {BASE}, 0 <= a, b < 100"),
    Task("linear_regression", 100, "(a,b) -> a+2b+3, 0 <= a, b < 100"),
    Task("rabbits_and_chickens", 100, "legs and heads -> rabbits and chickens, heads < 100"),
)}


def get_task(name: str) -> Task:
    try:
        return TASKS[name]
    except KeyError:
        raise ValueError(f"unknown task {name!r}; known: {', '.join(TASKS)}") from None
