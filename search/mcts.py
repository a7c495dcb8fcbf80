"""AND-OR MCTS with the AlphaProof pseudocode's semantics (ALGORITHMS.md, "AND-OR MCTS").

The tree knows no backend and no network: `select()` hands out the path to a leaf, the caller asks the
network about the leaf's state and the environment about the sampled tactics, and `expand()` takes the
results back (an `Expansion`) and backs the value up. Tests drive it with hand-made expansions.

    select:   descend by `score` while the node is expanded and not due a `progressive_sample`
    expand:   add each sampled tactic's result (duplicates add prior mass; invalid ones are remembered)
    backup:   value sums and visit counts along the path; min over subgoals at AND nodes; proved flags

Dead ends. The pseudocode backs up -40 from a leaf whose sampled tactics were all invalid, and samples
at an expanded OR node again only when `progressive_sample` says so; it leaves open what selection does
when it reaches such a node again (its `select_child` has no child to pick). Here a node with nothing to
try below is *dead* (an expanded OR node, not due a progressive sample, whose children are all dead --
none at all included; an AND node with a dead subgoal) and selection does not enter it, so a dead end
costs one expansion, not one per visit. It is not revived: its visit count, which would reopen the
progressive-sampling gate, only grows through simulations that enter it. A dead root ends the search
(`exhausted`): every tactic the policy proposed failed and the gate does not ask for more.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from formal.goal import GoalState
from search.node import Kind, Node

PROVED_SUBGOAL_SCORE = -1e9  # an AND node never sends a simulation into a subgoal already proved


@dataclass(frozen=True)
class MCTSConfig:
    """Every constant of the search, with the pseudocode's defaults; paper options off by default."""

    c_base: float = 3200.0
    c_init: float = 0.001
    gamma: float = 0.99
    tau: float = 200.0  # prior = exp(log_prob / tau), unnormalised
    progressive_c: float = 0.01  # sample K more tactics at an OR node while rounds <= C * N^alpha
    progressive_alpha: float = 0.6
    dead_end_value: float = -40.0  # value backed up from a leaf with no valid tactic
    c_and: float = 1.0  # paper option: exploration multiplier at AND nodes (third-party: 64)
    unvisited_penalty: float | None = None  # paper option: unvisited V = V_net(parent) - penalty (else 0)
    merge_same_states: bool = False  # paper option: children reaching the same state (up to hypothesis order) merge

    def __post_init__(self) -> None:
        if self.c_base <= 0 or self.tau <= 0 or not 0 < self.gamma <= 1:
            raise ValueError("c_base and tau must be > 0 and gamma in (0, 1]")
        if self.progressive_c < 0 or self.progressive_alpha < 0:
            raise ValueError("progressive_c and progressive_alpha must be >= 0")


@dataclass(frozen=True)
class TacticOutcome:
    """One sampled tactic and what the environment made of it (`states` None: invalid)."""

    tactic: str
    log_prob: float
    states: tuple[GoalState, ...] | None
    count: float = 1  # samples of this tactic in the expansion: each adds exp(log_prob / tau) of prior


@dataclass(frozen=True)
class Expansion:
    value: float  # the network's value of the leaf's state (expected return, -steps)
    outcomes: tuple[TacticOutcome, ...]


