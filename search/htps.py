"""HyperTree Proof Search (Lample et al. 2022; ALGORITHMS.md "HTPS variant"), the switchable
alternative to the AND-OR MCTS of search/mcts.py.

    graph     one `GoalNode` per distinct goal, keyed by its printed state, so a goal reached twice is
              one node (transpositions). A node's `TacticEdge`s each lead to a tuple of child goals that
              must all be proved (empty: the tactic closes the goal; several: an AND split). An edge whose
              children can reach its parent would close a cycle and is dropped: the graph stays acyclic.
    simulate  from the root, pick one tactic per goal by the policy (PUCT or RPO) and descend into ALL
              the children of that tactic at once: one simulation is a hypertree whose leaves are
              unexpanded (or proved) goals. Virtual loss on the chosen edges steers the next simulations
              elsewhere, so that a batch of leaves goes to the network in one call.
    expand    a leaf's sampled tactics become edges (priors: softmax of their log-probabilities);
              critic from the value head (see below).
    backup    bottom-up along the hypertree: a goal gets the value of the tactic chosen there, the
              product of its children's values (leaf: its critic; proved 1; dead 0); N += 1, W += value.

The critic. HTPS trains a separate critic head on P(provable) (targets: `critic_targets`). The proof
network here has one value head, trained on the return (-steps) of proved states only, so it cannot say
how likely a goal is to be provable. What this variant uses instead -- named `critic=length` in the
config and in every report's budget line -- is a proof-length discount: critic_gamma ** (expected
steps), so the product backup scores a hypertree by critic_gamma ** (total steps to close it). It is
HTPS's search with AlphaProof's value, not HTPS's critic.

Proved propagates up (an edge when all its children are, a goal when one edge is); dead too (an edge
when one child is, a goal when all its edges are). The first proof of the root ends the search. Like
search/mcts.py the graph knows no backend: `run_htps` asks the network and the environment.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

from formal.coq.proof import render_proof
from formal.goal import GoalState
from formal.proof import ProofStep
from formal.result import EnvError, TacticOk
from formal.session import EnvironmentCrash, Session
from search.attempt import Attempt, crashed, search_verdict
from search.mcts import TacticOutcome
from search.policy import Evaluation, PolicyValue

log = logging.getLogger(__name__)

Verify = Callable[[str], tuple[bool, str]]
POLICIES = ("puct", "rpo")


@dataclass(frozen=True)
class HTPSConfig:
    """Every constant of the search, with the defaults of HTPS's published code (Evariste's
    `MCTSParams`: policy "other" = RPO, exploration 5, init_tactic_scores 0.5) except where noted."""

    k: int = 8  # tactics sampled per expansion
    max_expansions: int = 400  # STATES the policy evaluates (a batched call of 8 states spends 8)
    max_tactics: int = 0  # tactic executions; 0: no limit beyond what the expansions run
    max_env_errors: int = 3  # tactics the environment could not run before the attempt is an env_error
    wall_limit_s: float = 0.0  # safety net only; 0: none
    batch_size: int = 8  # ours (HTPS: 50): leaves per policy call; soft, the last simulation may add a few
    policy: str = "rpo"  # rpo | puct
    exploration: float = 5.0  # c in both policies
    unvisited_q: float = 0.5  # Q of a tactic no simulation has been through yet
    virtual_loss: int = 1  # visits of value 0 added to a chosen edge until its simulation is backed up
    max_stale_simulations: int = 4  # ours: simulations in a row adding no new leaf before a batch goes out
    prior_temperature: float = 1.0  # priors = softmax(log_prob / T) over the K samples (T 1: plain softmax)
    # critic = critic_gamma ** (-v) clipped to [0, 1], v = the value head's expected return (-steps).
    # 0.9 puts a goal ~6.6 tactics from done at 0.5 = unvisited_q, so tried and untried tactics compete
    # on equal terms; and a product of critics is critic_gamma ** (total steps), a proof-size discount.
    critic_gamma: float = 0.9  # ours
    # What the critic is. Only "length" exists: critic_gamma ** (expected steps) from the -steps value
    # head (module docstring). A trained P(provable) head would be a second option.
    critic: str = "length"

    def __post_init__(self) -> None:
        if self.k < 1 or self.max_expansions < 1 or self.max_tactics < 0 or self.max_env_errors < 1:
            raise ValueError("k, max_expansions, max_env_errors must be >= 1; max_tactics >= 0")
        if self.batch_size < 1 or self.max_stale_simulations < 1 or self.virtual_loss < 0 or self.wall_limit_s < 0:
            raise ValueError("batch_size, max_stale_simulations must be >= 1; virtual_loss, wall_limit_s >= 0")
        if self.policy not in POLICIES:
            raise ValueError(f"policy must be one of {', '.join(POLICIES)}, got {self.policy!r}")
        if self.exploration <= 0 or self.prior_temperature <= 0 or not 0 <= self.unvisited_q <= 1:
            raise ValueError("exploration and prior_temperature must be > 0, unvisited_q in [0, 1]")
        if not 0 < self.critic_gamma <= 1:
            raise ValueError("critic_gamma must be in (0, 1]")
        if self.critic != "length":
            raise ValueError(f"critic must be 'length' (the only critic this network has), got {self.critic!r}")

    def budget_text(self) -> str:
        return f"{self.max_expansions} expansions x {self.k} samples, {self.critic} critic"


# -- the graph -------------------------------------------------------------------------------------

@dataclass(slots=True, eq=False)
class TacticEdge:
    """A tactic at `parent`; proved iff every child is, dead iff some child is."""

    tactic: str
    parent: GoalNode
    children: tuple[GoalNode, ...]  # in the order of the tactic's resulting goals
    prior: float  # normalised over the parent's edges
    visit_count: int = 0
    value_sum: float = 0.0
    virtual_count: int = 0  # virtual losses of simulations not yet backed up
    proved: bool = False
    dead: bool = False
    slots: tuple[tuple[int, ...], ...] = ()  # each child's `GoalState.slots` in this tactic's result

    def q(self, unvisited_q: float) -> float:
        """Mean value with virtual losses counted as visits worth 0; an unvisited edge starts from one
        pseudo-visit worth `unvisited_q`."""
        if self.visit_count:
            return self.value_sum / (self.visit_count + self.virtual_count)
        return unvisited_q / (1 + self.virtual_count)

    def mean_value(self) -> float:
        return self.value_sum / self.visit_count if self.visit_count else float(self.proved)


@dataclass(slots=True, eq=False)
class GoalNode:
    """One goal. proved iff some edge is proved; dead iff expanded, unproved and every edge is dead
    (none valid included); visit_count >= the sum over its edges (leaf visits count only here)."""

    state: GoalState
    edges: list[TacticEdge] = field(default_factory=list)  # by prior, highest first
    parents: list[TacticEdge] = field(default_factory=list)  # the edges that lead here
    expanded: bool = False
    proved: bool = False
    dead: bool = False
    net_value: float | None = None  # the value head's expected return (-steps) at expansion
    critic: float | None = None  # P(provable) from net_value
    visit_count: int = 0
    value_sum: float = 0.0
    invalid_tactics: set[str] = field(default_factory=set)  # errors, timeouts, environment failures
    cyclic_tactics: set[str] = field(default_factory=set)  # valid but dropped: they would close a cycle

    @property
    def key(self) -> str:
        return self.state.printed

    def leaf_value(self) -> float:
        """What this node backs up when a simulation stops here."""
        if self.proved or self.dead:
            return float(self.proved)
        assert self.critic is not None, "an unexpanded leaf has no value yet"
        return self.critic

    def value(self) -> float:
        """The soft value: 1 proved, 0 dead, else the mean of what was backed up through it."""
        if self.proved or self.dead:
            return float(self.proved)
        if self.visit_count:
            return self.value_sum / self.visit_count
        return self.critic if self.critic is not None else 0.0


@dataclass(slots=True, eq=False)
class SimNode:
    """One goal of a simulated hypertree: the edge chosen there (None at a leaf) and one SimNode per
    child of that edge."""

    node: GoalNode
    edge: TacticEdge | None = None
    children: list[SimNode] = field(default_factory=list)

    def walk(self) -> Iterator[SimNode]:
        """Pre-order: every parent before its children."""
        stack = [self]
        while stack:
            s = stack.pop()
            yield s
            stack.extend(reversed(s.children))

    def leaves(self) -> list[SimNode]:
        return [s for s in self.walk() if s.edge is None]


# -- the policies (pure functions over one node's edges) ----------------------------------------

def puct_scores(q: Sequence[float], priors: Sequence[float], counts: Sequence[float], c: float) -> list[float]:
    """Q + c * P * sqrt(sum N) / (1 + N)."""
    root = math.sqrt(sum(counts))
    return [qa + c * pa * root / (1 + na) for qa, pa, na in zip(q, priors, counts)]


def rpo_policy(q: Sequence[float], priors: Sequence[float], counts: Sequence[float], c: float) -> list[float]:
    """Grill et al. 2020: pi = argmax_y q.y - lambda_N KL(P, y), in closed form pi = lambda_N P / (alpha - q)
    with alpha found by bisection so that pi sums to 1; lambda_N = c sqrt(sum N) / (sum N + |A|)."""
    total = sum(counts)
    lam = c * math.sqrt(total) / (total + len(q))
    if lam == 0:  # no visits yet: every q is unvisited_q, and pi = P for equal q
        s = sum(priors)
        return [p / s for p in priors]
    lo = max(qa + lam * pa for qa, pa in zip(q, priors))  # sum(pi) >= 1 here
    hi = max(q) + lam  # sum(pi) <= 1 here
    for _ in range(100):
        mid = (lo + hi) / 2
        if sum(lam * pa / (mid - qa) for qa, pa in zip(q, priors)) > 1:
            lo = mid
        else:
            hi = mid
        if hi - lo < 1e-12:
            break
    pi = [lam * pa / (hi - qa) for qa, pa in zip(q, priors)]
    s = sum(pi)
    return [p / s for p in pi]


def product(values: Sequence[float]) -> float:
    """The value of a tactic: the product of its children's values, summed in log space."""
    log_sum = 0.0
    for v in values:
        if v <= 0.0:
            return 0.0
        log_sum += math.log(v)
    return math.exp(log_sum)


