"""A proof as a tree of tactics: what a search finds, before a backend writes it as one script.

`ProofStep(tactic, subproofs)`: run `tactic` on the current goal state; it leaves as many independent
goal states as there are subproofs (none: the tactic closes the state), proved in order.
`state` is the printed goal state the tactic acts on, where the search knows it: search records
(training data) need it; rendering and equality ignore it.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class ProofStep:
    tactic: str
    subproofs: tuple[ProofStep, ...] = field(default_factory=tuple)
    state: str = field(default="", compare=False)
    # Indices, among the goals the parent step's tactic left, of the goals this step acts on (its
    # state's `GoalState.slots`); empty when unknown. Several: goals sharing existential variables.
    slots: tuple[int, ...] = field(default=(), compare=False)

    def size(self) -> int:
        """Tactics in the proof."""
        return 1 + sum(s.size() for s in self.subproofs)

    def depth(self) -> int:
        """Tactics on the longest branch (the proof's return is minus this)."""
        return 1 + max((s.depth() for s in self.subproofs), default=0)
