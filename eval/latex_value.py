"""The value of a short LaTeX answer, to tell equivalent answers apart from different ones.

A small recursive-descent reader for what final answers are made of: numbers, + - * / ^, \\frac, \\sqrt
(with an optional index), \\pi, e, the imaginary unit i, |.|, parentheses and implicit products
("2\\sqrt{3}", "3x"). Other letters are variables: two expressions are equivalent when they agree at
several random points; two equations when their sides' differences are proportional. Anything else
(functions, text, set-builder notation) is `Unreadable`, and the caller falls back to comparing text.
"""

from __future__ import annotations

import cmath
import math
import random
import re
from collections.abc import Callable

Value = Callable[[dict[str, complex]], complex]  # variables -> value
_TOKEN = re.compile(r"\s*(\\[a-zA-Z]+|\d+\.\d*|\.\d+|\d+|[a-zA-Z]|\\\{|\\\}|[-+*/^(){}\[\]|,=<>!])")
_CONSTANTS = {"\\pi": math.pi, "e": math.e}
RELATIVE = 1e-6  # tolerance of "equal values"
POINTS = 5  # random points for expressions with variables


class Unreadable(ValueError):
    """Not an expression this reader understands."""


def tokens(text: str) -> list[str]:
    out, pos = [], 0
    text = text.strip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:
            raise Unreadable(f"unexpected {text[pos:pos + 10]!r}")
        out.append(m.group(1))
        pos = m.end()
    return out


class _Reader:
    def __init__(self, toks: list[str]) -> None:
        self.toks, self.i = toks, 0
        self.variables: set[str] = set()

    def peek(self) -> str | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def take(self, expected: str | None = None) -> str:
        tok = self.peek()
        if tok is None or (expected is not None and tok != expected):
            raise Unreadable(f"expected {expected or 'more'}, got {tok}")
        self.i += 1
        return tok

    def expression(self) -> Value:
        value = self.term()
        while self.peek() in ("+", "-"):
            op, right, left = self.take(), self.term(), value
            value = (lambda a, b: lambda v: a(v) + b(v))(left, right) if op == "+" else (lambda a, b: lambda v: a(v) - b(v))(left, right)
        return value

    def term(self) -> Value:
        value = self.unary()
        while True:
            tok = self.peek()
            if tok in ("*", "\\cdot", "\\times"):
                self.take()
                right, left = self.unary(), value
                value = (lambda a, b: lambda v: a(v) * b(v))(left, right)
            elif tok in ("/", "\\div"):
                self.take()
                right, left = self.unary(), value
                value = (lambda a, b: lambda v: a(v) / b(v))(left, right)
            elif tok is not None and (tok[0].isdigit() or tok[0] == "." or tok.isalpha() or tok in ("(", "\\frac", "\\sqrt", "\\pi")):
                right, left = self.power(), value  # an implicit product binds like *
                value = (lambda a, b: lambda v: a(v) * b(v))(left, right)
            else:
                return value

    def unary(self) -> Value:
        if self.peek() in ("-", "+"):
            sign = self.take()
            inner = self.unary()
            return (lambda a: lambda v: -a(v))(inner) if sign == "-" else inner
        return self.power()

    def power(self) -> Value:
        base = self.atom()
        if self.peek() == "^":
            self.take()
            exponent = self.group() if self.peek() == "{" else self.unary_atom()
            return (lambda a, b: lambda v: a(v) ** b(v))(base, exponent)
        return base

    def unary_atom(self) -> Value:
        if self.peek() == "-":
            self.take()
            inner = self.atom()
            return lambda v: -inner(v)
        return self.atom()

    def group(self) -> Value:
        """`{expr}`, or one token (`\\frac12`)."""
        if self.peek() == "{":
            self.take("{")
            value = self.expression()
            self.take("}")
            return value
        tok = self.take()
        if tok.isdigit() and len(tok) > 1:  # `\frac12`: the group is the first digit only
            self.i -= 1
            self.toks[self.i] = tok[1:]
            tok = tok[0]
        if tok.isdigit():
            return self.number(tok)
        return self._symbol(tok)

    def number(self, tok: str) -> Value:
        x = float(tok)
        return lambda v: complex(x)

    def atom(self) -> Value:
        tok = self.take()
        if tok[0].isdigit() or tok[0] == ".":
            return self.number(tok)
        if tok in ("(", "{"):
            value = self.expression()
            self.take(")" if tok == "(" else "}")
            return value
        if tok == "|":
            inner = self.expression()
            self.take("|")
            return lambda v: complex(abs(inner(v)))
        if tok == "\\frac":
            num, den = self.group(), self.group()
            return lambda v: num(v) / den(v)
        if tok == "\\sqrt":
            index = None
            if self.peek() == "[":
                self.take("[")
                index = self.expression()
                self.take("]")
            inner = self.group()
            if index is None:
                return lambda v: cmath.sqrt(inner(v))
            return lambda v: inner(v) ** (1 / index(v))
        return self._symbol(tok)

    def _symbol(self, tok: str) -> Value:
        if tok in _CONSTANTS:
            c = _CONSTANTS[tok]
            return lambda v: complex(c)
        if tok == "i":
            return lambda v: 1j
        if len(tok) == 1 and tok.isalpha():
            self.variables.add(tok)
            return lambda v: v[tok]
        raise Unreadable(f"unknown symbol {tok!r}")


def parse(text: str) -> tuple[Value, frozenset[str]]:
    reader = _Reader(tokens(text))
    value = reader.expression()
    if reader.peek() is not None:
        raise Unreadable(f"trailing {reader.peek()!r}")
    return value, frozenset(reader.variables)


def _close(a: complex, b: complex) -> bool:
    return abs(a - b) <= RELATIVE * max(1.0, abs(a), abs(b))


def _points(variables: frozenset[str], seed: str) -> list[dict[str, complex]]:
    rng = random.Random(seed)
    return [{x: complex(rng.uniform(0.5, 2.5)) for x in sorted(variables)} for _ in range(POINTS)]


def equal_values(a: str, b: str) -> bool:
    """Whether two expressions (or two equations) are equal as values; raises Unreadable."""
    if ("=" in a) != ("=" in b):
        return False
    if "=" in a:
        return _equations(a, b)
    fa, va = parse(a)
    fb, vb = parse(b)
    if va != vb:
        return False
    try:
        return all(_close(fa(p), fb(p)) for p in _points(va, a + "\0" + b))
    except (ZeroDivisionError, OverflowError, ValueError):
        return False


def _equations(a: str, b: str) -> bool:
    """lhs_a - rhs_a and lhs_b - rhs_b proportional (by a nonzero constant) at random points."""
    sides = [s.split("=") for s in (a, b)]
    if any(len(s) != 2 for s in sides):
        raise Unreadable("more than one '='")
    (la, va), (ra, wa) = parse(sides[0][0]), parse(sides[0][1])
    (lb, vb), (rb, wb) = parse(sides[1][0]), parse(sides[1][1])
    variables = va | wa
    if variables != vb | wb:
        return False
    try:
        ratios = []
        for p in _points(variables, a + "\0" + b):
            da, db = la(p) - ra(p), lb(p) - rb(p)
            if _close(da, 0) or _close(db, 0):
                if not (_close(da, 0) and _close(db, 0)):
                    return False
                continue
            ratios.append(da / db)
        return all(_close(r, ratios[0]) for r in ratios)
    except (ZeroDivisionError, OverflowError, ValueError):
        return False