def _steps(step: ProofStep) -> Iterator[ProofStep]:
    yield step
    for sub in step.subproofs:
        yield from _steps(sub)


def _argmax(xs: Sequence[float]) -> int:
    return max(range(len(xs)), key=lambda i: (xs[i], -i))  # ties: the earlier (higher-prior) edge


@dataclass
class Batch:
    """What one policy call is for: the leaves to evaluate, and the simulations waiting on them."""

    simulations: list[SimNode] = field(default_factory=list)  # backed up once their leaves are expanded
    stale: list[SimNode] = field(default_factory=list)  # found no new leaf; released, not backed up
    leaves: list[GoalNode] = field(default_factory=list)  # distinct, unexpanded


class HTPSGraph:
    def __init__(self, root_state: GoalState, config: HTPSConfig | None = None) -> None:
        self.config = config or HTPSConfig()
        self.nodes: dict[str, GoalNode] = {}
        self.root = self.node_for(root_state)
        self.simulations = 0  # simulations backed up

    @property
    def done(self) -> bool:
        """The first proof ends the search."""
        return self.root.proved

    @property
    def exhausted(self) -> bool:
        return self.root.dead

    def node_for(self, state: GoalState) -> GoalNode:
        """The node of this goal, shared by every tactic that reaches it."""
        node = self.nodes.get(state.printed)
        if node is None:
            node = self.nodes[state.printed] = GoalNode(state)
        return node

    # -- selection ---------------------------------------------------------------------------------
    def choose(self, node: GoalNode) -> TacticEdge:
        """The tactic the policy picks among the edges not known to be dead (virtual losses counted,
        priors renormalised over those edges). RPO picks argmax pi - N / (1 + sum N), the deterministic
        rule of Grill et al. that makes the visit fractions track pi."""
        c = self.config
        edges = [e for e in node.edges if not e.dead]
        q = [e.q(c.unvisited_q) for e in edges]
        live = sum(e.prior for e in edges)
        priors = [e.prior / live for e in edges]
        counts = [e.visit_count + e.virtual_count for e in edges]
        if c.policy == "rpo":
            pi = rpo_policy(q, priors, counts, c.exploration)
            total = sum(counts)
            return edges[_argmax([p - n / (1 + total) for p, n in zip(pi, counts)])]
        return edges[_argmax(puct_scores(q, priors, counts, c.exploration))]

    def simulate(self) -> SimNode:
        """One hypertree from the root; virtual loss goes on every edge chosen. Stops at goals that are
        unexpanded, proved or dead (in an acyclic graph an unproved, live goal always has an unexpanded
        goal below it)."""
        root = SimNode(self.root)
        stack = [root]
        while stack:
            s = stack.pop()
            node = s.node
            if not node.expanded or node.proved or node.dead:
                continue
            s.edge = self.choose(node)
            s.edge.virtual_count += self.config.virtual_loss
            s.children = [SimNode(child) for child in s.edge.children]
            stack.extend(s.children)
        return root

    def find_leaves_to_expand(self, max_leaves: int) -> Batch:
        """Simulations until `batch_size` distinct unexpanded leaves are pending, cut to `max_leaves`.
        A simulation that adds no new leaf still leaves its virtual loss to steer the next ones away;
        after `max_stale_simulations` of those in a row the batch goes out as it is."""
        batch = Batch()
        pending: dict[str, GoalNode] = {}
        stale = 0
        while len(pending) < min(self.config.batch_size, max_leaves) and not (self.done or self.exhausted):
            sim = self.simulate()
            new = [s.node for s in sim.leaves() if not s.node.expanded and s.node.key not in pending]
            if not new:
                batch.stale.append(sim)
                stale += 1
                if stale >= self.config.max_stale_simulations:
                    break
                continue
            stale = 0
            batch.simulations.append(sim)
            for node in new:
                pending[node.key] = node
        batch.leaves = list(pending.values())[:max_leaves]
        return batch

    def finish(self, batch: Batch) -> None:
        """Back up every simulation whose leaves are all expanded now; release the others (cut by the
        budget, or the search ended mid-batch) and the stale ones (backing those up would count the same
        leaves twice)."""
        for sim in batch.simulations:
            if all(s.node.expanded for s in sim.leaves()):
                self.backup(sim)
            else:
                self.release(sim)
        for sim in batch.stale:
            self.release(sim)

    # -- expansion ---------------------------------------------------------------------------------
    def critic(self, value: float) -> float:
        """The length critic: critic_gamma ** (expected steps) from the value head's -steps, in (0, 1];
        not a probability of being provable (module docstring)."""
        return self.config.critic_gamma ** max(0.0, -value)  # in (0, 1]; a value > 0 counts as 0 steps

    def expand(self, node: GoalNode, value: float, outcomes: Sequence[TacticOutcome]) -> None:
        """Add the sampled tactics' results at `node`. Duplicate samples add prior mass; tactics reaching
        the same children merge into one edge (the likelier tactic kept); invalid and cycle-making
        tactics are remembered, not added. `outcomes`: one per sample, the results of one tactic alike."""
        assert not node.expanded, "a goal is expanded once"
        node.expanded, node.net_value, node.critic = True, value, self.critic(value)
        priors, states = self._priors(outcomes)
        by_children: dict[tuple[str, ...], TacticEdge] = {}
        for tactic in sorted(priors, key=priors.__getitem__, reverse=True):
            result = states[tactic]
            if result is None:
                node.invalid_tactics.add(tactic)
                continue
            keys = tuple(s.printed for s in result)
            if keys in by_children:
                by_children[keys].prior += priors[tactic]
                continue
            if self._closes_cycle(node, keys):
                log.debug("dropped %r: it would close a cycle", tactic)
                node.cyclic_tactics.add(tactic)
                continue
            by_children[keys] = self._add_edge(node, tactic, priors[tactic], result)
        total = sum(e.prior for e in node.edges)
        for e in node.edges:
            e.prior /= total
        node.edges.sort(key=lambda e: -e.prior)
        if any(e.proved for e in node.edges):
            node.proved = True
            self._propagate(node)
        elif all(e.dead for e in node.edges):
            node.dead = True
            self._propagate(node)

    def _add_edge(self, node: GoalNode, tactic: str, prior: float, states: tuple[GoalState, ...]) -> TacticEdge:
        children = tuple(self.node_for(s) for s in states)
        edge = TacticEdge(tactic, node, children, prior, proved=all(c.proved for c in children),
                          dead=any(c.dead for c in children), slots=tuple(s.slots for s in states))
        node.edges.append(edge)
        for child in dict.fromkeys(children):  # a goal twice in one result: one parent entry
            child.parents.append(edge)
        return edge

    def _priors(self, outcomes: Sequence[TacticOutcome]) -> tuple[dict[str, float], dict[str, tuple | None]]:
        """Softmax of log_prob / T over the samples, each sample counted (a tactic drawn c times of K
        weighs c times), duplicates summed; each tactic's result."""
        if not outcomes:
            return {}, {}
        t = self.config.prior_temperature
        top = max(o.log_prob for o in outcomes)
        weights = [o.count * math.exp((o.log_prob - top) / t) for o in outcomes]
        total = sum(weights)
        priors: dict[str, float] = {}
        states: dict[str, tuple | None] = {}
        for o, w in zip(outcomes, weights):
            priors[o.tactic] = priors.get(o.tactic, 0.0) + w / total
            states.setdefault(o.tactic, o.states)
        return priors, states

    def _closes_cycle(self, node: GoalNode, keys: tuple[str, ...]) -> bool:
        """Whether some child is `node` or can already reach it."""
        stack = [self.nodes[k] for k in keys if k in self.nodes]
        seen: set[int] = set()
        while stack:
            n = stack.pop()
            if n is node:
                return True
            if id(n) not in seen:
                seen.add(id(n))
                stack.extend(c for e in n.edges for c in e.children)
        return False

    def _propagate(self, node: GoalNode) -> None:
        """Proved and dead flags, from `node` up through every edge that leads to it."""
        stack = [node]
        while stack:
            n = stack.pop()
            for edge in n.parents:
                parent = edge.parent
                if n.proved and not edge.proved and all(c.proved for c in edge.children):
                    edge.proved = True
                    if not parent.proved:
                        parent.proved = True
                        stack.append(parent)
                if n.dead and not edge.dead:
                    edge.dead = True
                    if not (parent.dead or parent.proved) and all(e.dead for e in parent.edges):
                        parent.dead = True
                        stack.append(parent)

    # -- backup ------------------------------------------------------------------------------------
    def backup(self, sim: SimNode) -> float:
        """Values bottom-up along the hypertree; virtual losses removed. Returns the root's value."""
        self.simulations += 1
        values: dict[int, float] = {}
        for s in reversed(list(sim.walk())):  # children before parents
            if s.edge is None:
                v = s.node.leaf_value()
            else:
                v = product([values[id(child)] for child in s.children])
                s.edge.virtual_count -= self.config.virtual_loss
                s.edge.visit_count += 1
                s.edge.value_sum += v
            s.node.visit_count += 1
            s.node.value_sum += v
            values[id(s)] = v
        return values[id(sim)]

    def release(self, sim: SimNode) -> None:
        """Remove a simulation's virtual losses without backing it up (some leaf was not expanded)."""
        for s in sim.walk():
            if s.edge is not None:
                s.edge.virtual_count -= self.config.virtual_loss

    # -- proofs, training targets, export ------------------------------------------------------------
    def minimal_proofs(self) -> dict[str, ProofStep]:
        """For every proved goal, its smallest proof by (depth, size), each subgoal taking its own."""
        memo: dict[str, tuple[ProofStep, int, int] | None] = {}  # key -> (proof, depth, size)

        def proof_of(node: GoalNode, visiting: frozenset[str]) -> tuple[ProofStep, int, int] | None:
            if node.key in memo:
                return memo[node.key]
            if not node.proved or node.key in visiting:  # the cycle guard; the graph is acyclic anyway
                return None
            best = None
            for edge in (e for e in node.edges if e.proved):
                subs = [proof_of(c, visiting | {node.key}) for c in edge.children]
                if any(sub is None for sub in subs):
                    continue
                depth, size = 1 + max((sub[1] for sub in subs), default=0), 1 + sum(sub[2] for sub in subs)
                if best is None or (depth, size) < best[1:]:
                    placed = tuple(dataclasses.replace(sub[0], slots=slots)
                                   for sub, slots in zip(subs, edge.slots or [()] * len(subs)))
                    best = (ProofStep(edge.tactic, placed, node.key), depth, size)
            memo[node.key] = best
            return best

        for node in self.nodes.values():
            proof_of(node, frozenset())
        return {key: found[0] for key, found in memo.items() if found is not None}

    def proof(self) -> ProofStep:
        if not self.root.proved:
            raise ValueError("the root is not proved")
        return self.minimal_proofs()[self.root.key]

    def critic_targets(self, min_visits: int = 50) -> list[tuple[str, float]]:
        """HTPS's critic training targets: (state, soft value) for goals visited >= min_visits times,
        and every proved goal (value 1)."""
        return [(n.key, n.value()) for n in self.nodes.values()
                if n.proved or (n.expanded and n.visit_count >= min_visits)]

    def serialize(self) -> dict:
        """The graph unfolded into a tree from the root, in the shape of `search.node.Node.serialize()`
        (plus `dead`, `critic`, `cyclic`, and `proof_cost` = [depth, size] of a proved goal's minimal
        proof): a goal is drawn in full once -- goals of the minimal proof on the proof's path -- and
        elsewhere as a leaf with `shared: True`."""
        proofs = self.minimal_proofs()
        on_path = {step.state for step in _steps(proofs[self.root.key])} if self.root.proved else set()
        drawn: set[str] = set()

        def goal_dict(node: GoalNode, via: TacticEdge | None, on_proof: bool) -> dict:
            stats = via if via is not None else node
            d = {"kind": "or", "state": node.key, "tactic": via.tactic if via else None,
                 "prior": via.prior if via else 1.0, "reward": -1.0 if via else 0.0,
                 "visits": stats.visit_count, "value": round(via.mean_value() if via else node.value(), 4),
                 "net_value": node.net_value, "critic": node.critic, "proved": node.proved, "dead": node.dead,
                 "terminal": False, "sample_rounds": int(node.expanded), "invalid": sorted(node.invalid_tactics),
                 "cyclic": sorted(node.cyclic_tactics), "children": [],
                 "proof_cost": [proofs[node.key].depth(), proofs[node.key].size()] if node.key in proofs else None}
            if node.key in drawn or (node.key in on_path and not on_proof):
                d["shared"] = True
                return d
            drawn.add(node.key)
            best = proofs[node.key].tactic if on_proof and node.key in proofs else None
            d["children"] = [edge_dict(e, e.tactic == best) for e in node.edges]
            return d

        def edge_dict(edge: TacticEdge, on_proof: bool) -> dict:
            if len(edge.children) == 1:
                return goal_dict(edge.children[0], edge, on_proof)
            d = {"kind": "and" if edge.children else "or", "state": None, "tactic": edge.tactic,
                 "prior": edge.prior, "reward": -1.0, "visits": edge.visit_count,
                 "value": round(edge.mean_value(), 4), "net_value": None, "critic": None, "proved": edge.proved,
                 "dead": edge.dead, "terminal": not edge.children, "sample_rounds": 0, "invalid": [],
                 "cyclic": [], "children": []}
            d["children"] = [goal_dict(c, None, on_proof) for c in edge.children]
            return d

        return goal_dict(self.root, None, self.root.proved)

    def check_invariants(self) -> None:
        """The flags agree with their definitions, priors are normalised, visits add up, no virtual
        loss is left over (call between batches) and the graph is acyclic."""
        for key, node in self.nodes.items():
            assert key == node.key
            for e in node.edges:
                assert e.parent is node and all(e in c.parents for c in e.children)
                assert e.proved == all(c.proved for c in e.children)
                assert e.dead == any(c.dead for c in e.children)
                assert e.virtual_count == 0
            assert node.proved == any(e.proved for e in node.edges), node.key
            assert node.dead == (node.expanded and not node.proved and all(e.dead for e in node.edges))
            assert not node.edges or abs(sum(e.prior for e in node.edges) - 1) < 1e-9
            assert node.visit_count >= sum(e.visit_count for e in node.edges)
            assert not self._closes_cycle(node, tuple(c.key for e in node.edges for c in e.children))


