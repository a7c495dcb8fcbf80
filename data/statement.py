"""A statement taken apart textually: variables, hypotheses, conclusion (what variants rewrite).

Coq's `forall (x y : R) (n : nat), 0 < x -> x < y -> P x y` and Lean's `(x y : ℝ) (n : ℕ) (h₀ : 0 < x)
(h₁ : x < y) : P x y` are both `Shape(variables=[(x, R), (y, R), (n, nat)], hypotheses=[0 < x, x < y],
conclusion=P x y)`. `Shape.theorem()` renders a shape back in its backend's canonical form (Coq: one
`forall` and arrows, no binders before the colon; Lean: binders `(x y : ℝ) (h₀ : A)`, hypotheses named
`h₀ h₁ …` afresh), so that two variants that say the same thing compare equal under
`data.decontaminate.proposition_key`. What differs between the backends is in `data/syntax.py`.

The parse is textual and conservative: where the text does not fit (a pattern binder, a hypothesis
that opens a binder at the top level), the rest is kept whole as the conclusion, or `parse` returns
None (also for Lean's implicit and instance binders, and for a hypothesis whose name the statement
uses). A variant built from a wrong parse is caught by the statement filters (it does not elaborate),
never trusted.
"""

from __future__ import annotations

import dataclasses
import itertools
import re
from dataclasses import dataclass

from data.syntax import COQ, SYNTAXES, Syntax, Token
from formal.theorem import Theorem

_OPEN, _CLOSE = "([{⟨⦃⌊⌈", ")]}⟩⦄⌋⌉"
_SUBSCRIPTS = str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉")


def top_level(text: str) -> list[int]:
    """Depth (brackets) before each character."""
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


def split_any(text: str, tokens: tuple[Token, ...]) -> list[str]:
    """`text` split wherever one of the spellings in `tokens` stands outside every bracket (and is not
    part of a longer operator: not after a character of its `before`, nor before one of its `after`)."""
    depths = top_level(text)
    parts, start, i = [], 0, 0
    while i < len(text):
        for sep, before, after in tokens:
            if (text.startswith(sep, i) and depths[i] == 0
                    and not (i > 0 and text[i - 1] in before)
                    and not (i + len(sep) < len(text) and text[i + len(sep)] in after)):
                parts.append(text[start:i])
                i += len(sep)
                start = i
                break
        else:
            i += 1
    parts.append(text[start:])
    return [p.strip() for p in parts]


def split_top(text: str, sep: str, exclude_before: str = "", exclude_after: str = "") -> list[str]:
    """`text` split on `sep` where it stands outside every bracket (see `split_any`)."""
    return split_any(text, ((sep, exclude_before, exclude_after),))


def strip_parens(text: str) -> str:
    """`(A)` -> `A` while the outer brackets enclose the whole text."""
    text = text.strip()
    while text.startswith("(") and text.endswith(")") and balanced(text[1:-1]) and _encloses(text):
        text = text[1:-1].strip()
    return text


def _encloses(text: str) -> bool:
    depths = top_level(text)
    return all(d > 0 for d in depths[1:-1])


def has_top_binder(text: str, syntax: Syntax = COQ) -> bool:
    """Whether a binder word (forall, exists, fun, ∑, ...) or a comma stands at the top level:
    then an arrow inside `text` may belong to that binder's scope."""
    depths = top_level(text)
    if any(ch == "," and depths[i] == 0 for i, ch in enumerate(text)):
        return True
    return any(depths[m.start()] == 0 for m in syntax.binder_re.finditer(text))


@dataclass(frozen=True)
class Shape:
    variables: tuple[tuple[str, str], ...]  # (name, type) one per name; type "" when the source gave none
    hypotheses: tuple[str, ...]
    conclusion: str
    backend: str = "coq"

    @property
    def syntax(self) -> Syntax:
        return SYNTAXES[self.backend]

    def proposition(self) -> str:
        """The fully quantified statement (what `Theorem.proposition` gives for `self.theorem(...)`)."""
        s = self.syntax
        if s.hypothesis_binders:
            binders = self.binders()
            return f"{s.forall} {binders}, {self.conclusion}" if binders else self.conclusion
        parts = [f"{s.forall} {render_binders(self.variables)},"] if self.variables else []
        arrow = f" {s.arrow[0][0]} "
        return " ".join([*parts, arrow.join([*(wrap(h, s) for h in self.hypotheses), self.conclusion])])

    def binders(self) -> str:
        """Lean: the variables, then the hypotheses under fresh names (`(x y : ℝ) (h₀ : 0 < x)`)."""
        hyps = [f"({name} : {h})" for name, h in zip(self.hypothesis_names(), self.hypotheses)]
        return " ".join(b for b in (render_binders(self.variables), *hyps) if b)

    def hypothesis_names(self) -> list[str]:
        """`h₀ h₁ …`, or under another prefix when one of those names is already a word of the statement."""
        texts = [*self.hypotheses, self.conclusion, *(t for _, t in self.variables)]
        taken = self.variable_names() | {w for t in texts for w in re.findall(r"[\w']+", t)}
        for prefix in itertools.chain(("h", "hv"), (f"hyp{k}_" for k in itertools.count())):
            names = [f"{prefix}{str(k).translate(_SUBSCRIPTS)}" for k in range(len(self.hypotheses))]
            if not taken.intersection(names):
                return names
        raise AssertionError("unreachable")

    def theorem(self, like: Theorem, name: str) -> Theorem:
        """This shape as a theorem under `like`'s header and backend, in the canonical form."""
        if self.syntax.hypothesis_binders:
            return dataclasses.replace(like, name=name, binders=self.binders(), statement=self.conclusion)
        return dataclasses.replace(like, name=name, binders="", statement=self.proposition())

    def variable_names(self) -> set[str]:
        return {n for n, _ in self.variables}


