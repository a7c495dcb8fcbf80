"""HTPS (search/htps.py): hand-built graphs fed by hand with numbers computed by hand from
ALGORITHMS.md "HTPS variant", a scripted environment for the budget rules, then real Coq."""

import math

import pytest

from formal.coq.proof import render_proof
from formal.goal import Goal, GoalState
from formal.result import EnvError, TacticError, TacticOk
from formal.session import EnvironmentCrash, SessionStats
from search.attempt import Status
from search.htps import (
    HTPSConfig,
    HTPSGraph,
    HTPSProver,
    product,
    puct_scores,
    rpo_policy,
)
from search.mcts import TacticOutcome
from search.node import Kind, Node
from search.policy import ScriptedPolicy
from tests.conftest import requires_coq

_ids = iter(range(1000, 10**6))
GAMMA = HTPSConfig().critic_gamma


def st(text: str) -> GoalState:
    return GoalState(next(_ids), (Goal((), text),))


def v_for(critic: float) -> float:
    """The value-head output whose critic is `critic` (critic = gamma ** -value)."""
    return -math.log(critic) / math.log(GAMMA)


def name(node) -> str:
    return node.state.goals[0].conclusion


def batch(graph: HTPSGraph, feed: dict, budget: int = 100):
    """One batch: find the leaves, expand each from feed[name] = (critic, [(tactic, log_prob, states)]),
    back up. Returns the batch."""
    b = graph.find_leaves_to_expand(budget)
    for leaf in b.leaves:
        critic, outs = feed[name(leaf)]
        graph.expand(leaf, v_for(critic), [TacticOutcome(t, lp, s) for t, lp, s in outs])
    graph.finish(b)
    return b


# -- policies ---------------------------------------------------------------------------------

def test_config_validates_and_states_its_budget():
    with pytest.raises(ValueError):
        HTPSConfig(policy="ucb")
    with pytest.raises(ValueError):
        HTPSConfig(unvisited_q=1.5)
    assert HTPSConfig(max_expansions=50, k=4).budget_text() == "50 expansions x 4 samples, length critic"
    with pytest.raises(ValueError, match="critic"):
        HTPSConfig(critic="provability")
    assert (HTPSConfig().policy, HTPSConfig().exploration, HTPSConfig().unvisited_q) == ("rpo", 5.0, 0.5)


def test_the_critic_maps_minus_steps_to_a_probability():
    """critic = gamma ** steps: 1 at 0 steps, 0.81 at 2 (gamma 0.9); a positive value counts as 0 steps."""
    g = HTPSGraph(st("r"))
    assert g.critic(0.0) == 1.0 and g.critic(-2.0) == pytest.approx(0.81) and g.critic(5000.0) == 1.0
    assert 0.0 <= g.critic(-1e6) < 1e-9


def test_puct_scores_by_hand_with_unvisited_q():
    """Q + c P sqrt(sum N) / (1 + N); counts include virtual losses."""
    assert puct_scores([0.5, 0.8], [0.6, 0.4], [0, 3], 5.0) == pytest.approx(
        [0.5 + 5 * 0.6 * math.sqrt(3) / 1, 0.8 + 5 * 0.4 * math.sqrt(3) / 4])
    # Through the graph: root --a (P .6)--> x, --b (P .4)--> y; b visited 3 times, W = 2.4.
    g = HTPSGraph(st("root"), HTPSConfig(policy="puct"))
    batch(g, {"root": (0.5, [("a", math.log(0.6), (st("x"),)), ("b", math.log(0.4), (st("y"),))])})
    a, b = g.root.edges
    assert (a.tactic, b.tactic) == ("a", "b") and a.prior == pytest.approx(0.6)
    b.visit_count, b.value_sum = 3, 2.4
    assert a.q(0.5) == 0.5 and b.q(0.5) == pytest.approx(0.8)  # unvisited Q = 0.5
    assert g.choose(g.root) is a  # 0.5 + 5*.6*sqrt(3) = 5.70 > 0.8 + 5*.4*sqrt(3)/4 = 1.67
    a.virtual_count = 1  # a virtual loss: a visit worth 0 next to the unvisited pseudo-visit
    assert a.q(0.5) == 0.25
    b.virtual_count = 1
    assert b.q(0.5) == pytest.approx(2.4 / 4)
    a.virtual_count = b.virtual_count = 0


