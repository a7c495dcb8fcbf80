"""The matchmaker's weights (each rule, in the pseudocode's order), budgets, plans and its log."""

from __future__ import annotations

import numpy as np
import pytest

from train.matchmaker import BudgetConfig, Game, Matchmaker, MatchmakerConfig

_n = iter(range(1 << 30))


def game(problem: str, status: str, mode: str = "prove") -> Game:
    return Game(f"g{next(_n)}", problem, mode, status, budget=8)


def mm_with(problem: str, statuses: list[str], **kw) -> Matchmaker:
    mm = Matchmaker([problem, "other"], **kw)
    for s in statuses:
        mm.record(game(problem, s, "disprove" if s == "disproved" else "prove"))
    return mm


@pytest.mark.parametrize("statuses, weight", [
    ([], 1.0),  # never tried
    (["failed"] * 7, 1.0),  # fewer than trust_count (8) attempts
    (["failed"] * 8, 0.1),  # never decided in 8
    (["failed"] * 3 + ["disproved"], 0.0),  # a disproof retires it, even under 8 attempts
    (["proved"] * 30 + ["disproved"], 0.0),  # ... and whatever came before
    (["invalid_statement"], 0.0),  # a statement that does not elaborate is retired
    (["proved"] * 12, 1e-3),  # the last 12 all proved
    (["proved"] * 11, 1.0),  # 11 proved: not yet 12 (the pseudocode does not check the count)
    (["failed"] * 8 + ["proved"] * 11, 1.0),  # the last 12 are not all proved
    (["failed"] * 8 + ["proved"] * 12, 1e-3),
    (["proved"] + ["failed"] * 10, 1.0),  # decided once, mixed: interesting
    (["env_error"] * 8, 0.1),  # env errors are attempts that decided nothing
])
def test_weights_follow_the_pseudocode_order(statuses, weight):
    assert mm_with("p", statuses).weight("p") == pytest.approx(weight)


def test_weights_come_from_the_config():
    cfg = MatchmakerConfig(trust_count=2, trust_count_proved=3, undecided_weight=0.25, proved_weight=0.5)
    assert mm_with("p", ["failed", "failed"], cfg=cfg).weight("p") == 0.25
    assert mm_with("p", ["proved"] * 3, cfg=cfg).weight("p") == 0.5


def test_budget_grows_per_recent_failure_up_to_the_cap():
    b = BudgetConfig(start=10, growth=2.0, cap=50, window=4)
    mm = Matchmaker(["p"], budget_cfg=b)
    assert mm.budget("p") == 10
    budgets = []
    for _ in range(6):
        mm.record(game("p", "failed"))
        budgets.append(mm.budget("p"))
    assert budgets == [20, 40, 50, 50, 50, 50]
    for _ in range(4):  # successes push the failures out of the window
        mm.record(game("p", "proved"))
    assert mm.budget("p") == 10
    assert b.reachable and not BudgetConfig(start=250, growth=1.17, cap=16000, window=12).reachable


def test_a_plan_spreads_over_the_pool_and_is_seeded():
    names = [f"p{i}" for i in range(10)]
    mm = Matchmaker(names)
    a = mm.plan(10, np.random.default_rng(1), "r0")
    assert sorted(p.problem for p in a) == names  # no problem twice while others are left
    assert [p.id for p in a] == [f"r0-{i:04d}" for i in range(10)]
    assert a == mm.plan(10, np.random.default_rng(1), "r0")
    assert {p.mode for p in a} == {"prove", "disprove"}
    assert len(mm.plan(25, np.random.default_rng(2), "r1")) == 25  # more than the pool: repeats


def test_retired_problems_are_never_planned():
    mm = Matchmaker(["a", "b"])
    mm.record(game("a", "disproved", "disprove"))
    picks = mm.plan(20, np.random.default_rng(0), "r")
    assert {p.problem for p in picks} == {"b"}
    mm.record(game("b", "invalid_statement"))
    assert mm.plan(5, np.random.default_rng(0), "r") == []


def test_the_log_resumes_and_counts_a_game_once(tmp_path):
    path = tmp_path / "games.jsonl"
    mm = Matchmaker(["a", "b"], path=path)
    g = game("a", "failed")
    assert mm.record(g) and not mm.record(g)
    mm.record(game("b", "proved"))
    with path.open("a") as f:
        f.write(path.read_text().splitlines()[0] + "\n")  # the same game logged again by a resumed launch
        f.write('{"id": "torn", "probl')  # a line cut by kill -9
    again = Matchmaker(["a", "b"], path=path)
    assert len(again.games) == 2 and again.solved() == {"b"}
    assert again.played(g.id) and not again.played("torn")


@pytest.mark.parametrize("name", ["rl/laptop.yaml", "rl/cluster.yaml"])
def test_the_shipped_rl_configs_load_and_reach_their_budget_cap(name):
    from proofzero.config import load_config
    from proofzero.rl import RLConfig

    cfg = load_config(RLConfig, name)
    assert cfg.budget.reachable and cfg.learner.stage == "rl"
    assert cfg.actors.prover == "andor" and cfg.actors.policy.candidates == "default"
