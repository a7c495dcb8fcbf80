"""The TTRL variant generator's programmatic strategies (ALGORITHMS.md, "TTRL variant generator").

Each strategy is a function `(theorem, rng) -> [(statement theorem, note)]` registered in `STRATEGIES`
under its name; `generate` runs the chosen ones on a parent and wraps each result as a `Variant`
(parent, strategy, round: the provenance that pools and reports show). Strategies rewrite the
statement textually (`data/statement.py`), Coq first; none claims its variant is true or even
well-typed: that is what the statement filters (`data/filters.py`) decide, with the proof assistant.

- specialise: one variable of a number type set to a small value (n = 0..5, simple reals); `fix`:
  a variable that a hypothesis pins to a literal (`x = 3`) substituted and the hypothesis dropped;
- generalise: a literal of the conclusion replaced by a fresh variable with the hypothesis it needs
  (`c = 36`: the same statement; `0 < c`: a real generalisation, often false);
- weaken: drop one hypothesis; the conclusion weakened (`=` -> `<=` either way, `<` -> `<=`);
- strengthen: one hypothesis strengthened (`<=` -> `<`, `A \\/ B` -> `A`);
- decompose: a conjunction goal split into its parts, an iff into its directions, the parts as lemma
  steps (`H -> P1 -> P2`), a conjunctive hypothesis split into two;
- lemmas: the open goals a failed search left (`lemma_variants`, from its tree);
- negation: the disproof variant (`Theorem.negation()`).
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np

from data.statement import NUMERIC_TYPES, Shape, balanced, has_top_binder, parse, scope_of, split_top, strip_parens
from formal.goal import Goal
from formal.theorem import Theorem

Strategy = Callable[[Theorem, np.random.Generator], list[tuple[Theorem, str]]]

SMALL_VALUES = {
    "nat": ["0", "1", "2", "3", "4", "5"],
    "N": ["0", "1", "2", "3", "4", "5"],
    "positive": ["1", "2", "3", "4", "5"],
    "Z": ["0", "1", "2", "3", "-1", "-2"],
    "R": ["0", "1", "2", "-1", "1/2"],
    "Q": ["0", "1", "2", "-1"],
}


@dataclass(frozen=True)
class Variant:
    """A generated statement and where it came from."""

    theorem: Theorem
    parent: str  # the name of the theorem it was made from
    strategy: str
    round: int = 0
    note: str = ""  # what changed, for a person: "x := 2", "drop hypothesis 2", ...

    def describe(self) -> dict:
        return {"name": self.theorem.name, "parent": self.parent, "strategy": self.strategy,
                "round": self.round, "note": self.note, "statement": self.theorem.statement,
                "binders": self.theorem.binders}


def variant_name(root: str, strategy: str, theorem: Theorem) -> str:
    """`ROOT__STRATEGY_HASH`: readable, stable (the hash of the statement), a valid theorem name."""
    digest = hashlib.sha256(f"{theorem.binders}\0{theorem.statement}".encode()).hexdigest()[:8]
    return f"{root.split('__')[0]}__{strategy}_{digest}"


def literal(value: str, typ: str) -> str:
    """A value of a number type, written so that it means that type whatever scope is open."""
    if typ == "Q":
        return f"(inject_Z ({value}))"
    scope = {"nat": "nat", "N": "N", "positive": "positive", "Z": "Z", "R": "R"}[typ]
    return f"({value})%{scope}" if not value.isdigit() else f"{value}%{scope}"


def substitute(text: str, name: str, value: str) -> str:
    return re.sub(rf"(?<![\w'.]){re.escape(name)}(?![\w'])", value, text)


def bound_somewhere(shape: Shape, name: str) -> bool:
    """Whether `name` is also bound inside the statement (a substitution would hit the inner one)."""
    pattern = re.compile(rf"(?:forall|exists!?|fun)\s[^,]*(?<![\w']){re.escape(name)}(?![\w'])[^,]*,")
    return any(pattern.search(p) for p in [*shape.hypotheses, shape.conclusion])


def _assign(shape: Shape, name: str, value: str, drop_hyp: int | None = None) -> Shape:
    return Shape(tuple(v for v in shape.variables if v[0] != name),
                 tuple(substitute(h, name, value) for k, h in enumerate(shape.hypotheses) if k != drop_hyp),
                 substitute(shape.conclusion, name, value))


def _out(theorem: Theorem, shapes: Iterable[tuple[Shape, str]]) -> list[tuple[Theorem, str]]:
    """Render shapes under the parent's header (names filled in by `generate`); drop the unchanged."""
    seen, out = {" ".join(theorem.proposition.split())}, []
    for shape, note in shapes:
        t = shape.theorem(theorem, theorem.name)
        key = " ".join(t.proposition.split())
        if key not in seen:
            seen.add(key)
            out.append((t, note))
    return out