def test_rpo_sums_to_one_favours_higher_q_and_solves_the_closed_form():
    q, priors, counts = [0.2, 0.7, 0.4], [0.5, 0.2, 0.3], [4, 3, 1]
    pi = rpo_policy(q, priors, counts, 5.0)
    assert sum(pi) == pytest.approx(1.0)
    lam = 5.0 * math.sqrt(8) / (8 + 3)
    alpha = q[0] + lam * priors[0] / pi[0]  # pi = lam P / (alpha - q) with one alpha for every action
    assert all(p == pytest.approx(lam * pa / (alpha - qa)) for p, pa, qa in zip(pi, priors, q))
    # Equal priors and counts: the higher Q gets the larger share.
    even = rpo_policy([0.3, 0.6, 0.9], [1 / 3] * 3, [2, 2, 2], 5.0)
    assert even[0] < even[1] < even[2] and sum(even) == pytest.approx(1.0)
    # No visits yet: lambda = 0, every Q is unvisited_q, pi = P.
    assert rpo_policy([0.5, 0.5], [0.7, 0.3], [0, 0], 5.0) == pytest.approx([0.7, 0.3])


def test_rpo_selection_tracks_pi():
    """argmax pi - N / (1 + sum N): the action furthest below its share of the visits."""
    g = HTPSGraph(st("root"), HTPSConfig(policy="rpo"))
    batch(g, {"root": (0.5, [("a", math.log(0.5), (st("x"),)), ("b", math.log(0.5), (st("y"),))])})
    a, b = g.root.edges
    a.visit_count, a.value_sum, b.visit_count, b.value_sum = 2, 1.8, 2, 0.4  # Q .9 vs .2
    assert g.choose(g.root) is a
    pi = rpo_policy([0.9, 0.2], [0.5, 0.5], [2, 2], 5.0)
    assert pi[0] > pi[1]
    a.visit_count, a.value_sum = 40, 36.0  # a far past its share: b's turn
    pi = rpo_policy([0.9, 0.2], [0.5, 0.5], [40, 2], 5.0)
    assert pi[0] - 40 / 43 < pi[1] - 2 / 43 and g.choose(g.root) is b


# -- backup, virtual loss, proofs ---------------------------------------------------------------

def test_product_backup():
    """
        root --t--> g1 (critic 0.5)
                \\-> g2 (critic 0.4)
    One hypertree descends into both subgoals; the tactic's value is 0.5 * 0.4 = 0.2.
    """
    g = HTPSGraph(st("root"))
    first = batch(g, {"root": (0.9, [("t", 0.0, (st("g1"), st("g2")))])})
    assert [n for n in first.leaves] == [g.root] and len(first.simulations) == 1
    assert g.root.visit_count == 1 and g.root.value_sum == pytest.approx(0.9)
    (t,) = g.root.edges
    b = g.find_leaves_to_expand(100)
    assert [name(n) for n in b.leaves] == ["g1", "g2"] and len(b.simulations) == 1
    for leaf, critic in zip(b.leaves, (0.5, 0.4)):
        g.expand(leaf, v_for(critic), [TacticOutcome("x", 0.0, (st(name(leaf) + "'"),))])
    g.finish(b)
    assert t.visit_count == 1 and t.value_sum == pytest.approx(0.2)
    assert g.root.visit_count == 2 and g.root.value_sum == pytest.approx(0.9 + 0.2)
    g1 = g.nodes[b.leaves[0].key]
    assert g1.visit_count == 1 and g1.value_sum == pytest.approx(0.5) and g1.critic == pytest.approx(0.5)
    assert g.critic_targets() == []  # nothing proved, nothing visited 50 times
    assert dict(g.critic_targets(min_visits=1)) == pytest.approx({g.root.key: 1.1 / 2, g1.key: 0.5, b.leaves[1].key: 0.4})
    assert product([0.5, 0.4]) == pytest.approx(0.2) and product([0.3, 0.0]) == 0.0 and product([]) == 1.0
    g.check_invariants()