def wrap(hypothesis: str, syntax: Syntax = COQ) -> str:
    """Parenthesised when it would otherwise swallow the arrows after it."""
    return f"({hypothesis})" if has_top_binder(hypothesis, syntax) or len(split_any(hypothesis, syntax.arrow)) > 1 else hypothesis


def render_binders(variables: tuple[tuple[str, str], ...]) -> str:
    """`(x y : R) (n : nat)`: consecutive names of one type grouped."""
    groups: list[tuple[list[str], str]] = []
    for name, typ in variables:
        if groups and groups[-1][1] == typ and typ:
            groups[-1][0].append(name)
        else:
            groups.append(([name], typ))
    return " ".join(f"({' '.join(names)} : {typ})" if typ else " ".join(names) for names, typ in groups)


def parse_binders(text: str, syntax: Syntax = COQ) -> list[tuple[str, str]] | None:
    """`(x y : R) {n : nat} a b` -> one (name, type) per name; None for what this does not read
    (patterns, local definitions, brackets the backend's syntax does not read as plain binders)."""
    out: list[tuple[str, str]] = []
    text = text.strip()
    if text and text[0] not in "({" and ":" in text and not any(c in text for c in "({"):
        names, _, typ = text.partition(":")  # `x y : R` without brackets
        if not all(syntax.ident.match(n) for n in names.split()):
            return None
        return [(n, typ.strip()) for n in names.split()]
    i = 0
    while i < len(text):
        ch = text[i]
        if ch.isspace():
            i += 1
        elif ch in syntax.brackets:
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
            if not sep or ":=" in inner or not names.split() or not all(syntax.ident.match(n) for n in names.split()):
                return None
            out.extend((n, typ.strip()) for n in names.split())
            i = j + 1
        else:
            m = re.match(r"[A-Za-z_][\w']*", text[i:])
            if not m or not syntax.bare_binders:
                return None
            out.append((m.group(0), ""))
            i += m.end()
    return out


def _leading_forall(text: str, syntax: Syntax) -> tuple[list[tuple[str, str]], str] | None:
    """(binders, body) of `forall BINDERS, BODY`, or None if `text` does not open with one."""
    m = syntax.forall_re.match(text)
    if not m:
        return None
    rest = text[m.end():]
    depths = top_level(rest)
    comma = next((i for i, ch in enumerate(rest) if ch == "," and depths[i] == 0), None)
    if comma is None:
        return None
    binders = parse_binders(rest[:comma], syntax)
    if binders is None:
        return None
    return binders, rest[comma + 1:].strip()


def is_variable_type(typ: str, name: str = "", syntax: Syntax = COQ) -> bool:
    """A binder type that makes a variable, not a hypothesis: no relation or connective in it, and
    either only known type names (`nat -> Z`, `list R`) or a binder not named like a hypothesis (`h0`)."""
    t = strip_parens(typ)
    if not t:
        return True
    no_arrows = t
    for arrow, _, _ in syntax.arrow:
        no_arrows = no_arrows.replace(arrow, "")
    if syntax.relation_re.search(no_arrows) or has_top_binder(t, syntax):
        return False
    words = re.findall(r"[^\W\d][\w'.]*", t)
    if words and all(w in syntax.type_words for w in words):
        return True
    return not syntax.hypothesis_name.match(name)


def parse(theorem: Theorem) -> Shape | None:
    """The shape of a theorem's full proposition (binders before the colon included)."""
    syntax = SYNTAXES[theorem.backend]
    variables: list[tuple[str, str]] = []
    hypotheses: list[str] = []
    named: list[str] = []  # the hypotheses' own names, which the rendering drops
    if theorem.binders:
        binders = parse_binders(theorem.binders, syntax)
        if binders is None:
            return None
        for name, typ in binders:
            if is_variable_type(typ, name, syntax):
                variables.append((name, typ))
            else:
                hypotheses.append(typ)
                named.append(name)
    body = " ".join(theorem.statement.split())
    while True:
        lead = _leading_forall(body, syntax)
        if lead is None or hypotheses:  # a forall after a hypothesis stays in the conclusion
            break
        binders, body = lead
        for name, typ in binders:
            if not is_variable_type(typ, name, syntax):
                return None  # a named hypothesis binder inside forall: rare; keep it whole elsewhere
            variables.append((name, typ))
    segments = split_any(body, syntax.arrow)
    if syntax.iff_over_arrow and len(split_any(body, syntax.iff)) > 1:
        segments = [body]
    concl_at = len(segments) - 1
    for k, seg in enumerate(segments[:-1]):
        if has_top_binder(seg, syntax) or not seg:
            concl_at = k
            break
    hypotheses.extend(segments[:concl_at])
    conclusion = f" {syntax.arrow[0][0]} ".join(segments[concl_at:])
    if not conclusion or not all(balanced(p) for p in [*hypotheses, conclusion]):
        return None
    names = [n for n, _ in variables]
    if len(set(names)) != len(names):
        return None  # shadowing: a substitution could not tell the two apart
    texts = [*hypotheses, conclusion, *(t for _, t in variables)]
    if any(syntax.mentions(text, h) for h in named if h != "_" for text in texts):
        return None  # a hypothesis the statement refers to by name: the rendering would rename it
    return Shape(tuple(variables), tuple(hypotheses), conclusion, syntax.backend)
