"""Coq statement templates, one per knowledge point they realise: the formal side of MathScale.

A template turns a knowledge point into an `Atom`, a proposition about one integer `x` in Coq
(`Z_scope`), together with its meaning in Python (`holds`), drawn with seeded parameters so that it holds
at a chosen integer x0 (or, asked for a false one, fails there). Python's `//`, `%` and `abs` agree with
Coq's `Z.div`, `Z.modulo` and `Z.abs` (floor division, remainder with the divisor's sign), so `holds`
looks for witnesses and counterexamples; only Coq decides what is kept. `hints` are facts the deciding
scripts may `pose proof` (a square is non-negative) for templates `nia` cannot do alone.

Each template lists the extracted knowledge-point names it stands for (compared by `canonical`); the
names are those of the bundled MATH extraction (benchmarks/mathscale) and common variants.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from data.mathscale.concepts import canonical


@dataclass(frozen=True)
class Atom:
    coq: str  # a proposition about x : Z
    holds: Callable[[int], bool]
    hints: tuple[str, ...] = ()  # Coq terms whose types help decide it, e.g. "Z.square_nonneg (x - 3)"


Make = Callable[[np.random.Generator, int, bool], Atom]  # (rng, x0, true at x0?) -> atom


@dataclass(frozen=True)
class Template:
    kp: str  # the knowledge point, as shown
    names: tuple[str, ...]  # the extracted KP names it realises (canonical)
    make: Make


def lit(n: int) -> str:
    """An integer literal as Coq reads it inside a term: negatives in parentheses."""
    return f"({n})" if n < 0 else str(n)


def plus(n: int) -> str:
    """`+ n` or `- |n|`, for a constant term that follows another."""
    return f"- {-n}" if n < 0 else f"+ {n}"


def linear(p: int, var: str = "x") -> str:
    """` + p * var` as it is written: omitted when p = 0, `+ var` / `- var` when p = +-1."""
    if p == 0:
        return ""
    if abs(p) == 1:
        return f" {'+' if p > 0 else '-'} {var}"
    return f" {plus(p)} * {var}"


def constant(q: int) -> str:
    """` + q`, omitted when q = 0."""
    return f" {plus(q)}" if q else ""


def _r(rng: np.random.Generator, low: int, high: int, avoid: tuple[int, ...] = ()) -> int:
    """An integer in [low, high] other than those in `avoid`."""
    while True:
        v = int(rng.integers(low, high + 1))
        if v not in avoid:
            return v


def _off(rng: np.random.Generator, truth: bool) -> int:
    """0 for a true atom, else a small nonzero shift that makes it false at x0."""
    return 0 if truth else _r(rng, -3, 3, (0,))


def linear_equation(rng, x0, truth):
    a, b = _r(rng, 2, 9), _r(rng, -20, 20)
    c = a * x0 + b + _off(rng, truth)
    return Atom(f"{a} * x{constant(b)} = {lit(c)}", lambda x: a * x + b == c)


def linear_inequality(rng, x0, truth):
    a, b = _r(rng, -6, 6, (0,)), _r(rng, -15, 15)
    margin = _r(rng, 1, 9)
    c = a * x0 + b + (margin if truth else -margin + 1)  # a*x0+b < c  iff truth
    return Atom(f"{lit(a)} * x{constant(b)} < {lit(c)}", lambda x: a * x + b < c)


def quadratic_equation(rng, x0, truth):
    r = _r(rng, -9, 9)
    p, q = -(x0 + r), x0 * r + _off(rng, truth)
    return Atom(f"x * x{linear(p)}{constant(q)} = 0", lambda x: x * x + p * x + q == 0)


def vieta(rng, x0, truth):
    r = _r(rng, -9, 9)
    s, p = x0 + r, x0 * r + _off(rng, truth)
    return Atom(f"x * ({lit(s)} - x) = {lit(p)}", lambda x: x * (s - x) == p)


def completing_square(rng, x0, truth):
    h, k = _r(rng, -6, 6, (0,)), _r(rng, -10, 10)
    v = (x0 - h) ** 2 + k + _off(rng, truth)
    return Atom(f"x * x{linear(-2 * h)}{constant(h * h + k)} = {lit(v)}", lambda x: x * x - 2 * h * x + h * h + k == v)


def vertex(rng, x0, truth):
    h, k = _r(rng, -6, 6, (0,)), _r(rng, -10, 10)
    m = k + (0 if truth else _r(rng, (x0 - h) ** 2 + 1, (x0 - h) ** 2 + 4))  # the minimum k, or above x0's value
    return Atom(f"x * x{linear(-2 * h)}{constant(h * h + k)} >= {lit(m)}", lambda x: (x - h) ** 2 + k >= m,
                hints=(f"Z.square_nonneg (x{constant(-h)})",))


def absolute_value(rng, x0, truth):
    a = _r(rng, -9, 9)
    d = abs(x0 - a) + _off(rng, truth)
    if d < 0:
        d = abs(x0 - a) + 1
    return Atom(f"Z.abs (x{constant(-a)}) = {d}", lambda x: abs(x - a) == d)


def exponents(rng, x0, truth):
    b, e = _r(rng, 2, 3), _r(rng, 2, 4)
    v = b**e * x0 + _off(rng, truth)
    return Atom(f"{b} ^ {e} * x = {lit(v)}", lambda x: b**e * x == v)


def remainder(rng, x0, truth):
    m = _r(rng, 2, 9)
    r = (x0 % m + (0 if truth else _r(rng, 1, m - 1))) % m
    return Atom(f"x mod {m} = {r}", lambda x: x % m == r)


def floor_division(rng, x0, truth):
    a, d = _r(rng, -9, 9), _r(rng, 2, 7)
    q = (x0 + a) // d + _off(rng, truth)
    return Atom(f"(x{constant(a)}) / {d} = {lit(q)}", lambda x: (x + a) // d == q)


def like_terms(rng, x0, truth):
    a, c = _r(rng, 2, 9), _r(rng, 1, 9)
    c = c if c != a else c + 1
    b = _r(rng, -9, 9, (0,))
    v = (a - c) * x0 + a * b + _off(rng, truth)
    return Atom(f"{a} * (x {plus(b)}){linear(-c)} = {lit(v)}", lambda x: a * (x + b) - c * x == v)


def evaluation(rng, x0, truth):
    b, c, d = _r(rng, 2, 9), _r(rng, 2, 9), _r(rng, 1, 20)
    a = x0 - b * c + d + _off(rng, truth)
    return Atom(f"x = {lit(a)} + {b} * {c} - {d}", lambda x: x == a + b * c - d)


def function_value(rng, x0, truth):
    a, b = _r(rng, -5, 5, (0, 1, -1)), _r(rng, -9, 9)
    v = a * x0 * x0 + b + _off(rng, truth)
    return Atom(f"(fun t : Z => {lit(a)} * t * t{constant(b)}) x = {lit(v)}", lambda x: a * x * x + b == v)


def distance(rng, x0, truth):
    a, dy = _r(rng, -6, 6), _r(rng, 1, 6)
    d2 = (x0 - a) ** 2 + dy * dy + _off(rng, truth)
    return Atom(f"(x{constant(-a)}) * (x{constant(-a)}) + {dy} * {dy} = {d2}", lambda x: (x - a) ** 2 + dy * dy == d2)


def circle(rng, x0, truth):
    a, b, y = _r(rng, -5, 5), _r(rng, -5, 5), _r(rng, -5, 5)
    r2 = (x0 - a) ** 2 + (y - b) ** 2 + _off(rng, truth)
    return Atom(f"(x{constant(-a)}) ^ 2 + ({lit(y)}{constant(-b)}) ^ 2 = {r2}", lambda x: (x - a) ** 2 + (y - b) ** 2 == r2)


def cube(rng, x0, truth):
    v = x0**3 + _off(rng, truth)
    return Atom(f"x * x * x = {lit(v)}", lambda x: x**3 == v)


def arithmetic_sum(rng, x0, truth):
    n, d = _r(rng, 3, 5), _r(rng, -4, 4, (0,))
    s = n * x0 + d * n * (n - 1) // 2 + _off(rng, truth)
    terms = " + ".join(["x"] + [f"(x {plus(k * d)})" for k in range(1, n)])
    return Atom(f"{terms} = {lit(s)}", lambda x: n * x + d * n * (n - 1) // 2 == s)


def geometric_term(rng, x0, truth):
    r, n = _r(rng, 2, 3), _r(rng, 2, 4)
    v = x0 * r ** (n - 1) + _off(rng, truth)
    return Atom(f"x * {r} ^ ({n} - 1) = {lit(v)}", lambda x: x * r ** (n - 1) == v)


def _t(kp: str, make: Make, *names: str) -> Template:
    return Template(kp, tuple(canonical(n) for n in (kp, *names)), make)


TEMPLATES: tuple[Template, ...] = (
    _t("Solving Linear Equations", linear_equation, "Solving Equations", "Linear Equations", "Setting up Equations",
       "Formulating Equations"),
    _t("Solving Inequalities", linear_inequality, "Solving Linear Inequalities", "Handling Inequalities with Variables"),
    _t("Solving Quadratic Equations", quadratic_equation, "Quadratic Equations", "Factoring Quadratic Expressions"),
    _t("Sum and Product of Roots", vieta,
       "Understanding the relationship between the roots and coefficients of a quadratic equation"),
    _t("Completing the Square", completing_square),
    _t("Vertex of a Parabola", vertex, "-b/(2a) Formula"),
    _t("Definition of Absolute Value", absolute_value, "Understanding of |A| = B implies A = B or A = -B"),
    _t("Properties of Exponents", exponents, "Exponentiation", "Exponents"),
    _t("Integer Solutions", remainder, "Remainder Concept", "Divisibility"),
    _t("Fraction Operations", floor_division, "Definition of Floor Function", "Properties of Floor Function"),
    _t("Combining Like Terms", like_terms, "Distributive Property", "Algebraic Manipulation", "Expression Simplification",
       "Simplification of Algebraic Expressions"),
    _t("Evaluating Expressions", evaluation, "Substitution", "Arithmetic Operations", "Basic Arithmetic Operations",
       "Application of the order of operations"),
    _t("Evaluating Functions", function_value, "Function Evaluation", "Evaluating a function at a given point"),
    _t("Distance Formula", distance),
    _t("Standard Form of a Circle Equation", circle, "Standard Form of a Circle's Equation", "Center and Radius of a Circle"),
    _t("Solving equations involving powers and roots", cube, "Understanding and simplifying cube roots"),
    _t("Sum of an Arithmetic Sequence", arithmetic_sum, "Formula for the nth term of an arithmetic sequence",
       "Common Difference"),
    _t("Formula for the nth Term of a Geometric Sequence", geometric_term),
)
_BY_NAME = {name: t for t in TEMPLATES for name in t.names}


def template_for(kp: str) -> Template | None:
    return _BY_NAME.get(canonical(kp))