def test_virtual_loss_spreads_a_batch_and_is_removed_at_backup():
    """
        root --a (P .6)--> x
             \\-b (P .4)--> y
    Unvisited, both score 0.5; a wins the tie (higher prior). Its virtual loss (Q 0.5 -> 0.25,
    U 5*.6*1/2 = 1.5) sends the next simulation to b (0.5 + 5*.4*1/1 = 2.5): one batch, two leaves.
    """
    g = HTPSGraph(st("root"), HTPSConfig(batch_size=2, policy="puct"))
    batch(g, {"root": (0.5, [("a", math.log(0.6), (st("x"),)), ("b", math.log(0.4), (st("y"),))])})
    a, b = g.root.edges
    found = g.find_leaves_to_expand(100)
    assert [name(n) for n in found.leaves] == ["x", "y"]
    assert a.virtual_count == 1 and b.virtual_count == 1 and a.visit_count == 0
    for leaf, critic in zip(found.leaves, (0.7, 0.3)):
        g.expand(leaf, v_for(critic), [TacticOutcome("s", 0.0, (st(name(leaf) + "'"),))])
    g.finish(found)
    assert a.virtual_count == 0 and b.virtual_count == 0
    assert (a.visit_count, b.visit_count) == (1, 1)
    assert a.value_sum == pytest.approx(0.7) and b.value_sum == pytest.approx(0.3)
    g.check_invariants()


def test_a_batch_whose_leaves_were_not_expanded_only_releases_its_virtual_loss():
    g = HTPSGraph(st("root"), HTPSConfig(batch_size=2))
    batch(g, {"root": (0.5, [("a", 0.0, (st("x"),)), ("b", 0.0, (st("y"),))])})
    found = g.find_leaves_to_expand(1)  # the budget allows one state
    assert len(found.leaves) == 1
    g.finish(found)  # nothing expanded: nothing backed up
    assert all(e.virtual_count == 0 and e.visit_count == 0 for e in g.root.edges)
    assert g.root.visit_count == 1


def test_proved_propagates_through_a_multi_goal_tactic_and_ends_the_search():
    """
        root --split--> a --lia-->  (closed)
                     \\-> b --intro x--> b' --ring--> (closed)
    """
    g = HTPSGraph(st("root"))
    batch(g, {"root": (0.5, [("split", 0.0, (st("a"), st("b"))), ("auto", -1.0, None)])})
    assert g.root.invalid_tactics == {"auto"}
    batch(g, {"a": (0.5, [("lia", 0.0, ())]), "b": (0.5, [("intro x", 0.0, (st("b'"),))])})
    (split,) = g.root.edges
    assert split.children[0].proved and not split.proved and not g.done
    b = g.find_leaves_to_expand(100)
    assert [name(n) for n in b.leaves] == ["b'"]  # the proved subgoal is a leaf worth 1
    g.expand(b.leaves[0], v_for(0.5), [TacticOutcome("ring", 0.0, ())])
    g.finish(b)
    assert split.proved and g.done
    assert split.value_sum == pytest.approx(1 * 0.5 + 1 * 1)  # a proved, then (b' proved) * a
    proof = g.proof()
    assert render_proof(proof) == "split.\n{\n  lia.\n}\n{\n  intro x.\n  ring.\n}"
    assert proof.state == g.root.key and proof.subproofs[1].subproofs[0].state == g.nodes[b.leaves[0].key].key
    g.check_invariants()


def test_the_minimal_proof_is_the_shallowest_then_smallest():
    """
        root --split--> p --done-->, q --done-->        depth 2, size 3
             --one--> m --m-step--> m2 --done-->        depth 3, size 3
             --deep--> d --finish-->                    depth 2, size 2   <- the minimal proof
    """
    g = HTPSGraph(st("root"))
    g.expand(g.root, -1.0, [TacticOutcome("split", 0.0, (st("p"), st("q"))), TacticOutcome("one", -1.0, (st("m"),)),
                            TacticOutcome("deep", -2.0, (st("d"),))])
    split, one, deep = g.root.edges
    p, q = split.children
    for node, tactic, states in [(p, "done", ()), (q, "done", ()), (one.children[0], "m-step", (st("m2"),)),
                                 (deep.children[0], "finish", ())]:
        g.expand(node, -1.0, [TacticOutcome(tactic, 0.0, states)])
    g.expand(g.nodes[st("m2").printed], -1.0, [TacticOutcome("done", 0.0, ())])
    assert g.done and split.proved and one.proved and deep.proved
    assert render_proof(g.proof()) == "deep.\nfinish."
    assert set(g.minimal_proofs()) == {n.key for n in g.nodes.values() if n.proved}
    g.check_invariants()


