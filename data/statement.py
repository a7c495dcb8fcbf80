"""A Coq statement taken apart textually: variables, hypotheses, conclusion (what variants rewrite).

`forall (x y : R) (n : nat), 0 < x -> x < y -> P x y` is `Shape(variables=[(x, R), (y, R), (n, nat)],
hypotheses=[0 < x, x < y], conclusion=P x y)`; `Shape.theorem()` renders it back in that canonical form
(no binders before the colon), so that two variants that say the same thing compare equal under
`data.decontaminate.proposition_key`. The parse is textual and conservative: where the text does not
fit (a pattern binder, a hypothesis that opens a `forall`/`exists`/`fun` at the top level), the rest is
kept whole as the conclusion, or `parse` returns None. A variant built from a wrong parse is caught by
the statement filters (it does not elaborate), never trusted.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass

from formal.theorem import Theorem

_OPEN, _CLOSE = "([{", ")]}"
BINDER_WORDS = ("forall", "exists!", "exists", "fun", "let", "match", "fix", "if")
_BINDER_RE = re.compile(r"(?<![\w'])(?:forall|exists!?|fun|let|match|fix|if)(?![\w'])")
_IDENT = re.compile(r"[A-Za-z_][\w']*\Z")
# Types a variable may have for the variants to know how to write a value of it.
NUMERIC_TYPES = ("nat", "Z", "R", "Q", "N", "positive")


def top_level(text: str) -> list[int]:
    """Depth (brackets) before each character; -1 marks a character inside a string."""
    depth, out = 0, []
    for ch in text:
        if ch in _CLOSE:
            depth -= 1
        out.append(depth)
        if ch in _OPEN:
            depth += 1
    return out


def balanced(text: str) -> bool:
    depth = 0
    for ch in text:
        depth += (ch in _OPEN) - (ch in _CLOSE)
        if depth < 0:
            return False
    return depth == 0


def split_top(text: str, sep: str, exclude_before: str = "", exclude_after: str = "") -> list[str]:
    """`text` split on `sep` where it stands outside every bracket (and is not part of a longer
    operator: not preceded by a char of `exclude_before`, nor followed by one of `exclude_after`)."""
    depths = top_level(text)
    parts, start, i = [], 0, 0
    while i <= len(text) - len(sep):
        if (text.startswith(sep, i) and depths[i] == 0
                and not (i > 0 and text[i - 1] in exclude_before)
                and not (i + len(sep) < len(text) and text[i + len(sep)] in exclude_after)):
            parts.append(text[start:i])
            i += len(sep)
            start = i
            continue
        i += 1
    parts.append(text[start:])
    return [p.strip() for p in parts]


def strip_parens(text: str) -> str:
    """`(A)` -> `A` while the outer brackets enclose the whole text."""
    text = text.strip()
    while text.startswith("(") and text.endswith(")") and balanced(text[1:-1]) and _encloses(text):
        text = text[1:-1].strip()
    return text


def _encloses(text: str) -> bool:
    depths = top_level(text)
    return all(d > 0 for d in depths[1:-1])


def has_top_binder(text: str) -> bool:
    """Whether a binder word (forall, exists, fun, let, match, ...) or a comma stands at the top level:
    then an arrow inside `text` may belong to that binder's scope."""
    depths = top_level(text)
    if any(ch == "," and depths[i] == 0 for i, ch in enumerate(text)):
        return True
    return any(depths[m.start()] == 0 for m in _BINDER_RE.finditer(text))


@dataclass(frozen=True)
class Shape:
    variables: tuple[tuple[str, str], ...]  # (name, type) one per name; type "" when the source gave none
    hypotheses: tuple[str, ...]
    conclusion: str

    def proposition(self) -> str:
        parts = []
        if self.variables:
            parts.append(f"forall {render_binders(self.variables)},")
        body = " -> ".join([*(wrap(h) for h in self.hypotheses), self.conclusion])
        return " ".join([*parts, body])

    def theorem(self, like: Theorem, name: str) -> Theorem:
        """This shape as a theorem under `like`'s header and backend (no binders before the colon)."""
        return dataclasses.replace(like, name=name, binders="", statement=self.proposition())

    def variable_names(self) -> set[str]:
        return {n for n, _ in self.variables}


def wrap(hypothesis: str) -> str:
    """Parenthesised when it would otherwise swallow the arrows after it."""
    return f"({hypothesis})" if has_top_binder(hypothesis) or len(split_top(hypothesis, "->", "<-", "")) > 1 else hypothesis


def render_binders(variables: tuple[tuple[str, str], ...]) -> str:
    """`(x y : R) (n : nat)`: consecutive names of one type grouped."""
    groups: list[tuple[list[str], str]] = []
    for name, typ in variables:
        if groups and groups[-1][1] == typ and typ:
            groups[-1][0].append(name)
        else:
            groups.append(([name], typ))
    return " ".join(f"({' '.join(names)} : {typ})" if typ else " ".join(names) for names, typ in groups)