# -- the prover ----------------------------------------------------------------------------------

@dataclass
class HTPSOutcome:
    graph: HTPSGraph
    proof: ProofStep | None
    expansions: int  # states evaluated by the policy
    tactics: int
    batches: int  # policy calls
    env_errors: list[str]
    stopped_by: str  # proved | expansions | tactics | wall_clock | env_error | exhausted


def run_tactics(session: Session, state: GoalState, evaluation: Evaluation,
                env_errors: list[str]) -> tuple[list[TacticOutcome], int]:
    """Each distinct sampled tactic run once on `state`; one outcome per sample (states None: invalid)."""
    results: dict[str, tuple[GoalState, ...] | None] = {}
    for s in evaluation.tactics:
        if s.tactic in results:
            continue
        result = session.run_tactic(state, s.tactic)
        results[s.tactic] = result.states if isinstance(result, TacticOk) else None
        if isinstance(result, EnvError):
            env_errors.append(result.message)
    return ([TacticOutcome(s.tactic, s.log_prob, results[s.tactic], s.count) for s in evaluation.tactics],
            len(results))


def run_htps(session: Session, policy: PolicyValue, config: HTPSConfig) -> HTPSOutcome:
    """Batches of simulations until the root is proved or a budget is spent (checked between batches;
    the tactic and environment-error budgets also between the leaves of a batch)."""
    graph = HTPSGraph(session.root, config)
    expansions = tactics = batches = 0
    env_errors: list[str] = []
    t0 = time.perf_counter()
    stopped_by = "expansions"
    while not graph.done:
        if graph.exhausted:
            stopped_by = "exhausted"
            break
        if expansions >= config.max_expansions:
            break
        if config.max_tactics and tactics >= config.max_tactics:
            stopped_by = "tactics"
            break
        if config.wall_limit_s and time.perf_counter() - t0 > config.wall_limit_s:
            stopped_by = "wall_clock"
            break
        batch = graph.find_leaves_to_expand(config.max_expansions - expansions)
        evaluations = policy.evaluate([leaf.state.printed for leaf in batch.leaves], config.k)
        expansions += len(batch.leaves)
        batches += 1
        for leaf, evaluation in zip(batch.leaves, evaluations, strict=True):
            if graph.done or len(env_errors) >= config.max_env_errors or (
                    config.max_tactics and tactics >= config.max_tactics):
                break
            outcomes, ran = run_tactics(session, leaf.state, evaluation, env_errors)
            tactics += ran
            graph.expand(leaf, evaluation.value, outcomes)
        graph.finish(batch)
        if len(env_errors) >= config.max_env_errors:
            stopped_by = "env_error"
            break
    if graph.done:
        stopped_by = "proved"
    log.debug("htps: %s after %d expansions in %d batches, %d tactics, %d goals",
              stopped_by, expansions, batches, tactics, len(graph.nodes))
    proof = graph.proof() if graph.done else None
    return HTPSOutcome(graph, proof, expansions, tactics, batches, env_errors, stopped_by)


@dataclass
class HTPSProver:
    """The HTPS search behind the same `prove` contract as `AndOrProver`."""

    policy: PolicyValue
    config: HTPSConfig = field(default_factory=HTPSConfig)
    render: Callable[[ProofStep], str] = render_proof
    last_tree: HTPSGraph | None = None  # the most recent search graph (`serialize()` for tree views)
    last_proof: ProofStep | None = None  # the most recent proof found, states included (for search records)

    def prove(self, name: str, session: Session, verify: Verify) -> Attempt:
        t0 = time.perf_counter()
        try:
            outcome = run_htps(session, self.policy, self.config)
        except EnvironmentCrash as e:
            return crashed(name, t0, e)
        self.last_tree, self.last_proof = outcome.graph, outcome.proof
        env = {"simulations": outcome.graph.simulations, "batches": outcome.batches,
               "graph_nodes": len(outcome.graph.nodes)}
        return search_verdict(name, t0, outcome.proof, self.render, verify, outcome.stopped_by, outcome.env_errors,
                              outcome.expansions, outcome.tactics, env)