def test_a_transposition_is_one_node():
    """
        root --a--> x --c--> z
             \\-b--> y --d--> z      (z is one node with two parents)
    Two tactics reaching the same goals at one node are one edge, their priors added.
    """
    g = HTPSGraph(st("root"), HTPSConfig(batch_size=2))
    batch(g, {"root": (0.5, [("a", 0.0, (st("x"),)), ("b", 0.0, (st("y"),)), ("a'", -1.0, (st("x"),))])})
    assert [e.tactic for e in g.root.edges] == ["a", "b"]
    p = [math.exp(0), math.exp(0), math.exp(-1)]
    assert g.root.edges[0].prior == pytest.approx((p[0] + p[2]) / sum(p))
    batch(g, {"x": (0.5, [("c", 0.0, (st("z"),))]), "y": (0.5, [("d", 0.0, (st("z"),))])})
    z = g.nodes[st("z").printed]
    assert len(g.nodes) == 4 and {e.tactic for e in z.parents} == {"c", "d"}
    tree = g.serialize()
    shared = [d for d in _walk(tree) if d.get("shared")]
    assert len(shared) == 1 and shared[0]["state"] == z.key and shared[0]["children"] == []
    g.check_invariants()


def test_a_goal_left_twice_by_one_tactic_is_one_leaf_counted_twice():
    """root --t--> (a, a): one state to evaluate; the tactic's value is critic(a) ** 2 = 0.36."""
    g = HTPSGraph(st("root"))
    a = st("a")
    batch(g, {"root": (0.5, [("t", 0.0, (a, GoalState(next(_ids), a.goals)))])})
    (t,) = g.root.edges
    assert t.children[0] is t.children[1] and t.children[0].parents == [t]
    b = batch(g, {"a": (0.6, [("x", 0.0, (st("a'"),))])})
    assert len(b.leaves) == 1 and t.value_sum == pytest.approx(0.36)
    g.expand(g.nodes[st("a'").printed], -1.0, [TacticOutcome("done", 0.0, ())])
    assert g.done and render_proof(g.proof()) == "t.\n{\n  x.\n  done.\n}\n{\n  x.\n  done.\n}"
    g.check_invariants()


def test_tactics_that_would_close_a_cycle_are_dropped():
    """x --back--> root would close root -> x -> root; `noop` leaves x as it is (a self-loop)."""
    g = HTPSGraph(st("root"))
    root_again = GoalState(next(_ids), g.root.state.goals)
    batch(g, {"root": (0.5, [("a", 0.0, (st("x"),))])})
    x = g.root.edges[0].children[0]
    batch(g, {"x": (0.5, [("back", 0.0, (root_again,)), ("noop", 0.0, (GoalState(next(_ids), x.state.goals),)),
                          ("fwd", 0.0, (st("w"),))])})
    assert [e.tactic for e in x.edges] == ["fwd"] and x.cyclic_tactics == {"back", "noop"}
    assert x.edges[0].prior == pytest.approx(1.0)  # priors renormalised over the kept edges
    g.check_invariants()


def test_a_goal_without_valid_tactics_is_dead_and_so_are_the_tactics_into_it():
    g = HTPSGraph(st("root"))
    g.config = HTPSConfig(batch_size=2)
    batch(g, {"root": (0.5, [("a", 0.0, (st("x"), st("y"))), ("b", 0.0, (st("z"),))])})
    batch(g, {"x": (0.5, [("bad", 0.0, None)]), "y": (0.5, [("s", 0.0, (st("y'"),))])})
    a, b = g.root.edges
    x = a.children[0]
    assert x.dead and x.leaf_value() == 0.0 and a.dead and not g.exhausted
    assert a.value_sum == 0.0  # 0 * critic(y)
    assert g.choose(g.root) is b  # a dead tactic is never chosen again
    batch(g, {"z": (0.5, [])})
    assert g.exhausted and g.root.dead
    g.check_invariants()


