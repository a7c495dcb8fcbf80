"""AND-OR MCTS on hand-built trees: expansions are fed by hand, numbers computed by hand from the
pseudocode in ALGORITHMS.md."""

import math

import pytest

from formal.coq.proof import render_proof
from formal.goal import Goal, GoalState
from search.mcts import MCTS, PROVED_SUBGOAL_SCORE, Expansion, MCTSConfig, TacticOutcome
from search.node import Kind
from search.proof import extract_proof

_ids = iter(range(1000, 10**6))


def st(text: str) -> GoalState:
    return GoalState(next(_ids), (Goal((), text),))


def expand(tree, path, value, *outcomes):
    tree.expand(path, Expansion(value, tuple(TacticOutcome(t, lp, s) for t, lp, s in outcomes)))


def test_min_backup_at_an_and_node():
    """
        root --t--> AND --> g1 (value -3)
                        \\-> g2 (value -5)
    After both subgoals are expanded, the AND node backs up min(-3, -5) = -5, the root -1 + -5 = -6.
    """
    tree = MCTS(st("root"))
    g1, g2 = st("g1"), st("g2")
    expand(tree, [tree.root], -2.0, ("t", 0.0, (g1, g2)))
    and_node = tree.root.children[0]
    assert and_node.kind is Kind.AND and [c.state for c in and_node.children] == [g1, g2]
    path = tree.select()
    assert path == [tree.root, and_node, and_node.children[0]]  # ties go to the first subgoal
    expand(tree, path, -3.0, ("x", 0.0, (st("g1'"),)))
    # g1 backs up -3; the AND node min(1, -3) = -3; the root -1 + -3.
    assert and_node.value_sum == -3.0 and tree.root.value_sum == -2.0 + -4.0
    path = tree.select()
    # At the AND node the visited subgoal (V = -3, Q = 1 - 0.99**2) beats the unvisited one (Q = 1 - 1/0.99).
    assert path[-1] is and_node.children[0].children[0]
    # Send a simulation into g2 by hand to check the min:
    expand(tree, [tree.root, and_node, and_node.children[1]], -5.0, ("y", 0.0, (st("g2'"),)))
    assert and_node.value_sum == -3.0 + -5.0  # min(1, -3, -5)
    assert tree.root.value_sum == -6.0 + (-1 + -5.0)
    assert tree.root.visit_count == 3 and and_node.visit_count == 2
    tree.root.check_invariants()


def test_an_and_node_whose_visited_subgoals_are_proved_backs_up_one():
    """min(1, {}) = 1: the AND node's only visited subgoal is proved."""
    tree = MCTS(st("root"))
    expand(tree, [tree.root], -2.0, ("t", 0.0, (st("a"), st("b"))))
    and_node = tree.root.children[0]
    expand(tree, [tree.root, and_node, and_node.children[0]], -3.0, ("done", 0.0, ()))
    assert and_node.children[0].proved and not and_node.proved
    assert and_node.value_sum == 1.0 and tree.root.value_sum == -2.0 + 0.0
    assert tree.score(and_node, and_node.children[0]) == PROVED_SUBGOAL_SCORE


def test_proved_propagates_to_the_root_and_ends_the_search():
    tree = MCTS(st("root"))
    expand(tree, [tree.root], -2.0, ("split", 0.0, (st("a"), st("b"))), ("auto", -1.0, None))
    and_node = tree.root.children[0]
    assert tree.root.invalid_tactics == {"auto"}
    expand(tree, [tree.root, and_node, and_node.children[0]], -1.0, ("lia", 0.0, ()))
    assert not tree.done
    path = tree.select()
    assert path[-1] is and_node.children[1]  # the proved subgoal is never chosen again
    expand(tree, path, -1.0, ("intro x", 0.0, (st("b'"),)))
    expand(tree, tree.select(), -1.0, ("ring", 0.0, ()))
    assert tree.done and and_node.proved
    tree.root.check_invariants()
    proof = extract_proof(tree.root)
    assert render_proof(proof) == "split.\n{\n  lia.\n}\n{\n  intro x.\n  ring.\n}"
    assert proof.depth() == 3 and proof.size() == 4


