"""The paper's scratchpad for the addition tasks, and a checker that grades every line of one.

A scratchpad line is a state of column addition, `A+B,R,C:c`: the digits of A and B not yet added, the
result digits so far, the carry. Each line follows from the one before by one rule (add the last digits
and the carry; write the last digit of the sum; carry the rest), until both operands are used up and
the carry is written. For 40+41 (upstream's `cot` files):

    40+41,,C:0
    4+4,1,C:0
    +,81,C:0
    81

Base-9 addition runs the same rule in base 9; modular addition (mod 113) adds, compares with 113, and
when the sum is not below it subtracts 113 with a borrow scratchpad (`A-B,R,C:c`, c in {0, -1}).

`grade_scratchpad` grades each line of a model's scratchpad *locally*: a step line against the rule
applied to the model's own previous line (a line that carries an earlier slip forward correctly is
right), and the remaining lines (final sum, comparison, subtraction header, answer) against what the
lines before them say. A line that does not parse is wrong, and grading goes on from the rule's line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from data.caseorrule.tasks import BASE, MOD_P, to_base

SCRATCHPAD_TASKS = ("addition", "base_addition", "mod_addition")
_STATE = re.compile(r"(\d*)([+-])(\d*),(\d*),C:(-?\d)")


@dataclass(frozen=True)
class State:
    """One line of column addition (op "+") or subtraction (op "-")."""

    left: str
    op: str
    right: str
    result: str
    carry: int

    def line(self) -> str:
        return f"{self.left}{self.op}{self.right},{self.result},C:{self.carry}"


def step(s: State, base: int = 10) -> State:
    """The rule: the next line of column addition/subtraction."""
    if not s.left and not s.right:  # both used up: write a carry (or borrow) that is left
        result = s.result
        if s.carry:
            result = (str(s.carry) if s.op == "+" else str(base + s.carry)) + result
        return State("", s.op, "", result, 0)
    x = int(s.left[-1]) if s.left else 0
    y = int(s.right[-1]) if s.right else 0
    total = x + y + s.carry if s.op == "+" else x - y + s.carry
    digit, carry = (total % base, total // base) if s.op == "+" else (total % base, -1 if total < 0 else 0)
    return State(s.left[:-1], s.op, s.right[:-1], str(digit) + s.result, carry)


def column_lines(left: str, op: str, right: str, lines: int, base: int = 10) -> list[str]:
    s, out = State(left, op, right, "", 0), []
    for _ in range(lines):
        out.append(s.line())
        s = step(s, base)
    return out


def addition_lines(task: str, a: int, b: int) -> int:
    """How many column lines the addition takes: one per digit of the sum, plus the first.

    Base 9 keeps upstream's count, taken from the base-9 digit strings read as decimal numbers: for
    40+40 (`44+44` in base 9, sum `88`) that is one line more, which repeats the last state."""
    if task == "base_addition":
        return len(to_base(int(to_base(a, BASE)) + int(to_base(b, BASE)), BASE)) + 1
    return len(str(a + b)) + 1


def scratchpad(task: str, a: int, b: int) -> str:
    """The target after the question (upstream's `answers[0]` in its `_cot` files)."""
    if task == "addition":
        return "\n".join(column_lines(str(a), "+", str(b), len(str(a + b)) + 1)) + f"\n{a + b}"
    if task == "base_addition":
        lines = column_lines(to_base(a, BASE), "+", to_base(b, BASE), addition_lines(task, a, b), BASE)
        return "\n".join(lines) + f"\n{to_base(a + b, BASE)}"
    if task == "mod_addition":
        text = scratchpad("addition", a, b)
        s = a + b
        if s < MOD_P:
            return text + f"\n{s}<{MOD_P}\n{s}"
        sub = column_lines(str(s), "-", str(MOD_P), max(len(str(s)), len(str(MOD_P))) + 1)
        return text + f"\n{s}>={MOD_P}\n{s}-{MOD_P}=\n" + "\n".join(sub) + f"\n{s - MOD_P}"
    raise ValueError(f"no scratchpad for task {task!r}: one of {', '.join(SCRATCHPAD_TASKS)}")


@dataclass(frozen=True)
class LineGrade:
    index: int
    text: str  # the model's line ("" where the model stopped short)
    expected: str  # what the rule makes of the lines before it
    ok: bool


@dataclass(frozen=True)
class ScratchpadGrade:
    lines: tuple[LineGrade, ...]
    answer_ok: bool  # the last line is the gold answer

    @property
    def steps_ok(self) -> int:
        return sum(g.ok for g in self.lines)

    @property
    def first_error(self) -> LineGrade | None:
        return next((g for g in self.lines if not g.ok), None)


def _parse(line: str) -> State | None:
    m = _STATE.fullmatch(line)
    return State(m[1], m[2], m[3], m[4], int(m[5])) if m else None


def _grade_column(got: list[str], first: State, lines: int, base: int, start: int) -> tuple[list[LineGrade], str]:
    """Grades `lines` column lines from `first`; returns them and the result the model's last line holds."""
    grades, prev = [], None
    for i in range(lines):
        text = got[start + i] if start + i < len(got) else ""
        expected = first if prev is None else step(prev, base)
        grades.append(LineGrade(start + i, text, expected.line(), text == expected.line()))
        prev = _parse(text) or expected  # a line that does not parse is graded wrong; go on from the rule's
    return grades, prev.result if prev is not None else ""


def grade_scratchpad(task: str, a: int, b: int, text: str) -> ScratchpadGrade:
    """Grades each line of `text` (a model's scratchpad for a+b) as the docstring above says."""
    got = text.strip("\n").split("\n")
    gold = scratchpad(task, a, b).split("\n")
    base = BASE if task == "base_addition" else 10
    left, right = (to_base(a, BASE), to_base(b, BASE)) if task == "base_addition" else (str(a), str(b))
    n_add = addition_lines(task, a, b)
    grades, partial = _grade_column(got, State(left, "+", right, "", 0), n_add, base, 0)
    i = n_add

    def expect(line: str) -> None:
        nonlocal i
        have = got[i] if i < len(got) else ""
        grades.append(LineGrade(i, have, line, have == line))
        i += 1

    try:
        total = int(partial, base)
    except ValueError:  # no digits, or a digit the base does not have: go on from the gold sum
        total = a + b
    expect(to_base(total, base) if task == "base_addition" else str(total))
    if task == "mod_addition":
        if total < MOD_P:
            expect(f"{total}<{MOD_P}")
            expect(str(total))
        else:
            expect(f"{total}>={MOD_P}")
            expect(f"{total}-{MOD_P}=")
            n_sub = max(len(str(total)), len(str(MOD_P))) + 1
            sub, partial = _grade_column(got, State(str(total), "-", str(MOD_P), "", 0), n_sub, 10, i)
            grades += sub
            i += n_sub
            expect(str(int(partial)) if partial else "")
    for extra in range(i, len(got)):  # lines past the end of a complete scratchpad are wrong
        grades.append(LineGrade(extra, got[extra], "", False))
    return ScratchpadGrade(tuple(grades), answer_ok=got[-1] == gold[-1])