def test_serialize_has_the_tree_view_shape_and_critic_targets(tmp_path):
    from search.treeview import write_tree

    g = HTPSGraph(st("root"))
    batch(g, {"root": (0.5, [("split", 0.0, (st("a"), st("b"))), ("simpl", -1.0, (st("c"),)), ("no", -2.0, None)])})
    batch(g, {"a": (0.5, [("lia", 0.0, ())]), "b": (0.5, [("lia", 0.0, ())]), "c": (0.5, [("lia", 0.0, ())])})
    tree = g.serialize()
    assert set(Node(Kind.OR, st("n")).serialize()) <= set(tree)
    assert tree["kind"] == "or" and tree["proved"] and tree["invalid"] == ["no"]
    assert tree["proof_cost"] == [2, 2]  # simpl; lia
    split = next(d for d in tree["children"] if d["tactic"] == "split")
    assert split["kind"] == "and" and [c["kind"] for c in split["children"]] == ["or", "or"]
    assert split["children"][0]["children"][0]["terminal"]
    page, data = write_tree(g, tmp_path / "htps", title="htps")
    assert "<b>AND</b> split" in page.read_text() and data.exists()
    targets = dict(g.critic_targets(min_visits=50))
    assert targets == {n.key: 1.0 for n in g.nodes.values() if n.proved} and g.root.key in targets


def _walk(d):
    yield d
    for c in d["children"]:
        yield from _walk(c)


# -- the prover on a scripted environment: budgets and verdicts ----------------------------------

class ScriptSession:
    """Goals are strings; `moves[(goal, tactic)]` is a tuple of goals, "error" or "env"."""

    def __init__(self, root: str, moves: dict, crash_after: int | None = None):
        self.states: dict[str, GoalState] = {}
        self.root, self.moves, self.stats, self.crash_after, self.ran = self.state(root), moves, SessionStats(), crash_after, 0

    def state(self, text: str) -> GoalState:
        return self.states.setdefault(text, GoalState(len(self.states), (Goal((), text),)))

    def run_tactic(self, state, tactic):
        self.ran += 1
        if self.crash_after is not None and self.ran > self.crash_after:
            raise EnvironmentCrash("coqidetop died")
        move = self.moves.get((state.goals[0].conclusion, tactic), "error")
        if move == "error":
            return TacticError("no")
        if move == "env":
            return EnvError("lost it")
        return TacticOk(tuple(self.state(t) for t in move))

    def close(self):
        pass


CHAIN = {(f"g{i}", "step"): (f"g{i + 1}", f"h{i}") for i in range(30)} | {
    (f"h{i}", "close"): () for i in range(30)} | {("g30", "close"): ()}


def test_the_prover_proves_and_reports_like_the_andor_prover():
    checked = []
    prover = HTPSProver(ScriptedPolicy(["step", "close"]), HTPSConfig(k=2, max_expansions=100))
    attempt = prover.prove("chain", ScriptSession("g27", CHAIN), lambda s: checked.append(s) or (True, "ok"))
    assert attempt.status is Status.PROVED and attempt.message == "verified"
    assert checked == [attempt.proof] and attempt.proof.count("step.") == 3
    assert attempt.env["stopped_by"] == "proved" and attempt.env["graph_nodes"] == len(prover.last_tree.nodes)
    assert {"expansions", "simulations", "batches"} <= set(attempt.env)
    assert prover.last_proof.state == "============================\ng27"
    prover.last_tree.check_invariants()


def test_max_expansions_counts_states_not_calls():
    prover = HTPSProver(ScriptedPolicy(["step", "close", "x"]), HTPSConfig(k=3, max_expansions=7, batch_size=4))
    attempt = prover.prove("chain", ScriptSession("g0", {**CHAIN, ("g0", "close"): "error"}), lambda s: (True, ""))
    assert attempt.status is Status.FAILED and attempt.env["expansions"] == 7
    assert "7 expansions" in attempt.message and attempt.env["batches"] < 7