# -- strategies ----------------------------------------------------------------------------------

def specialise(theorem: Theorem, rng: np.random.Generator) -> list[tuple[Theorem, str]]:
    shape = parse(theorem)
    if shape is None:
        return []
    found = []
    for name, typ in shape.variables:
        t = strip_parens(typ)
        if t not in NUMERIC_TYPES or bound_somewhere(shape, name):
            continue
        for value in SMALL_VALUES[t]:
            found.append((_assign(shape, name, literal(value, t)), f"{name} := {value}"))
    return _out(theorem, found)


def fix(theorem: Theorem, rng: np.random.Generator) -> list[tuple[Theorem, str]]:
    """A variable pinned by a hypothesis `x = LIT` (or `LIT = x`): substituted, the hypothesis dropped."""
    shape = parse(theorem)
    if shape is None:
        return []
    names = shape.variable_names()
    found = []
    for k, hyp in enumerate(shape.hypotheses):
        sides = split_top(strip_parens(hyp), "=", "<>:=", "=>")
        if len(sides) != 2:
            continue
        for var, value in (sides, sides[::-1]):
            if var in names and re.fullmatch(r"-?\d+(?:%\w+)?|\(-?\d+\)(?:%\w+)?", value) and not bound_somewhere(shape, var):
                found.append((_assign(shape, var, f"({value})" if not value.startswith("(") else value, drop_hyp=k),
                              f"{var} := {value} (from hypothesis {k + 1})"))
    return _out(theorem, found)


_LITERAL = re.compile(r"(?<![\w'.#/])(\d+)(%\w+)?(?![\w.#])")


def generalise(theorem: Theorem, rng: np.random.Generator) -> list[tuple[Theorem, str]]:
    shape = parse(theorem)
    if shape is None:
        return []
    names = shape.variable_names()
    fresh = next(c for c in ("c", "c0", "c1", "k0", "m0") if c not in names and not re.search(rf"\b{c}\b", shape.proposition()))
    found = []
    for lit in sorted({m.group(0) for m in _LITERAL.finditer(shape.conclusion) if int(m.group(1)) >= 2}):
        m = _LITERAL.fullmatch(lit)
        scope = m.group(2)[1:] if m.group(2) else scope_of(theorem)
        typ = {"nat": "nat", "Z": "Z", "R": "R", "Q": "Q", "N": "N", "positive": "positive"}.get(scope)
        if typ is None:
            continue
        pattern = re.compile(rf"(?<![\w'.#/]){re.escape(lit)}(?![\w.#%])")
        concl = pattern.sub(fresh, shape.conclusion)
        if concl == shape.conclusion:
            continue
        value = literal(m.group(1), typ)
        zero = literal("0", typ) if typ != "positive" else None
        variables = (*shape.variables, (fresh, typ))
        for hyp, note in ((f"{fresh} = {value}", "the same statement"),
                          *(((f"{zero} < {fresh}", "any positive value"),) if zero else ())):
            found.append((Shape(variables, (*shape.hypotheses, hyp), concl), f"{lit} -> {fresh}, {note}"))
    return _out(theorem, found)


