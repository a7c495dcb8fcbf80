"""The replay buffer: verified proofs as transitions, once per game, shortest per problem, FIFO window."""

from __future__ import annotations

from data.records import TracedTactic, TracedTheorem
from train.replay import ReplayBuffer, ReplayConfig


def record(name: str, n: int) -> TracedTheorem:
    tactics = tuple(TracedTactic(f"t{i}", f"{name} state {i}", "", value_target=-(n - i)) for i in range(n))
    return TracedTheorem(name, name, (0, 0), (0, 0), tactics, kind="search")


def test_a_game_counts_once_and_survives_a_restart(tmp_path):
    path = tmp_path / "replay.jsonl"
    buf = ReplayBuffer(path)
    assert buf.add("g1", "p", "prove", record("p", 3))
    assert not buf.add("g1", "p", "prove", record("p", 3))
    assert not buf.add("g2", "p", "prove", record("p", 0))  # no transitions: nothing to learn
    with path.open("a") as f:
        f.write(path.read_text())  # a resumed launch wrote the same game again
        f.write('{"game": "g9", "problem": "p", "rec')  # torn by kill -9
    again = ReplayBuffer(path)
    assert again.has("g1") and not again.has("g9")
    rows = again.transitions()
    assert [r["tactic"] for r in rows] == ["t0", "t1", "t2"]
    assert [r["value_target"] for r in rows] == [-3, -2, -1]


def test_only_the_shortest_proofs_per_problem_and_mode_are_kept(tmp_path):
    buf = ReplayBuffer(tmp_path / "r.jsonl", ReplayConfig(max_proofs_per_problem=2))
    for i, n in enumerate([5, 2, 4, 3]):
        buf.add(f"g{i}", "p", "prove", record("p", n))
    buf.add("d", "p", "disprove", record("p_negation", 6))  # a disproof is its own group
    kept = sorted(e.transitions for e in buf.kept())
    assert kept == [2, 3, 6]


def test_the_window_keeps_the_newest_transitions(tmp_path):
    buf = ReplayBuffer(tmp_path / "r.jsonl", ReplayConfig(capacity=7))
    for i in range(5):
        buf.add(f"g{i}", f"p{i}", "prove", record(f"p{i}", 3))
    assert [e.problem for e in buf.kept()] == ["p3", "p4"] and len(buf) == 6


def test_compaction_rewrites_the_file_with_what_is_kept(tmp_path):
    path = tmp_path / "r.jsonl"
    buf = ReplayBuffer(path, ReplayConfig(capacity=6, compact_factor=2.0))
    for i in range(10):
        buf.add(f"g{i}", f"p{i}", "prove", record(f"p{i}", 3))
    lines = path.read_text().splitlines()
    assert len(lines) <= 5  # never more than compact_factor x the window's transitions (+ one proof)
    again = ReplayBuffer(path, ReplayConfig(capacity=6))
    assert [e.problem for e in again.kept()] == [e.problem for e in buf.kept()] == ["p8", "p9"]