def test_duplicate_tactics_add_prior_mass():
    tree = MCTS(st("root"), MCTSConfig(tau=2.0))
    expand(tree, [tree.root], -1.0, ("a", -2.0, (st("x"),)), ("a", -4.0, (st("x"),)), ("b", 0.0, (st("y"),)))
    a, b = tree.root.children
    assert a.prior == pytest.approx(math.exp(-1) + math.exp(-2)) and b.prior == pytest.approx(1.0)
    assert tree.new_tactics(tree.root, ["a", "c", "c", "b"]) == ["c"]
    # A second sampling round at the root: a duplicate of a child adds to it again, nothing is re-run.
    tree.expand([tree.root], Expansion(-1.0, (TacticOutcome("b", -2.0, None),)))
    assert b.prior == pytest.approx(1.0 + math.exp(-1)) and len(tree.root.children) == 2


def test_score_by_hand():
    """Two children, priors 1 and e^-1 (tau 1), parent visited 4 times, child a 2 times with mean -1."""
    cfg = MCTSConfig(tau=1.0, c_base=10.0, c_init=0.5, gamma=0.9)
    tree = MCTS(st("root"), cfg)
    expand(tree, [tree.root], 0.0, ("a", 0.0, (st("x"),)), ("b", -1.0, (st("y"),)))
    a, b = tree.root.children
    tree.root.visit_count, a.visit_count, a.value_sum = 4, 2, -2.0
    c = math.log((4 + 10 + 1) / 10) + 0.5
    total = 1 + math.exp(-1)
    expected_a = 0.9 ** (-1 - (-1 + -1.0)) + c * math.sqrt(4) / 3 * 1 / total
    expected_b = 0.9 ** (-1 - 0.0) + c * math.sqrt(4) / 1 * math.exp(-1) / total
    assert tree.score(tree.root, a) == pytest.approx(expected_a)
    assert tree.score(tree.root, b) == pytest.approx(expected_b)
    # Paper option: unvisited children valued at the parent's network value minus a penalty.
    tree.config = MCTSConfig(tau=1.0, c_base=10.0, c_init=0.5, gamma=0.9, unvisited_penalty=3.0)
    expected_b = 0.9 ** (-1 - (0.0 - 3.0)) + c * math.sqrt(4) / 1 * math.exp(-1) / total
    assert tree.score(tree.root, b) == pytest.approx(expected_b)


def test_progressive_sampling_triggers_at_c_n_alpha():
    """rounds <= C * N^alpha: with C = 0.5, alpha = 0.5, one round is due again at N = 4."""
    tree = MCTS(st("root"), MCTSConfig(progressive_c=0.5, progressive_alpha=0.5))
    expand(tree, [tree.root], -1.0, ("a", 0.0, (st("x"),)))
    for n, due in [(1, False), (3, False), (4, True), (15, True)]:
        tree.root.visit_count = n
        assert tree.progressive_sample(tree.root) is due
    tree.root.visit_count = 4
    assert tree.select() == [tree.root]  # the root samples K more tactics instead of descending
    tree.root.sample_rounds = 2
    assert tree.progressive_sample(tree.root) is False  # 2 <= 0.5 * 2 is false... until N = 16
    # The pseudocode defaults: C = 0.01, alpha = 0.6 -> a second round after ~2,154 visits.
    default = MCTS(st("r"))
    expand(default, [default.root], -1.0, ("a", 0.0, (st("x"),)))
    default.root.visit_count = 2153
    assert not default.progressive_sample(default.root)
    default.root.visit_count = 2155
    assert default.progressive_sample(default.root)


