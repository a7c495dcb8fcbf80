"""Nodes of the AND-OR search tree (ALGORITHMS.md, "AND-OR MCTS").

    OR node   a goal state to prove; its children are the results of tactics (reward -1 each).
    AND node  the result of a tactic that left several independent goal states; its children are
              one OR node per state (focus edges, reward 0), all of which must be proved.

A tactic that closes every goal gives a *terminal* OR child: no state, proved from birth.

Invariants (`check_invariants`): an AND node has >= 2 children, all OR nodes; an OR child of an AND
node has reward 0, every other non-root node reward -1; `proved` of an OR node = some child proved
(or terminal), of an AND node = every child proved; visit counts never fall below the sum of the
children's (a leaf's visits come from backups through it).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from formal.goal import GoalState


class Kind(str, enum.Enum):
    OR = "or"
    AND = "and"


@dataclass(slots=True, eq=False)
class Node:
    kind: Kind
    state: GoalState | None  # OR: the state to prove (None when terminal); AND: None
    parent: Node | None = None
    tactic: str | None = None  # the tactic from the parent OR node that made this node (None: focus edge / root)
    prior: float = 1.0  # unnormalised prior mass: sum of exp(logprob / tau) over the samples of `tactic`
    reward: float = -1.0  # -1 for a tactic edge, 0 for a focus edge (AND -> OR) and the root
    children: list[Node] = field(default_factory=list)
    visit_count: int = 0
    value_sum: float = 0.0
    sample_rounds: int = 0  # OR: how many times K tactics were sampled here
    expanded: bool = False
    proved: bool = False
    net_value: float | None = None  # the value head's estimate when this node was expanded
    invalid_tactics: set[str] = field(default_factory=set)  # tactics that failed here (not retried)
    depth: int = 0
    # Nothing left to try below: an expanded OR node with no live child that progressive sampling
    # does not revisit, or an AND node with a dead subgoal. Selection never enters a dead node.
    dead: bool = False

    # -- derived ----------------------------------------------------------------------------
    @property
    def terminal(self) -> bool:
        return self.kind is Kind.OR and self.state is None

    def mean_value(self) -> float:
        return self.value_sum / self.visit_count if self.visit_count else 0.0

    def child_for(self, tactic: str) -> Node | None:
        return next((c for c in self.children if c.tactic == tactic), None)

    def update_proved(self) -> bool:
        if self.terminal:
            self.proved = True
        elif self.kind is Kind.AND:
            self.proved = bool(self.children) and all(c.proved for c in self.children)
        else:
            self.proved = self.proved or any(c.proved for c in self.children)
        return self.proved

    def iter_nodes(self):
        """This node and everything below it, depth first."""
        stack = [self]
        while stack:
            node = stack.pop()
            yield node
            stack.extend(reversed(node.children))

    # -- building ---------------------------------------------------------------------------
    def add_tactic_child(self, tactic: str, prior: float, states: tuple[GoalState, ...]) -> Node:
        """The node a tactic's result makes below this OR node: terminal, OR, or AND with focus children."""
        assert self.kind is Kind.OR, "tactics apply at OR nodes"
        if not states:
            child = Node(Kind.OR, None, self, tactic, prior, -1.0, proved=True, expanded=True, depth=self.depth + 1)
        elif len(states) == 1:
            child = Node(Kind.OR, states[0], self, tactic, prior, -1.0, depth=self.depth + 1)
        else:
            child = Node(Kind.AND, None, self, tactic, prior, -1.0, expanded=True, depth=self.depth + 1)
            child.children = [Node(Kind.OR, s, child, None, 1.0, 0.0, depth=self.depth + 2) for s in states]
        self.children.append(child)
        return child

    # -- checking and export ----------------------------------------------------------------
    def check_invariants(self) -> None:
        for node in self.iter_nodes():
            if node.kind is Kind.AND:
                assert len(node.children) >= 2 and all(c.kind is Kind.OR and c.reward == 0.0 for c in node.children)
                assert node.proved == all(c.proved for c in node.children)
            elif node.terminal:
                assert node.proved and not node.children
            else:
                assert node.proved == any(c.proved for c in node.children), node
            if node.parent is not None and node.parent.kind is Kind.OR:
                assert node.reward == -1.0 and node.tactic is not None
            assert node.visit_count >= sum(c.visit_count for c in node.children)
            assert not (node.dead and node.proved)

    def serialize(self) -> dict:
        """JSON-ready: what the tree view and search records read."""
        return {
            "kind": self.kind.value,
            "state": self.state.printed if self.state is not None else None,
            "tactic": self.tactic,
            "prior": self.prior,
            "reward": self.reward,
            "visits": self.visit_count,
            "value": round(self.mean_value(), 4),
            "net_value": self.net_value,
            "proved": self.proved,
            "terminal": self.terminal,
            "sample_rounds": self.sample_rounds,
            "invalid": sorted(self.invalid_tactics),
            "dead": self.dead,
            "children": [c.serialize() for c in self.children],
        }
