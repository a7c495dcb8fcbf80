"""How Coq and Lean 4 write what the variant strategies read and rewrite: the one place they differ.

The statement reader (`data/statement.py`) and the strategies (`data/variants.py`) are written once; a
`Syntax` record gives them a backend's spellings (quantifier, arrow, connectives, comparisons), how it
binds names, how it tells a hypothesis from a variable, and how it writes a number of a type (`2%R`
in Coq, `(2 : ℝ)` in Lean). Lean 4 with Mathlib reads the ASCII spellings too (`->`, `<=`, `/\\`), so
those are read, never written.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

# A spelling of an operator, the characters it may not follow and those it may not precede
# (so that `=` is not read inside `<=`, `:=` or `=>`).
Token = tuple[str, str, str]


@dataclass(frozen=True)
class Syntax:
    backend: str
    forall: str  # the universal quantifier as written
    forall_re: re.Pattern  # ... as read at the start of a statement
    arrow: tuple[Token, ...]  # each connective's spellings, the first one written
    conj: tuple[Token, ...]
    disj: tuple[Token, ...]
    iff: tuple[Token, ...]
    comparisons: tuple[tuple[str, tuple[Token, ...]], ...]  # "<=", ">=", "=", "<", ">" and their spellings
    negation: str  # `~ a = b` negates a comparison, it is none
    iff_over_arrow: bool  # `A ↔ B → C` is `A ↔ (B → C)` (Lean), not `(A <-> B) -> C` (Coq)
    scopes: bool  # a comparison may carry a scope key: `(a = b)%R` (Coq)
    binder_re: re.Pattern  # a word that opens a binder: an arrow after it is in the binder's scope
    bound: str  # regex, NAME bound by a binder inside a statement (a substitution must not reach it)
    ident: re.Pattern  # a binder name
    word_chars: str  # besides \w, characters an identifier continues with (`x'`; Lean's `get!`)
    brackets: str  # the binder brackets read (Lean's `{n : ℕ}` and `[inst]` are not: no variants)
    bare_binders: bool  # `forall a b, P`: names without a type read as variables
    hypothesis_binders: bool  # rendered `(h₀ : A) : C` (Lean) rather than `forall x, A -> C` (Coq)
    relation_re: re.Pattern  # in a binder type: a proposition, so the binder is a hypothesis
    type_words: frozenset[str]  # a binder type made of these only is a variable's
    hypothesis_name: re.Pattern  # a binder named so, of a type of unknown words, is a hypothesis
    small_values: dict[str, tuple[str, ...]]  # number type as written -> small values of it
    literal: Callable[[str, str], str]  # (value, type) -> the value written so that it has that type
    number_re: re.Pattern  # a literal of a conclusion (generalise); group 1: its digits
    number_type: Callable[[re.Match, str, str, tuple], str | None]  # (literal, header, conclusion, variables)
    pinned_re: re.Pattern  # the value a hypothesis `x = LIT` pins a variable to (fix)
    pin: Callable[[str, str], str]  # (that value, the variable's type) -> its replacement text

    def written(self, op: str) -> str:
        return dict(self.comparisons)[op][0][0]

    def mentions(self, text: str, name: str) -> bool:
        return re.search(self.name_re(name), text) is not None

    def name_re(self, name: str) -> str:
        return rf"(?<![\w'.]){re.escape(name)}(?![\w{re.escape(self.word_chars)}])"


# -- Coq ------------------------------------------------------------------------------------------

COQ_TYPES = {"nat": "nat", "Z": "Z", "R": "R", "Q": "Q", "N": "N", "positive": "positive"}


def coq_literal(value: str, typ: str) -> str:
    """A value of a number type, written so that it means that type whatever scope is open."""
    if typ == "Q":
        return f"(inject_Z ({value}))"
    return f"({value})%{COQ_TYPES[typ]}" if not value.isdigit() else f"{value}%{COQ_TYPES[typ]}"


def scope_of(header: str) -> str:
    """The number type an unannotated literal means: the last `Open Scope X_scope` of the header
    (R, Z, Q, N), else nat."""
    found = re.findall(r"(?:Local\s+)?Open\s+Scope\s+(\w+)_scope", header)
    for scope in reversed(found):
        if scope in ("R", "Z", "Q", "N", "nat", "positive"):
            return scope
    return "nat"


def coq_number_type(m: re.Match, header: str, conclusion: str, variables: tuple) -> str | None:
    """The literal's `%scope`, else the header's open scope."""
    return COQ_TYPES.get(m.group(2)[1:] if m.group(2) else scope_of(header))


COQ = Syntax(
    backend="coq",
    forall="forall",
    forall_re=re.compile(r"\s*forall(?![\w'])"),
    arrow=(("->", "<-", ""),),
    conj=(("/\\", "", ""),),
    disj=(("\\/", "", ""),),
    iff=(("<->", "", ""),),
    comparisons=(("<=", (("<=", "<", "=>-"),)), (">=", ((">=", ">", "="),)), ("=", (("=", "<>=:", "=>"),)),
                 ("<", (("<", "<-", "=>-"),)), (">", ((">", "-=<", "="),))),
    negation="~",
    iff_over_arrow=False,
    scopes=True,
    binder_re=re.compile(r"(?<![\w'])(?:forall|exists!?|fun|let|match|fix|if)(?![\w'])"),
    bound=r"(?:forall|exists!?|fun)\s[^,]*(?<![\w'])NAME(?![\w'])[^,]*,",
    ident=re.compile(r"[A-Za-z_][\w']*\Z"),
    word_chars="'",
    brackets="({",
    bare_binders=True,
    hypothesis_binders=False,
    relation_re=re.compile(r"[<>=~]|/\\|\\/"),
    type_words=frozenset({*COQ_TYPES, "bool", "Prop", "Set", "Type", "list", "option", "prod", "unit"}),
    hypothesis_name=re.compile(r"[hH][\d_']*(?:[₀-₉]*)\Z|[hH]\w*\d\Z"),
    small_values={
        "nat": ("0", "1", "2", "3", "4", "5"),
        "N": ("0", "1", "2", "3", "4", "5"),
        "positive": ("1", "2", "3", "4", "5"),
        "Z": ("0", "1", "2", "3", "-1", "-2"),
        "R": ("0", "1", "2", "-1", "1/2"),
        "Q": ("0", "1", "2", "-1"),
    },
    literal=coq_literal,
    number_re=re.compile(r"(?<![\w'.#/])(\d+)(%\w+)?(?![\w.#])"),
    number_type=coq_number_type,
    pinned_re=re.compile(r"-?\d+(?:%\w+)?|\(-?\d+\)(?:%\w+)?"),
    pin=lambda value, typ: value if value.startswith("(") else f"({value})",
)


# -- Lean 4 ---------------------------------------------------------------------------------------

_NAT, _INT = ("0", "1", "2", "3", "4", "5"), ("0", "1", "2", "3", "-1", "-2")
_REAL, _RAT = ("0", "1", "2", "-1", "1/2"), ("0", "1", "2", "-1")
LEAN_NUMBERS = {"ℕ": _NAT, "Nat": _NAT, "ℤ": _INT, "Int": _INT, "ℝ": _REAL, "Real": _REAL, "ℚ": _RAT, "Rat": _RAT}
_SAME_TYPE = {"Nat": "ℕ", "Int": "ℤ", "Real": "ℝ", "Rat": "ℚ"}
_LEAN_BINDERS = "∀|∃!?|∑|∏|⋃|⋂|⨆|⨅|∫|fun|λ|forall|exists|let|have"  # words that bind names


def lean_number_type(m: re.Match, header: str, conclusion: str, variables: tuple) -> str | None:
    """The type the literal is written with (`(8 : ℝ)`), else the one number type of the variables
    the conclusion mentions (`x = 375 / 2` with `x : ℝ`); None when that is not one type."""
    ascribed = re.search(rf"\(\s*{m.group(1)}\s*:\s*([^()]+?)\s*\)", conclusion)
    if ascribed:
        return ascribed.group(1) if ascribed.group(1) in LEAN_NUMBERS else None
    types = {typ for name, typ in variables if LEAN.mentions(conclusion, name)}
    if not types or not types <= set(LEAN_NUMBERS) or len({_SAME_TYPE.get(t, t) for t in types}) != 1:
        return None
    return min(types)


LEAN = Syntax(
    backend="lean",
    forall="∀",
    forall_re=re.compile(r"\s*(?:∀|forall(?![\w']))"),
    arrow=(("→", "", ""), ("->", "<-", "")),
    conj=(("∧", "", ""), ("/\\", "", "")),
    disj=(("∨", "", ""), ("\\/", "", "")),
    iff=(("↔", "", ""), ("<->", "", "")),
    comparisons=(("<=", (("≤", "", ""), ("<=", "<", "=>-"))), (">=", (("≥", "", ""), (">=", ">-", "="))),
                 ("=", (("=", "<>=:!", "=>"),)), ("<", (("<", "<", "=-|$*>;"),)), (">", ((">", "-=<|>", "=>"),))),
    negation="¬",
    iff_over_arrow=True,
    scopes=False,
    binder_re=re.compile(rf"(?<![\w'.])(?:{_LEAN_BINDERS}|show|match|if)(?![\w'])"),
    bound=(rf"(?<![\w'.])(?:{_LEAN_BINDERS})(?![\w'])[^,=↦|]*?(?<![\w'.])NAME(?![\w'!?])"
           r"|\{\s*\(?\s*NAME(?![\w'!?])"  # a set-builder or subtype: { x | ... }, {x : T // ...}
           r"|⟨[^⟩]*(?<![\w'.])NAME(?![\w'!?])[^⟩]*⟩\s*(?:=>|↦)"),  # fun ⟨a, b⟩ => ...
    ident=re.compile(r"[^\W\d][\w']*\Z"),
    word_chars="'!?",
    brackets="(",
    bare_binders=False,
    hypothesis_binders=True,
    relation_re=re.compile(r"[<>=≤≥≠∣≡∈∉⊆⊂⊇⊃∧∨↔¬~]|/\\|\\/"),
    type_words=frozenset({*LEAN_NUMBERS, "ℂ", "Complex", "NNReal", "ENNReal", "EReal", "PNat", "Prop", "Type", "Sort",
                          "Bool", "Set", "Finset", "List", "Multiset", "Fin", "ZMod", "Polynomial", "Option"}),
    hypothesis_name=re.compile(r"[hH][\w']*\Z"),
    small_values=LEAN_NUMBERS,
    literal=lambda value, typ: f"({value} : {typ})",
    number_re=re.compile(r"(?<![\w'.#/^])(?<!\^ )(\d+)(?![\w.#!])"),  # an exponent (`x ^ 2`) is a ℕ: not read
    number_type=lean_number_type,
    pinned_re=re.compile(r"-?\d+|\(\s*-?\d+\s*(?::[^()]+)?\)"),
    pin=lambda value, typ: f"({re.search(r'-?[0-9]+', value).group(0)} : {typ})",
)

SYNTAXES = {"coq": COQ, "lean": LEAN}
