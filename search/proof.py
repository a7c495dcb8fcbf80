"""The proof a search found: from the proved part of an AND-OR tree to a `ProofStep` tree.

At an OR node take a proved child (the shortest proof below it, by longest branch then size); at an
AND node every child, in goal order. The result is what `formal/*/proof.py` renders for the checker.
"""

from __future__ import annotations

from formal.proof import ProofStep
from search.node import Kind, Node


def extract_proof(node: Node) -> ProofStep:
    """The proof of a proved OR node."""
    if node.kind is not Kind.OR or not node.proved:
        raise ValueError("extract_proof needs a proved OR node")
    best = min((c for c in node.children if c.proved), key=lambda c: _cost(_step(c)))
    return _step(best, node.state.printed, node.state.slots)


def _step(child: Node, state: str = "", slots: tuple[int, ...] = ()) -> ProofStep:
    """The step made by the tactic edge into `child` (terminal, OR or AND) from the printed `state`."""
    if child.terminal:
        return ProofStep(child.tactic, state=state, slots=slots)
    if child.kind is Kind.OR:
        return ProofStep(child.tactic, (extract_proof(child),), state, slots)
    return ProofStep(child.tactic, tuple(extract_proof(g) for g in child.children), state, slots)


def _cost(step: ProofStep) -> tuple[int, int]:
    return step.depth(), step.size()
