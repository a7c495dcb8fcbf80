"""The TTRL variant generator's programmatic strategies (ALGORITHMS.md, "TTRL variant generator").

Each strategy is a function `(theorem, rng) -> [(statement theorem, note)]` registered in `STRATEGIES`
under its name; `generate` runs the chosen ones on a parent and wraps each result as a `Variant`
(parent, strategy, round: the provenance that pools and reports show). Strategies rewrite the
statement textually (`data/statement.py`), Coq and Lean 4 alike: each is written once, and what the
two write differently (`<=` or `≤`, `2%R` or `(2 : ℝ)`, ...) comes from `data/syntax.py`. None claims
its variant is true or even well-typed: that is what the statement filters (`data/filters.py`) decide,
with the proof assistant.

- specialise: one variable of a number type set to a small value (n = 0..5, simple reals); `fix`:
  a variable that a hypothesis pins to a literal (`x = 3`) substituted and the hypothesis dropped;
- generalise: a literal of the conclusion replaced by a fresh variable with the hypothesis it needs
  (`c = 36`: the same statement; `0 < c`: a real generalisation, often false);
- weaken: drop one hypothesis; the conclusion weakened (`=` -> `<=` either way, `<` -> `<=`, `>` -> `>=`);
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

from data.statement import Shape, balanced, has_top_binder, parse, split_any, strip_parens
from data.syntax import Syntax
from formal.goal import Goal
from formal.theorem import Theorem

Strategy = Callable[[Theorem, np.random.Generator], list[tuple[Theorem, str]]]


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


def substitute(text: str, name: str, value: str, syntax: Syntax) -> str:
    return re.sub(syntax.name_re(name), lambda _: value, text)


def bound_somewhere(shape: Shape, name: str) -> bool:
    """Whether `name` is also bound inside the statement (a substitution would hit the inner one)."""
    pattern = re.compile(shape.syntax.bound.replace("NAME", re.escape(name)))
    return any(pattern.search(p) for p in [*shape.hypotheses, shape.conclusion])


def _assign(shape: Shape, name: str, value: str, drop_hyp: int | None = None) -> Shape:
    return dataclasses.replace(
        shape, variables=tuple(v for v in shape.variables if v[0] != name),
        hypotheses=tuple(substitute(h, name, value, shape.syntax) for k, h in enumerate(shape.hypotheses) if k != drop_hyp),
        conclusion=substitute(shape.conclusion, name, value, shape.syntax))


def _out(theorem: Theorem, parent: Shape, shapes: Iterable[tuple[Shape, str]]) -> list[tuple[Theorem, str]]:
    """Render shapes under the parent's header (names filled in by `generate`); drop the unchanged
    (the parent as written, or in the canonical form)."""
    seen = {" ".join(t.proposition.split()) for t in (theorem, parent.theorem(theorem, theorem.name))}
    out = []
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
    syntax = shape.syntax
    found = []
    for name, typ in shape.variables:
        t = strip_parens(typ)
        if t not in syntax.small_values or bound_somewhere(shape, name):
            continue
        for value in syntax.small_values[t]:
            found.append((_assign(shape, name, syntax.literal(value, t)), f"{name} := {value}"))
    return _out(theorem, shape, found)


def fix(theorem: Theorem, rng: np.random.Generator) -> list[tuple[Theorem, str]]:
    """A variable pinned by a hypothesis `x = LIT` (or `LIT = x`): substituted, the hypothesis dropped."""
    shape = parse(theorem)
    if shape is None:
        return []
    syntax, types = shape.syntax, dict(shape.variables)
    found = []
    for k, hyp in enumerate(shape.hypotheses):
        sides = split_any(strip_parens(hyp), dict(syntax.comparisons)["="])
        if len(sides) != 2:
            continue
        for var, value in (sides, sides[::-1]):
            if var in types and syntax.pinned_re.fullmatch(value) and not bound_somewhere(shape, var):
                found.append((_assign(shape, var, syntax.pin(value, strip_parens(types[var])), drop_hyp=k),
                              f"{var} := {value} (from hypothesis {k + 1})"))
    return _out(theorem, shape, found)


def generalise(theorem: Theorem, rng: np.random.Generator) -> list[tuple[Theorem, str]]:
    shape = parse(theorem)
    if shape is None:
        return []
    syntax, names = shape.syntax, shape.variable_names()
    fresh = next(c for c in ("c", "c0", "c1", "k0", "m0") if c not in names and not re.search(rf"\b{c}\b", shape.proposition()))
    found = []
    literals = {m.group(0): m for m in syntax.number_re.finditer(shape.conclusion) if int(m.group(1)) >= 2}
    for lit in sorted(literals):
        m = literals[lit]
        typ = syntax.number_type(m, theorem.header, shape.conclusion, shape.variables)
        if typ is None:
            continue
        concl = syntax.number_re.sub(lambda n: fresh if n.group(0) == lit else n.group(0), shape.conclusion)
        value = syntax.literal(m.group(1), typ)
        zero = syntax.literal("0", typ) if "0" in syntax.small_values[typ] else None  # Coq's positive has none
        variables = (*shape.variables, (fresh, typ))
        for hyp, note in ((f"{fresh} = {value}", "the same statement"),
                          *(((f"{zero} < {fresh}", "any positive value"),) if zero else ())):
            found.append((dataclasses.replace(shape, variables=variables, hypotheses=(*shape.hypotheses, hyp), conclusion=concl),
                          f"{lit} -> {fresh}, {note}"))
    return _out(theorem, shape, found)


def weaken(theorem: Theorem, rng: np.random.Generator) -> list[tuple[Theorem, str]]:
    shape = parse(theorem)
    if shape is None:
        return []
    found = [(dataclasses.replace(shape, hypotheses=shape.hypotheses[:k] + shape.hypotheses[k + 1:]),
              f"drop hypothesis {k + 1}") for k in range(len(shape.hypotheses))]
    for concl, note in weaker_conclusions(shape.conclusion, shape.syntax):
        found.append((dataclasses.replace(shape, conclusion=concl), note))
    return _out(theorem, shape, found)


def comparison(text: str, syntax: Syntax) -> tuple[str, str, str, str] | None:
    """(left, operator, right, scope) of a top-level binary comparison `l OP r` or `(l OP r)%S`
    (OP one of <=, >=, =, <, >, however the backend spells it)."""
    scope = ""
    m = re.fullmatch(r"\((.*)\)%(\w+)", text.strip(), re.S) if syntax.scopes else None
    if m and balanced(m.group(1)):
        text, scope = m.group(1), m.group(2)
    text = strip_parens(text)
    connectives = (syntax.conj, syntax.disj, syntax.iff, syntax.arrow)
    if has_top_binder(text, syntax) or any(len(split_any(text, tokens)) > 1 for tokens in connectives):
        return None
    if text.startswith(syntax.negation):
        return None  # `~ a = b` is the negation of a comparison
    hits = []
    for op, tokens in syntax.comparisons:
        parts = split_any(text, tokens)
        if len(parts) == 2 and all(parts):
            hits.append((parts[0], op, parts[1]))
    if len(hits) != 1:
        return None
    left, op, right = hits[0]
    if not scope and syntax.scopes:
        m = re.search(r"%(\w+)\s*$", right) or re.search(r"%(\w+)\s*$", left)
        scope = m.group(1) if m else ""
    return left, op, right, scope


def _scoped(text: str, scope: str) -> str:
    return f"({text})%{scope}" if scope else text


def weaker_conclusions(conclusion: str, syntax: Syntax) -> list[tuple[str, str]]:
    c = comparison(conclusion, syntax)
    if c is None:
        return []
    left, op, right, scope = c
    le, ge = syntax.written("<="), syntax.written(">=")
    if op == "=":
        return [(_scoped(f"{left} {le} {right}", scope), f"= -> {le}"), (_scoped(f"{right} {le} {left}", scope), f"= -> {ge}")]
    if op == "<":
        return [(_scoped(f"{left} {le} {right}", scope), f"< -> {le}")]
    if op == ">":
        return [(_scoped(f"{left} {ge} {right}", scope), f"> -> {ge}")]
    return []


STRICT = {"<=": "<", ">=": ">"}


def strengthen(theorem: Theorem, rng: np.random.Generator) -> list[tuple[Theorem, str]]:
    shape = parse(theorem)
    if shape is None:
        return []
    syntax = shape.syntax
    found = []
    for k, hyp in enumerate(shape.hypotheses):
        inner = strip_parens(hyp)
        ors = split_any(inner, syntax.disj)
        stronger: list[tuple[str, str]] = []
        if len(ors) > 1 and not has_top_binder(inner, syntax):
            stronger += [(o, f"hypothesis {k + 1}: keep disjunct {j + 1}") for j, o in enumerate(ors)]
        c = comparison(hyp, syntax)
        if c is not None and c[1] in STRICT:
            left, op, right, scope = c
            strict = syntax.written(STRICT[op])
            stronger.append((_scoped(f"{left} {strict} {right}", scope), f"hypothesis {k + 1}: {syntax.written(op)} -> {strict}"))
        for new, note in stronger:
            hyps = shape.hypotheses[:k] + (new,) + shape.hypotheses[k + 1:]
            found.append((dataclasses.replace(shape, hypotheses=hyps), note))
    return _out(theorem, shape, found)


def conjuncts(text: str, syntax: Syntax) -> list[str]:
    """The parts of a top-level conjunction (one part when it is none)."""
    inner = strip_parens(text)
    if has_top_binder(inner, syntax) or len(split_any(inner, syntax.disj)) > 1 or len(split_any(inner, syntax.iff)) > 1:
        return [text]
    parts = split_any(inner, syntax.conj)
    return parts if len(parts) > 1 and all(parts) else [text]


def decompose(theorem: Theorem, rng: np.random.Generator) -> list[tuple[Theorem, str]]:
    shape = parse(theorem)
    if shape is None:
        return []
    syntax = shape.syntax
    found = []
    parts = conjuncts(shape.conclusion, syntax)
    if len(parts) > 1:
        for j, part in enumerate(parts):
            found.append((dataclasses.replace(shape, conclusion=part), f"conjunct {j + 1} of {len(parts)}"))
        for j in range(1, len(parts)):  # lemma steps: the earlier parts given, the next one to show
            found.append((dataclasses.replace(shape, hypotheses=(*shape.hypotheses, *parts[:j]), conclusion=parts[j]),
                          f"step {j + 1}: conjuncts 1..{j} given"))
    inner = strip_parens(shape.conclusion)
    sides = split_any(inner, syntax.iff)
    if len(sides) == 2 and not has_top_binder(inner, syntax):
        a, b = sides
        found.append((dataclasses.replace(shape, hypotheses=(*shape.hypotheses, a), conclusion=b), "iff: ->"))
        found.append((dataclasses.replace(shape, hypotheses=(*shape.hypotheses, b), conclusion=a), "iff: <-"))
    for k, hyp in enumerate(shape.hypotheses):
        split = conjuncts(hyp, syntax)
        if len(split) > 1:
            hyps = shape.hypotheses[:k] + tuple(split) + shape.hypotheses[k + 1:]
            found.append((dataclasses.replace(shape, hypotheses=hyps), f"hypothesis {k + 1} split"))
    return _out(theorem, shape, found)


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
        t = dataclasses.replace(t, backend=parent.backend)
        shape = parse(t)  # the canonical form, so that a goal that is the parent after `intros` is a duplicate
        if shape is not None:
            t = shape.theorem(t, t.name)
        t = dataclasses.replace(t, name=variant_name(parent.name, "lemma", t))
        out.append(Variant(t, parent.name, "lemma", round_, "an open goal of a failed search"))
    return out


def similarity(a: Theorem, b: Theorem) -> float:
    """How close two statements read (0..1, on their tokens): what makes a variant "interesting"
    as the seed of the next round (the pseudocode: closest to the target)."""
    from difflib import SequenceMatcher

    tokens = lambda t: re.findall(r"[\w']+|[^\s\w]", t.proposition)  # noqa: E731
    return SequenceMatcher(None, tokens(a), tokens(b), autojunk=False).ratio()
