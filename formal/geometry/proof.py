"""Traceback: the proof of one derived fact as numbered steps a person reads, and its numeric re-check.

newclid's `goals_justifications` walks the dependency graph of a DD+AR run back from a fact to the
construction premises it rests on (AlphaGeometry's traceback: only what the fact needs). Each premise is
tied to the clause that asserted it, so the premises (and steps) that rest on auxiliary constructions
are marked. Each step's conclusion can be re-checked numerically on a freshly drawn diagram (another
seed): a step the engine got wrong would fail there, whatever the first drawing's accidents.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from formal.geometry.engine import BuildError, Deduction, Diagram, build, check_numerically


@dataclass(frozen=True)
class Premise:
    ref: str  # "C1", "C2", ...: a construction premise; "N1", ...: a numerical check (diff, sameclock, ...)
    fact: str  # newclid's canonical predicate string, `perp a b c d`
    pretty: str  # `AB ⟂ CD`
    clause: str  # the construction clause that asserted it ("" for numerical checks)
    aux: bool  # asserted by an auxiliary construction


@dataclass(frozen=True)
class Step:
    number: int
    premises: tuple[str, ...]  # refs: premises ("C3", "N1") or earlier steps ("2")
    reason: str  # a rule (`r43 Orthocenter theorem`), `Angle Chasing`, `Ratio Chasing`, ...
    fact: str
    pretty: str
    aux: bool  # rests (transitively) on an auxiliary construction


@dataclass(frozen=True)
class Proof:
    goal: str
    premises: tuple[Premise, ...]
    steps: tuple[Step, ...]

    @property
    def length(self) -> int:
        return len(self.steps)

    @property
    def clauses(self) -> tuple[str, ...]:
        """The construction clauses the proof rests on, in the order they were drawn."""
        return tuple(dict.fromkeys(p.clause for p in self.premises if p.clause))

    def render(self, rechecked: tuple[bool, ...] | None = None) -> str:
        lines = ["Premises:"]
        for p in self.premises:
            origin = f"  from `{p.clause}`" if p.clause else "  (numerical check)"
            lines.append(f"  [{p.ref}] {p.pretty}{origin}{'  [aux]' if p.aux else ''}")
        lines.append("Proof:")
        for s in self.steps:
            mark = ""
            if rechecked is not None:
                mark = "  ✓" if rechecked[s.number - 1] else "  ✗ numerically false on a fresh diagram"
            uses = ", ".join(f"[{r}]" for r in s.premises)
            lines.append(f"  {s.number:3d}. {uses} =({s.reason})=> {s.pretty}{'  [aux]' if s.aux else ''}{mark}")
        return "\n".join(lines)

    def to_json(self) -> dict:
        return asdict(self)


class NotProved(ValueError):
    """The fact is not in the run's dependency graph (not derived)."""


def traceback(deduction: Deduction, fact: str | None = None) -> Proof:
    """The proof of `fact` (a predicate string) from the run, or of the problem's goal when None."""
    from newclid.justifications._index import JustificationType as J
    from newclid.justifications.justification import justify_dependency
    from newclid.predicates import predicate_from_construction
    from newclid.problem import PredicateConstruction, predicate_to_construction
    from newclid.proof_justifications import goals_justifications

    state = deduction.solver.proof_state
    if fact is None:
        if not state.goals:
            raise NotProved("the problem has no goal")
        target = state.goals[0]
    else:
        try:
            target = predicate_from_construction(PredicateConstruction.from_str(fact), state.symbols.points)
        except (ValueError, KeyError) as e:
            raise NotProved(f"not a fact of this diagram: {fact} ({e})") from None
        if target is None:
            raise NotProved(f"not a fact of this diagram: {fact}")
    try:
        justifications, proven = goals_justifications([target], state)
    except ValueError:  # newclid's "Could not justify predicate": not in the graph
        raise NotProved(f"not derived: {target}") from None
    if not proven.get(target):
        raise NotProved(f"not derived: {target}")

    clause_of = _clause_of_fact(deduction.diagram)
    refs: dict[object, str] = {}
    premises: list[Premise] = []
    steps: list[Step] = []
    on_aux: set[str] = set()
    for j in justifications:
        pred = j.predicate
        if pred in refs:
            continue
        text = str(predicate_to_construction(pred))
        kind = j.dependency_type
        if kind in (J.ASSUMPTION, J.NUMERICAL_CHECK, J.REFLEXIVITY):
            assumed = kind == J.ASSUMPTION
            clause, aux = clause_of.get(text, ("", False)) if assumed else ("", False)
            ref = f"{'C' if assumed else 'N'}{sum(p.ref[0] == ('C' if assumed else 'N') for p in premises) + 1}"
            premises.append(Premise(ref, text, str(pred), clause, aux))
            refs[pred] = ref
            if aux:
                on_aux.add(ref)
            continue
        deps = []
        for d in justify_dependency(j, state):
            if d not in refs:  # a numerical fact newclid checks on the fly, outside the graph's order
                ref = f"N{sum(p.ref[0] == 'N' for p in premises) + 1}"
                premises.append(Premise(ref, str(predicate_to_construction(d)), str(d), "", False))
                refs[d] = ref
            deps.append(refs[d])
        number = len(steps) + 1
        aux = any(r in on_aux for r in deps)
        steps.append(Step(number, tuple(deps), _reason(j), text, str(pred), aux))
        refs[pred] = str(number)
        if aux:
            on_aux.add(str(number))
    return Proof(str(predicate_to_construction(target)), tuple(premises), tuple(steps))


def recheck(proof: Proof, diagram: Diagram, seed: int) -> tuple[bool, ...]:
    """Each step's conclusion checked numerically on the same problem (auxiliary clauses included)
    drawn afresh with `seed` (a problem given by coordinates has only its own drawing). Raises
    BuildError when no fresh drawing can be made."""
    fresh = build(diagram.problem, seed=seed)
    return tuple(check_numerically(fresh, s.fact) for s in proof.steps)


def _clause_of_fact(diagram: Diagram) -> dict[str, tuple[str, bool]]:
    out: dict[str, tuple[str, bool]] = {}
    for c in diagram.clauses:
        for f in c.facts:
            out.setdefault(_canonical(f), (c.clause, c.aux))
    return out


def _canonical(fact: str) -> str:
    from newclid.problem import PredicateConstruction

    try:
        return str(PredicateConstruction.from_str(fact))
    except ValueError:
        return fact


def _reason(j) -> str:
    from newclid.justifications._index import JustificationType as J

    kind = j.dependency_type
    if kind == J.RULE_APPLICATION:
        return j.rule.fullname
    if kind == J.AR_DEDUCTION:
        return str(j.ar_reason.value)
    return str(kind.value)


__all__ = ["BuildError", "NotProved", "Premise", "Proof", "Step", "recheck", "traceback"]