def parse_binders(text: str) -> list[tuple[str, str]] | None:
    """`(x y : R) {n : nat} a b` -> one (name, type) per name; None for what this does not read
    (patterns, local definitions)."""
    out: list[tuple[str, str]] = []
    text = text.strip()
    if text and text[0] not in "({" and ":" in text and not any(c in text for c in "({"):
        names, _, typ = text.partition(":")  # `x y : R` without brackets
        if not all(_IDENT.match(n) for n in names.split()):
            return None
        return [(n, typ.strip()) for n in names.split()]
    i = 0
    while i < len(text):
        ch = text[i]
        if ch.isspace():
            i += 1
        elif ch in "({":
            close = ")" if ch == "(" else "}"
            j, depth = i, 0
            while j < len(text):
                depth += (text[j] in _OPEN) - (text[j] in _CLOSE)
                if depth == 0:
                    break
                j += 1
            if j >= len(text) or text[j] != close:
                return None
            inner = text[i + 1:j]
            names, sep, typ = inner.partition(":")
            if not sep or ":=" in inner or not names.split() or not all(_IDENT.match(n) for n in names.split()):
                return None
            out.extend((n, typ.strip()) for n in names.split())
            i = j + 1
        else:
            m = re.match(r"[A-Za-z_][\w']*", text[i:])
            if not m:
                return None
            out.append((m.group(0), ""))
            i += m.end()
    return out


def _leading_forall(text: str) -> tuple[list[tuple[str, str]], str] | None:
    """(binders, body) of `forall BINDERS, BODY`, or None if `text` does not open with one."""
    m = re.match(r"\s*forall(?![\w'])", text)
    if not m:
        return None
    rest = text[m.end():]
    depths = top_level(rest)
    comma = next((i for i, ch in enumerate(rest) if ch == "," and depths[i] == 0), None)
    if comma is None:
        return None
    binders = parse_binders(rest[:comma])
    if binders is None:
        return None
    return binders, rest[comma + 1:].strip()


def is_variable_type(typ: str, name: str = "") -> bool:
    """A binder type that makes a variable, not a hypothesis: no relation or connective in it, and
    either only known type names (`nat -> Z`, `list R`) or a binder not named like a hypothesis (`h0`)."""
    t = strip_parens(typ)
    if not t:
        return True
    if re.search(r"[<>=~]|/\\|\\/", t.replace("->", "")) or has_top_binder(t):
        return False
    words = re.findall(r"[A-Za-z_][\w'.]*", t)
    known = set(NUMERIC_TYPES) | {"bool", "Prop", "Set", "Type", "list", "option", "prod", "unit"}
    if words and all(w in known for w in words):
        return True
    return not re.match(r"[hH][\d_']*(?:[₀-₉]*)\Z|[hH]\w*\d\Z", name)


def parse(theorem: Theorem) -> Shape | None:
    """The shape of a Coq theorem's full proposition (binders before the colon included)."""
    if theorem.backend != "coq":
        return None
    variables: list[tuple[str, str]] = []
    hypotheses: list[str] = []
    if theorem.binders:
        binders = parse_binders(theorem.binders)
        if binders is None:
            return None
        for name, typ in binders:
            (variables.append((name, typ)) if is_variable_type(typ, name) else hypotheses.append(typ))
    body = " ".join(theorem.statement.split())
    while True:
        lead = _leading_forall(body)
        if lead is None or hypotheses:  # a forall after a hypothesis stays in the conclusion
            break
        binders, body = lead
        for name, typ in binders:
            if not is_variable_type(typ, name):
                return None  # a named hypothesis binder inside forall: rare; keep it whole elsewhere
            variables.append((name, typ))
    segments = split_top(body, "->", "<-", "")
    concl_at = len(segments) - 1
    for k, seg in enumerate(segments[:-1]):
        if has_top_binder(seg) or not seg:
            concl_at = k
            break
    hypotheses.extend(segments[:concl_at])
    conclusion = " -> ".join(segments[concl_at:])
    if not conclusion or not all(balanced(p) for p in [*hypotheses, conclusion]):
        return None
    names = [n for n, _ in variables]
    if len(set(names)) != len(names):
        return None  # shadowing: a substitution could not tell the two apart
    return Shape(tuple(variables), tuple(hypotheses), conclusion)


def scope_of(theorem: Theorem) -> str:
    """The number type an unannotated literal means: the last `Open Scope X_scope` of the header
    (R, Z, Q, N), else nat."""
    found = re.findall(r"(?:Local\s+)?Open\s+Scope\s+(\w+)_scope", theorem.header)
    for scope in reversed(found):
        if scope in ("R", "Z", "Q", "N", "nat", "positive"):
            return scope
    return "nat"