def weaken(theorem: Theorem, rng: np.random.Generator) -> list[tuple[Theorem, str]]:
    shape = parse(theorem)
    if shape is None:
        return []
    found = [(Shape(shape.variables, shape.hypotheses[:k] + shape.hypotheses[k + 1:], shape.conclusion),
              f"drop hypothesis {k + 1}") for k in range(len(shape.hypotheses))]
    for concl, note in weaker_conclusions(shape.conclusion):
        found.append((dataclasses.replace(shape, conclusion=concl), note))
    return _out(theorem, found)


_COMPARISONS = (("<=", "<", "=>-"), (">=", ">", "="), ("=", "<>=:", "=>"), ("<", "<-", "=>-"), (">", "-=<", "="))


def comparison(text: str) -> tuple[str, str, str, str] | None:
    """(left, operator, right, scope) of a top-level binary comparison `l OP r` or `(l OP r)%S`."""
    scope = ""
    m = re.fullmatch(r"\((.*)\)%(\w+)", text.strip(), re.S)
    if m and balanced(m.group(1)):
        text, scope = m.group(1), m.group(2)
    text = strip_parens(text)
    if has_top_binder(text) or any(len(split_top(text, op, "<", "")) > 1 for op in ("/\\", "\\/", "<->", "->")):
        return None
    hits = []
    for op, before, after in _COMPARISONS:
        parts = split_top(text, op, before, after)
        if len(parts) == 2 and all(parts):
            hits.append((parts[0], op, parts[1]))
    if len(hits) != 1:
        return None
    left, op, right = hits[0]
    if not scope:
        m = re.search(r"%(\w+)\s*$", right) or re.search(r"%(\w+)\s*$", left)
        scope = m.group(1) if m else ""
    return left, op, right, scope


def _scoped(text: str, scope: str) -> str:
    return f"({text})%{scope}" if scope else text


def weaker_conclusions(conclusion: str) -> list[tuple[str, str]]:
    c = comparison(conclusion)
    if c is None:
        return []
    left, op, right, scope = c
    if op == "=":
        return [(_scoped(f"{left} <= {right}", scope), "= -> <="), (_scoped(f"{right} <= {left}", scope), "= -> >=")]
    if op == "<":
        return [(_scoped(f"{left} <= {right}", scope), "< -> <=")]
    if op == ">":
        return [(_scoped(f"{left} >= {right}", scope), "> -> >=")]
    return []


def strengthen(theorem: Theorem, rng: np.random.Generator) -> list[tuple[Theorem, str]]:
    shape = parse(theorem)
    if shape is None:
        return []
    found = []
    for k, hyp in enumerate(shape.hypotheses):
        inner = strip_parens(hyp)
        ors = split_top(inner, "\\/")
        stronger: list[tuple[str, str]] = []
        if len(ors) > 1 and not has_top_binder(inner):
            stronger += [(o, f"hypothesis {k + 1}: keep disjunct {j + 1}") for j, o in enumerate(ors)]
        c = comparison(hyp)
        if c is not None and c[1] in ("<=", ">="):
            left, op, right, scope = c
            stronger.append((_scoped(f"{left} {op[0]} {right}", scope), f"hypothesis {k + 1}: {op} -> {op[0]}"))
        for new, note in stronger:
            hyps = shape.hypotheses[:k] + (new,) + shape.hypotheses[k + 1:]
            found.append((dataclasses.replace(shape, hypotheses=hyps), note))
    return _out(theorem, found)


def conjuncts(text: str) -> list[str]:
    """The parts of a top-level conjunction (one part when it is none)."""
    inner = strip_parens(text)
    if has_top_binder(inner) or len(split_top(inner, "\\/")) > 1 or len(split_top(inner, "<->")) > 1:
        return [text]
    parts = split_top(inner, "/\\")
    return parts if len(parts) > 1 and all(parts) else [text]


