"""Goals as the search sees them: structured hypotheses and a conclusion, printed as the backend prints them.

`Goal.printed` is what the policy reads and what search nodes are keyed by, so it must be the proof
assistant's own layout. Coq's is rebuilt from the structure (hypotheses, a `====` rule, the
conclusion). Lean's cannot be (case tags, `h : T`, `⊢`, its line breaks), so a Lean goal keeps the
text Lean printed in `text` and `printed` returns it verbatim. `text` takes no part in equality: two
goals are equal when their hypotheses and conclusion are.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_EVAR = re.compile(r"\?[A-Za-z_][\w']*")


@dataclass(frozen=True)
class Hypothesis:
    """``names : type`` or, for a local definition, ``names := body : type``."""

    names: tuple[str, ...]
    type: str
    body: str | None = None

    def __str__(self) -> str:
        body = f" := {self.body}" if self.body is not None else ""
        return f"{', '.join(self.names)}{body} : {self.type}"


@dataclass(frozen=True)
class Goal:
    hypotheses: tuple[Hypothesis, ...]
    conclusion: str
    text: str | None = field(default=None, compare=False, repr=False)  # the backend's own print (Lean)

    @property
    def printed(self) -> str:
        """The goal as the proof assistant prints it: `text` when the backend gave it, else Coq's layout
        (hypotheses, a rule, the conclusion)."""
        if self.text is not None:
            return self.text
        lines = [str(h) for h in self.hypotheses]
        return "\n".join([*lines, "============================", self.conclusion])

    def evars(self) -> frozenset[str]:
        """Existential variables (``?x``) mentioned anywhere in the goal."""
        found = set(_EVAR.findall(self.conclusion))
        for h in self.hypotheses:
            found.update(_EVAR.findall(h.type))
            if h.body:
                found.update(_EVAR.findall(h.body))
        return frozenset(found)


@dataclass(frozen=True)
class GoalState:
    """What one search node stands for: one goal, or several that share existential variables.

    `id` is the session's handle for applying tactics to this state; it is unique within a session
    and means nothing outside it. A tactic acts on the first goal; the others ride along.
    """

    id: int
    goals: tuple[Goal, ...]
    # Where these goals sit among the goals the tactic that made this state left (indices, in order):
    # what a renderer needs to address a state of several goals the way the session did.
    slots: tuple[int, ...] = field(default=(), compare=False)

    @property
    def printed(self) -> str:
        """The goals as the proof assistant prints them, separated by blank lines (Coq and Lean alike)."""
        return "\n\n".join(g.printed for g in self.goals)


def independent_groups(goals: list[Goal] | tuple[Goal, ...]) -> list[list[int]]:
    """Partition goal indices into groups connected by shared existential variables.

    Groups keep the goals' order and are ordered by their first goal, so a group of one is the
    common case and several groups make an AND node.
    """
    parent = list(range(len(goals)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    owner: dict[str, int] = {}
    for i, goal in enumerate(goals):
        for ev in goal.evars():
            if ev in owner:
                parent[find(i)] = find(owner[ev])
            else:
                owner[ev] = i
    groups: dict[int, list[int]] = {}
    for i in range(len(goals)):
        groups.setdefault(find(i), []).append(i)
    return sorted(groups.values(), key=lambda g: g[0])