class MCTS:
    def __init__(self, root_state: GoalState, config: MCTSConfig | None = None) -> None:
        self.config = config or MCTSConfig()
        self.root = Node(Kind.OR, root_state, reward=0.0)
        self.simulations = 0

    @property
    def done(self) -> bool:
        """The first proof ends the search."""
        return self.root.proved

    @property
    def exhausted(self) -> bool:
        """Nothing is left to try anywhere in the tree."""
        return self.root.dead

    # -- selection ---------------------------------------------------------------------------
    def select(self) -> list[Node]:
        """The path from the root to the OR node to expand next."""
        node, path = self.root, [self.root]
        while node.expanded and not self.progressive_sample(node):
            live = [c for c in node.children if not c.dead]
            if not live:  # only the root can be dead here (`exhausted`): nothing to descend into
                break
            parent = node
            node = max(live, key=lambda child: self.score(parent, child))
            path.append(node)
        return path

    def progressive_sample(self, node: Node) -> bool:
        c = self.config
        return node.kind is Kind.OR and node.sample_rounds <= c.progressive_c * node.visit_count**c.progressive_alpha

    def score(self, parent: Node, child: Node) -> float:
        c = self.config
        if parent.kind is Kind.AND and child.proved:
            return PROVED_SUBGOAL_SCORE
        n_p = parent.visit_count
        explore = math.log((n_p + c.c_base + 1) / c.c_base) + c.c_init
        total_prior = sum(s.prior for s in parent.children)
        u = explore * math.sqrt(n_p) / (child.visit_count + 1) * child.prior / total_prior
        if parent.kind is Kind.AND:
            u *= c.c_and
        if child.visit_count > 0:
            v = child.reward + child.mean_value()
        elif c.unvisited_penalty is not None and parent.net_value is not None:
            v = parent.net_value - c.unvisited_penalty
        else:
            v = 0.0
        q = c.gamma ** (-1 - v)  # -steps -> (0, 1]
        if parent.kind is Kind.AND:
            q = 1 - q  # visit the hardest subgoal first
        return q + u

    # -- expansion and backup ----------------------------------------------------------------
    def new_tactics(self, node: Node, tactics: list[str]) -> list[str]:
        """The tactics the environment still has to run at `node` (not children, not known invalid)."""
        seen, out = set(), []
        for t in tactics:
            if t not in seen and node.child_for(t) is None and t not in node.invalid_tactics:
                out.append(t)
            seen.add(t)
        return out

    def expand(self, path: list[Node], expansion: Expansion) -> None:
        node = path[-1]
        assert node.kind is Kind.OR and not node.terminal, "only OR nodes with a state are expanded"
        node.expanded = True
        node.sample_rounds += 1
        if node.net_value is None:
            node.net_value = expansion.value
        for outcome in expansion.outcomes:
            # Pseudocode: every sampled tactic adds p = exp(logprob / tau); a tactic drawn c times
            # of K adds c * p. With tau = 200, p is ~0.86-1.0, so the counts carry the policy.
            prior = outcome.count * math.exp(outcome.log_prob / self.config.tau)
            existing = node.child_for(outcome.tactic)
            if existing is not None:  # duplicate samples add prior mass
                existing.prior += prior
                continue
            if outcome.states is None:
                node.invalid_tactics.add(outcome.tactic)
                continue
            if self.config.merge_same_states and (same := self._same_state_child(node, outcome.states)):
                same.prior += prior
                continue
            node.add_tactic_child(outcome.tactic, prior, outcome.states)
        value = expansion.value if node.children else self.config.dead_end_value
        self.backup(path, value)

    def backup(self, path: list[Node], value: float) -> None:
        self.simulations += 1
        v = value
        for node in reversed(path):
            node.value_sum += v
            node.visit_count += 1
            node.update_proved()
            node.dead = self._is_dead(node)
            parent = node.parent
            if parent is None:
                break
            if parent.kind is Kind.AND:
                v = min([1.0] + [c.mean_value() for c in parent.children if not c.proved and c.visit_count > 0])
            else:
                v = node.reward + v

    def _is_dead(self, node: Node) -> bool:
        if node.proved:
            return False
        if node.kind is Kind.AND:
            return any(c.dead for c in node.children)
        return node.expanded and not self.progressive_sample(node) and all(c.dead for c in node.children)

    def _same_state_child(self, node: Node, states: tuple[GoalState, ...]) -> Node | None:
        key = _states_key(states)
        for child in node.children:
            if child.kind is Kind.OR and child.state is not None and _states_key((child.state,)) == key:
                return child
            if child.kind is Kind.AND and _states_key(tuple(c.state for c in child.children)) == key:
                return child
        return None


def _states_key(states: tuple[GoalState, ...]) -> tuple:
    """A state up to the order of its hypotheses (names kept)."""
    return tuple(
        tuple((tuple(sorted(str(h) for h in g.hypotheses)), g.conclusion) for g in s.goals) for s in states
    )