def test_a_leaf_without_valid_tactics_backs_up_the_dead_end_value():
    tree = MCTS(st("root"))
    expand(tree, [tree.root], -1.0, ("a", 0.0, (st("x"),)))
    path = tree.select()
    expand(tree, path, -2.0, ("bad", 0.0, None), ("worse", 0.0, None))
    leaf = path[-1]
    assert leaf.value_sum == -40.0 and leaf.invalid_tactics == {"bad", "worse"}
    assert tree.root.value_sum == -1.0 + (-1 + -40.0)
    # The leaf is dead: not due a progressive sample (1 round <= 0.01 * 1^0.6 is false), nothing below.
    # So is the root, whose only child it is: the search is exhausted after two expansions.
    assert leaf.dead and tree.root.dead and tree.exhausted
    tree.root.check_invariants()


def test_a_dead_end_is_not_entered_again_while_a_sibling_lives():
    r"""
        root --a--> x (dead: every tactic invalid)
             \-b--> y (live)
    Selection goes to y every time, and the dead end costs no further expansion.
    """
    tree = MCTS(st("root"))
    x, y = st("x"), st("y")
    expand(tree, [tree.root], -1.0, ("a", 0.0, (x,)), ("b", -5.0, (y,)))
    node_x = next(c for c in tree.root.children if c.tactic == "a")
    expand(tree, [tree.root, node_x], -2.0, ("bad", 0.0, None))
    assert node_x.dead and not tree.root.dead
    for _ in range(5):
        path = tree.select()
        assert node_x not in path and path[1].state == y
        expand(tree, path, -1.0, (f"t{tree.simulations}", 0.0, (st(f"z{tree.simulations}"),)))
    assert node_x.visit_count == 1
    tree.root.check_invariants()


def test_a_node_due_a_progressive_sample_is_not_dead_though_its_children_are():
    """With C = 1, alpha = 1 an OR node is due a new round while rounds <= N: its dead children do not
    make it dead, and selection stops there to sample again."""
    tree = MCTS(st("root"), MCTSConfig(progressive_c=1.0, progressive_alpha=1.0))
    expand(tree, [tree.root], -1.0, ("a", 0.0, (st("x"),)))
    child = tree.root.children[0]
    tree.root.sample_rounds = 5  # not due at the root: only the child's fate is under test
    expand(tree, [tree.root, child], -1.0, ("bad", 0.0, None))
    assert not child.dead and child.children == []  # 1 round <= 1 * 1: due again
    assert tree.select() == [tree.root, child]


def test_merging_children_that_reach_the_same_state():
    tree = MCTS(st("root"), MCTSConfig(merge_same_states=True, tau=1.0))
    same = Goal((), "x = x")
    expand(tree, [tree.root], -1.0, ("reflexivity'", -1.0, (GoalState(1, (same,)),)),
           ("idtac; simpl", 0.0, (GoalState(2, (same,)),)))
    assert len(tree.root.children) == 1
    assert tree.root.children[0].prior == pytest.approx(math.exp(-1) + 1)


def test_the_tree_view_highlights_the_proof_path(tmp_path):
    from search.treeview import write_tree

    tree = MCTS(st("root ⊢ goal"))
    expand(tree, [tree.root], -2.0, ("split", 0.0, (st("a"), st("b"))), ("auto", -1.0, None), ("simpl", -2.0, (st("c"),)))
    and_node = tree.root.children[0]
    expand(tree, [tree.root, and_node, and_node.children[0]], -1.0, ("lia", 0.0, ()))
    expand(tree, [tree.root, and_node, and_node.children[1]], -1.0, ("ring", 0.0, ()))
    page, data = write_tree(tree.root, tmp_path / "tree", title="t")
    text = page.read_text()
    assert text.count("class='proof'") + text.count("class='and proof'") == 6  # root, AND, a, b, lia, ring
    assert "invalid: auto" in text and "root ⊢ goal" in text and "<b>AND</b> split" in text
    import json

    assert json.loads(data.read_text())["children"][0]["kind"] == "and"