def test_the_tactic_budget_and_environment_errors():
    prover = HTPSProver(ScriptedPolicy(["step", "close"]), HTPSConfig(k=2, max_tactics=5))
    attempt = prover.prove("chain", ScriptSession("g0", CHAIN), lambda s: (True, ""))
    assert attempt.env["stopped_by"] == "tactics" and 5 <= attempt.tactics_used <= 6
    moves = {("g0", "a"): ("g1",), ("g0", "b"): "env", ("g1", "b"): "env", ("g1", "a"): ("g2",),
             ("g2", "b"): "env"}
    prover = HTPSProver(ScriptedPolicy(["a", "b"]), HTPSConfig(k=2, max_env_errors=2))
    attempt = prover.prove("env", ScriptSession("g0", moves), lambda s: (True, ""))
    assert attempt.status is Status.ENV_ERROR and attempt.message == "lost it"
    attempt = prover.prove("crash", ScriptSession("g0", moves, crash_after=1), lambda s: (True, ""))
    assert attempt.status is Status.ENV_ERROR and "died" in attempt.message


def test_a_graph_with_nothing_left_is_exhausted():
    prover = HTPSProver(ScriptedPolicy(["a"]), HTPSConfig(k=1))
    attempt = prover.prove("dead", ScriptSession("g0", {("g0", "a"): ("g1",)}), lambda s: (True, ""))
    assert attempt.status is Status.FAILED and attempt.env["stopped_by"] == "exhausted"
    assert attempt.env["expansions"] == 2


# -- real Coq: a scripted policy, the trusted checker ----------------------------------------------

COQ_CASES = [  # (theorem, policy)
    ("mathd_numbertheory_3", "rpo"),
    ("mathd_algebra_44", "rpo"),
    ("mathd_algebra_478", "rpo"),
    ("algebra_sqineq_at2malt1", "rpo"),
    ("amc12a_2002_p6", "rpo"),
    ("induction_12dvd4expnp1p20", "rpo"),
    ("induction_12dvd4expnp1p20", "puct"),
]
SPLITS = {"amc12a_2002_p6", "induction_12dvd4expnp1p20"}  # `split` / `induction` leave two goals


@pytest.fixture(scope="module")
def coq():
    """The sample theorems and one warm Coq process shared by the sessions (loading Reals costs seconds)."""
    from formal.coq.pool import ProcessPool
    from formal.coq.session import CoqConfig
    from tests.search.test_andor_coq import sample_theorems

    cfg = CoqConfig()
    with ProcessPool(cfg.argv(), cfg.memory_mb, cfg.start_timeout_s, max_idle=1) as pool:
        yield sample_theorems(), cfg, pool


@requires_coq
@pytest.mark.parametrize("name,policy", COQ_CASES)
def test_htps_proves_samples_on_coq(coq, name, policy):
    from formal.coq.checker import verify_proof
    from formal.coq.session import CoqSession
    from tests.search.test_andor_coq import DISTRACTORS, KNOWN

    theorems, cfg, pool = coq
    theorem = theorems[name]

    def verify(script):
        v = verify_proof(theorem, script)
        return v.verified, v.message

    policy_value = ScriptedPolicy([*KNOWN[name], "reflexivity", "lia", "auto"] + DISTRACTORS, seed=1)
    # The scripted log-probabilities carry no information: flatten the priors (cf. the AND-OR tau 200).
    config = HTPSConfig(k=16, max_expansions=200, policy=policy, prior_temperature=100.0)
    prover = HTPSProver(policy_value, config)
    with CoqSession(theorem, cfg, pool) as session:
        attempt = prover.prove(name, session, verify)
    assert attempt.status is Status.PROVED, attempt.message
    assert "verified" in attempt.message and attempt.env["stopped_by"] == "proved"
    graph = prover.last_tree
    graph.check_invariants()
    assert prover.last_proof.state == graph.root.key
    if name in SPLITS:  # the proof goes through an edge with two children
        assert "{" in attempt.proof
        assert any(len(e.children) == 2 and e.proved for n in graph.nodes.values() for e in n.edges)