def decompose(theorem: Theorem, rng: np.random.Generator) -> list[tuple[Theorem, str]]:
    shape = parse(theorem)
    if shape is None:
        return []
    found = []
    parts = conjuncts(shape.conclusion)
    if len(parts) > 1:
        for j, part in enumerate(parts):
            found.append((dataclasses.replace(shape, conclusion=part), f"conjunct {j + 1} of {len(parts)}"))
        for j in range(1, len(parts)):  # lemma steps: the earlier parts given, the next one to show
            found.append((dataclasses.replace(shape, hypotheses=(*shape.hypotheses, *parts[:j]), conclusion=parts[j]),
                          f"step {j + 1}: conjuncts 1..{j} given"))
    inner = strip_parens(shape.conclusion)
    sides = split_top(inner, "<->")
    if len(sides) == 2 and not has_top_binder(inner):
        a, b = sides
        found.append((dataclasses.replace(shape, hypotheses=(*shape.hypotheses, a), conclusion=b), "iff: ->"))
        found.append((dataclasses.replace(shape, hypotheses=(*shape.hypotheses, b), conclusion=a), "iff: <-"))
    for k, hyp in enumerate(shape.hypotheses):
        split = conjuncts(hyp)
        if len(split) > 1:
            hyps = shape.hypotheses[:k] + tuple(split) + shape.hypotheses[k + 1:]
            found.append((dataclasses.replace(shape, hypotheses=hyps), f"hypothesis {k + 1} split"))
    return _out(theorem, found)


def negation(theorem: Theorem, rng: np.random.Generator) -> list[tuple[Theorem, str]]:
    return [(theorem.negation(), "the negation (a proof disproves the parent)")]


STRATEGIES: dict[str, Strategy] = {
    "specialise": specialise,
    "fix": fix,
    "generalise": generalise,
    "weaken": weaken,
    "strengthen": strengthen,
    "decompose": decompose,
    "negation": negation,
}


def generate(parent: Theorem, strategies: Iterable[str], rng: np.random.Generator, round_: int = 0,
             per_strategy: int = 0) -> list[Variant]:
    """Variants of `parent` by each named strategy (at most `per_strategy` of each, sampled with `rng`;
    0: all), named `ROOT__STRATEGY_HASH`."""
    out: list[Variant] = []
    for name in strategies:
        if name not in STRATEGIES:
            raise ValueError(f"unknown variant strategy {name!r}; known: {sorted(STRATEGIES)} (and 'lemmas')")
        made = STRATEGIES[name](parent, rng)
        if per_strategy and len(made) > per_strategy:
            keep = sorted(rng.choice(len(made), size=per_strategy, replace=False))
            made = [made[i] for i in keep]
        for theorem, note in made:
            theorem = dataclasses.replace(theorem, name=variant_name(parent.name, name, theorem))
            out.append(Variant(theorem, parent.name, name, round_, note))
    return out


def lemma_variants(parent: Theorem, goals: Iterable[Goal], round_: int = 0) -> list[Variant]:
    """The open goals a failed search of `parent` left, each a theorem of its own (its hypotheses as
    binders, under the parent's header): the learnable pieces of a failed attempt."""
    from data.problems import goal_theorem

    out, seen = [], set()
    for goal in goals:
        if goal.evars() or goal.printed in seen:
            continue
        seen.add(goal.printed)
        try:
            t = goal_theorem(parent.name, goal, parent.header, source=parent.source)
        except ValueError:
            continue
        shape = parse(t)  # the canonical form, so that a goal that is the parent after `intros` is a duplicate
        if shape is not None:
            t = shape.theorem(t, t.name)
        t = dataclasses.replace(t, name=variant_name(parent.name, "lemma", t), backend=parent.backend)
        out.append(Variant(t, parent.name, "lemma", round_, "an open goal of a failed search"))
    return out


def similarity(a: Theorem, b: Theorem) -> float:
    """How close two statements read (0..1, on their tokens): what makes a variant "interesting"
    as the seed of the next round (the pseudocode: closest to the target)."""
    from difflib import SequenceMatcher

    tokens = lambda t: re.findall(r"[\w']+|[^\s\w]", t.proposition)  # noqa: E731
    return SequenceMatcher(None, tokens(a), tokens(b), autojunk=False).ratio()
