"""The open goals a failed search leaves (ALGORITHMS.md, TTRL: "lemmas from search").

The deepest unproved goals the search reached are the pieces it got closest to: each, stated with its
hypotheses, is a lemma worth attempting on its own. A goal that shares existential variables with
others (a multi-goal state) has no meaning alone and is skipped.
"""

from __future__ import annotations

from formal.goal import Goal
from search.node import Kind, Node


def open_goals(tree: object, limit: int = 8) -> list[Goal]:
    """Up to `limit` distinct open goals below the root of an AND-OR tree (`MCTS.root`) or an HTPS
    graph (`HTPSGraph`), deepest first (ties: most visited); the root itself is never one."""
    found: list[tuple[int, int, Goal]] = []
    root = getattr(tree, "root", None)
    if isinstance(root, Node):
        for node in root.iter_nodes():
            if (node.kind is Kind.OR and node is not root and node.state is not None and not node.proved
                    and len(node.state.goals) == 1):
                found.append((node.depth, node.visit_count, node.state.goals[0]))
    elif root is not None and hasattr(tree, "nodes"):  # HTPS: a graph; depth = shortest path from the root
        depth, frontier = {root.key: 0}, [root]
        while frontier:
            nxt = []
            for g in frontier:
                for edge in g.edges:
                    for child in edge.children:
                        if child.key not in depth:
                            depth[child.key] = depth[g.key] + 1
                            nxt.append(child)
            frontier = nxt
        for key, d in depth.items():
            g = tree.nodes[key]
            if d and not g.proved and len(g.state.goals) == 1:
                found.append((d, g.visit_count, g.state.goals[0]))
    found.sort(key=lambda x: (-x[0], -x[1]))
    out, seen = [], set()
    for _, _, goal in found:
        if goal.printed not in seen and not goal.evars():
            seen.add(goal.printed)
            out.append(goal)
        if len(out) >= limit:
            break
    return out
