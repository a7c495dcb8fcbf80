"""Lean 4 miniF2F files (`theorem name binders : statement := by sorry`) as Theorems.

Lean cannot run where this project is developed, so statements are parsed only, never
elaborated: a statement that Lean would reject shows up first on the cluster.
"""

from __future__ import annotations

import re
from pathlib import Path

from formal.theorem import Theorem

_DECLARATION = re.compile(r"^(?:theorem|lemma)\s+(?P<name>[^\s(\[{⦃:]+)", re.MULTILINE)
_PROOF_STUB = re.compile(r":=\s*(?:by\s+)?sorry\s*$")
_OPEN, _CLOSE = "([{⦃⟨", ")]}⦄⟩"


class LeanParseError(ValueError):
    """The file holds no `theorem … := by sorry` this loader can turn into a Theorem."""


def parse_lean_file(path: Path) -> Theorem:
    """The Theorem stated in one `.lean` file."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise LeanParseError(f"cannot read {path.name}: {e}") from None
    return parse_lean_source(text, source=str(path))


def parse_lean_source(text: str, source: str = "") -> Theorem:
    """Header (imports, options, opens) before the last `theorem`; binders and statement after it."""
    code = strip_lean_comments(text)
    matches = list(_DECLARATION.finditer(code))
    if not matches:
        raise LeanParseError("no `theorem` declaration found")
    decl = matches[-1]
    body = code[decl.end() :].rstrip()
    stub = _PROOF_STUB.search(body)
    if stub is None:
        raise LeanParseError(f"theorem {decl['name']!r} does not end with ':= by sorry'")
    body = body[: stub.start()]
    colon = _top_level_colon(body)
    if colon is None:
        raise LeanParseError(f"theorem {decl['name']!r} has no ':' before its statement")
    try:
        return Theorem(
            name=decl["name"],
            statement=_tidy(body[colon + 1 :]),
            header=code[: decl.start()].strip(),
            binders=_tidy(body[:colon]),
            source=source,
            backend="lean",
        )
    except ValueError as e:  # Theorem validates its own fields
        raise LeanParseError(str(e)) from None


def strip_lean_comments(text: str) -> str:
    """Drop `--` line comments and nested `/- -/` block comments (miniF2F has no string literals)."""
    out, i, n, depth = [], 0, len(text), 0
    while i < n:
        if text.startswith("/-", i):
            depth, i = depth + 1, i + 2
        elif depth and text.startswith("-/", i):
            depth, i = depth - 1, i + 2
        elif depth:
            i += 1
        elif text.startswith("--", i):
            end = text.find("\n", i)
            i = n if end < 0 else end
        else:
            out.append(text[i])
            i += 1
    if depth:
        raise LeanParseError("unterminated block comment")
    return "".join(out)


def _top_level_colon(text: str) -> int | None:
    """Index of the first ':' outside brackets that is not part of ':='."""
    depth = 0
    for i, c in enumerate(text):
        if c in _OPEN:
            depth += 1
        elif c in _CLOSE:
            depth -= 1
        elif c == ":" and depth == 0 and not text.startswith(":=", i):
            return i
    return None


def _tidy(text: str) -> str:
    """Drop trailing blanks and empty lines (left by removed comments) but keep the layout."""
    return "\n".join(line.rstrip() for line in text.strip().splitlines() if line.strip())
