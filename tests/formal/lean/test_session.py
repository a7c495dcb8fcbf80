"""LeanSession over a replay of recorded REPL outputs: states, AND nodes, verdicts, recovery.

The replay double (replay.py) answers each recorded command with the real REPL's recorded answer
and anything else with an error answer. So these tests follow recorded paths; where the session
sends something nobody recorded (`all_goals sorry` after `apply And.intro`), the double's error
answer exercises the session's fallback, and the test says so.
"""

import json

import pytest

from formal.goal import Goal, Hypothesis
from formal.lean.goals import case_tag, format_goal, judge, mentions_metavariable, parse_goal, parse_goals
from formal.lean.pool import REPLPool
from formal.lean.repl import parse_response
from formal.lean.session import ISOLATE, LeanConfig, LeanSession
from formal.lean.suite import parse_lean_source
from formal.result import EnvError, TacticError, TacticOk, TacticTimeout
from formal.session import EnvironmentCrash, InvalidStatement
from formal.theorem import Theorem
from tests.formal.lean.transcripts import (
    all_transcripts,
    pid_gone,
    recorded,
    replay_argv,
    replay_config,
)

COMPLEX_AND = parse_lean_source(
    "theorem complex_and (p q r : Prop) (h1 : p ∧ q) (h2 : q → r) : p ∧ r := by sorry")
BY_CASES = parse_lean_source("theorem foo (x : Int) : x = x := by sorry")
INDUCTION = parse_lean_source("import Mathlib\n\ntheorem foo (x : Nat) : x = x := by sorry")


def sent(log):
    return [json.loads(line) for line in log.read_text().splitlines()]


# -- goals --------------------------------------------------------------------------------------


def recorded_goal_strings():
    found = []
    for name in all_transcripts():
        for _, answer in recorded(name):
            found += answer.get("goals", [])
            found += [s["goal"] for s in answer.get("sorries", []) if "⊢" in s["goal"]]
    return found


def test_replay_every_recorded_goal_parses_and_prints_back():
    goals = recorded_goal_strings()
    assert len(goals) > 40
    for text in goals:
        goal = parse_goal(text)
        assert goal.conclusion and "⊢" not in goal.conclusion
        assert format_goal(goal, case_tag(text)) == text
        assert goal.printed == text  # what the policy reads: Lean's own text, case tag included
        assert parse_goals(text) == (goal,)


def test_replay_mathlib_goal_strings():
    on_goal = recorded("Mathlib/on_goal")[2][1]["goals"][0]
    assert case_tag(on_goal) == "pos"
    assert parse_goal(on_goal) == Goal(
        (
            Hypothesis(("x",), "ℝ"),
            Hypothesis(("h0",), "|x| > 1"),
            Hypothesis(("h1", "h2"), "x = x"),
            Hypothesis(("h3",), "x < 0"),
        ),
        "x < 0 ∨ 2 * x > 2",
    )
    succ = recorded("Mathlib/induction")[2][1]["goals"][1]
    assert parse_goal(succ).hypotheses == (Hypothesis(("n✝",), "ℕ"), Hypothesis(("a✝",), "n✝ = n✝"))
    variables = recorded("variables")[2][1]["sorries"][0]["goal"]
    assert parse_goal(variables).conclusion == "∃ k, f 2015 = k"
    assert parse_goal(variables).hypotheses[:2] == (Hypothesis(("x", "y"), "Nat"), Hypothesis(("f",), "Nat → Nat"))


def test_goal_layouts_not_in_the_recordings():
    """Constructed in Lean's layout (∀ binders, a let value, a wrapped conclusion): not recorded."""
    text = "f : ℝ → ℝ\nx : ℝ := 2\nh₀ : ∀ (y : ℝ), f y = 2 * y\n⊢ f x =\n    4"
    goal = parse_goal(text)
    assert goal.hypotheses == (
        Hypothesis(("f",), "ℝ → ℝ"),
        Hypothesis(("x",), "ℝ", "2"),
        Hypothesis(("h₀",), "∀ (y : ℝ), f y = 2 * y"),
    )
    assert goal.conclusion == "f x =\n    4"
    assert format_goal(goal) == text
    assert parse_goal("h : let y := 3; y = 3\n⊢ True").hypotheses[0].body is None
    assert parse_goal("no turnstile") == Goal((), "no turnstile")
    assert parse_goals(f"{text}\n\n\ncase b\n⊢ True\n") == (goal, Goal((), "True"))
    assert parse_goals("no goals") == ()


def test_lean_goals_compare_by_structure_and_print_as_lean():
    """`Goal.text` is Lean's print: `printed` shows it, equality ignores it; a Goal without it prints
    in Coq's layout (the Coq backend's, unchanged)."""
    tagged = parse_goal("case pos\nx : Int\nh : x < 0\n⊢ x = x")
    plain = Goal((Hypothesis(("x",), "Int"), Hypothesis(("h",), "x < 0")), "x = x")
    assert tagged == plain and hash(tagged) == hash(plain)
    assert tagged.printed == "case pos\nx : Int\nh : x < 0\n⊢ x = x"
    assert plain.printed == "x : Int\nh : x < 0\n============================\nx = x"


def test_metavariables_in_goal_text():
    assert mentions_metavariable("⊢ ?w + 1 = 2")
    assert mentions_metavariable("h : f ?m.12 = 0\n⊢ True")
    assert not mentions_metavariable("⊢ l.head? = some 3")
    assert not mentions_metavariable("case w\n⊢ ℕ")


# -- verdicts from recorded answers --------------------------------------------------------------


def answer(name, index):
    return parse_response(recorded(name)[index][1])


def test_replay_recorded_answers_as_verdicts():
    assert judge(answer("proof_branching", 4)) == TacticOk(())
    assert judge(answer("readme", 1)) is None  # goals remain: the session makes states
    assert judge(answer("invalid_tactic", 1)) == TacticError("Unknown identifier `my_fake_premise`")
    assert judge(answer("unknown_tactic", 1)) == TacticError("<input>:1:1: unknown tactic")
    assert judge(answer("tactic_mode_sorry", 1)).message.startswith("the tactic admitted a goal")
    kernel = answer("self_proof_exact_check", 2)
    for exact in (True, False):
        assert judge(kernel, exact).message.startswith("the kernel rejects the proof")
    metavariables = answer("app_type_mismatch", 4)
    assert isinstance(judge(metavariables, exact_status=True), TacticError)
    # In a state made by `all_goals sorry` the status speaks for admitted siblings too.
    assert judge(metavariables, exact_status=False) == TacticOk(())


# -- sessions ------------------------------------------------------------------------------------


def test_replay_session_reaches_a_proof():
    theorem = parse_lean_source("theorem aa (x : Nat) (h1 : x  = 2) : x = 2 := by sorry")
    with LeanSession(theorem, replay_config("assumption_proof")) as s:
        assert s.root.goals == (Goal((Hypothesis(("x",), "Nat"), Hypothesis(("h1",), "x = 2")), "x = 2"),)
        assert s.run_tactic(s.root, "assumption") == TacticOk(())
        assert s.stats.tactics == 1


def test_replay_session_splits_goals_into_an_and_node(tmp_path):
    log = tmp_path / "requests.jsonl"
    with LeanSession(BY_CASES, replay_config("by_cases", "--log", str(log))) as s:
        result = s.run_tactic(s.root, "by_cases h : x < 0")
        assert isinstance(result, TacticOk) and len(result.states) == 2
        pos, neg = result.states
        assert pos.goals[0].hypotheses[1] == Hypothesis(("h",), "x < 0")
        assert neg.goals[0].hypotheses[1] == Hypothesis(("h",), "¬x < 0")
        assert s.printed(pos).startswith("case pos\n")
        assert pos.printed == s.printed(pos) == "case pos\nx : Int\nh : x < 0\n⊢ x = x"
        assert s.root.printed == "x : Int\n⊢ x = x"
        assert s.path_of(neg) == ("by_cases h : x < 0",)
        assert s.isolations == 1
        # Each state is the REPL proof state `all_goals sorry` made for its goal (3 and 4).
        assert isinstance(s.run_tactic(neg, "rfl"), TacticError)  # not recorded: an error answer
    assert sent(log) == [
        {"cmd": BY_CASES.declaration() + " sorry"},
        {"tactic": "by_cases h : x < 0", "proofState": 0},
        {"tactic": ISOLATE, "proofState": 1},
        {"tactic": "rfl", "proofState": 4},
    ]


def test_replay_session_keeps_goals_together_when_isolation_fails(tmp_path):
    """`all_goals sorry` was not recorded after `apply And.intro`: the double's error answer makes
    the session keep both goals in one state, and the recorded steps then prove it."""
    log = tmp_path / "requests.jsonl"
    with LeanSession(COMPLEX_AND, replay_config("proof_branching", "--log", str(log))) as s:
        (both,) = s.run_tactic(s.root, "apply And.intro").states
        assert [g.conclusion for g in both.goals] == ["p", "r"]
        assert both.printed == "\n\n".join(recorded("proof_branching")[1][1]["goals"])  # as Lean printed
        (right,) = s.run_tactic(both, "exact h1.left").states
        (q,) = s.run_tactic(right, "apply h2").states
        assert q.goals[0].conclusion == "q"
        assert s.run_tactic(q, "exact h1.right") == TacticOk(())
        assert s.path_of(q) == ("apply And.intro", "exact h1.left", "apply h2")
    assert {"tactic": ISOLATE, "proofState": 1} in sent(log)


def test_replay_session_mathlib_header_and_goals():
    with LeanSession(INDUCTION, replay_config("Mathlib/induction")) as s:
        assert s.root.goals == (Goal((Hypothesis(("x",), "ℕ"),), "x = x"),)
        (both,) = s.run_tactic(s.root, "induction x").states  # isolation not recorded: together
        assert [g.conclusion for g in both.goals] == ["0 = 0", "n✝ + 1 = n✝ + 1"]
        (succ,) = s.run_tactic(both, "next => rfl").states
        assert succ.goals[0].hypotheses == (Hypothesis(("n✝",), "ℕ"), Hypothesis(("a✝",), "n✝ = n✝"))
    theorem = parse_lean_source(
        "import Mathlib\nopen BigOperators\nopen Real\nopen Nat\n\ntheorem mathd_algebra_455\n"
        "  (x : Nat)\n  (h : 2 * (2 * (2 * (2 * x))) = 48) :\n  x = 3 := by sorry")
    with LeanSession(theorem, replay_config("Mathlib/pickle")) as s:
        assert s.root.goals[0].hypotheses[1].type == "2 * (2 * (2 * (2 * x))) = 48"


def test_replay_session_errors_cache_and_sandbox(tmp_path):
    log = tmp_path / "requests.jsonl"
    theorem = parse_lean_source("theorem my_theorem (x : Nat) : x = x := by sorry")
    with LeanSession(theorem, replay_config("invalid_tactic", "--log", str(log))) as s:
        error = s.run_tactic(s.root, "exact my_fake_premise")
        assert error == TacticError("Unknown identifier `my_fake_premise`")
        assert s.run_tactic(s.root, "exact my_fake_premise  -- again") is error
        assert s.stats.cache_hits == 1
        for bad in ("sorry", "exact my_theorem x", "exact?", "set_option maxHeartbeats 0 in rfl"):
            result = s.run_tactic(s.root, bad)
            assert isinstance(result, TacticError) and result.rejected, bad
        assert s.stats.rejected == 4 and s.stats.tactics == 1
    assert len(sent(log)) == 2  # the statement and one tactic: rejected text never reached Lean


def test_replay_session_timeout_kills_and_rebuilds(tmp_path):
    log = tmp_path / "requests.jsonl"
    config = replay_config("proof_branching", "--log", str(log), "--sleep-on", "simp", "30",
                           tactic_timeout_s=0.5)
    with LeanSession(COMPLEX_AND, config) as s:
        (both,) = s.run_tactic(s.root, "apply And.intro").states
        first = s._warm.repl
        assert s.run_tactic(both, "simp") == TacticTimeout(0.5)
        assert s.stats.timeouts == 1 and pid_gone(first.pid)
        assert s.run_tactic(both, "simp") == TacticTimeout(0.5)  # cached: not run again
        (right,) = s.run_tactic(both, "exact h1.left").states  # new process, path replayed
        assert s._warm.repl is not first
        assert (s.stats.restarts, s.stats.replayed, s.stats.timeouts) == (1, 1, 1)
        (q,) = s.run_tactic(right, "apply h2").states
        assert s.run_tactic(q, "exact h1.right") == TacticOk(())
    requests = sent(log)
    assert requests.count({"tactic": "apply And.intro", "proofState": 0}) == 2


def test_replay_session_rebuilds_isolated_states(tmp_path):
    log = tmp_path / "requests.jsonl"
    config = replay_config("by_cases", "--log", str(log), "--sleep-on", "omega", "30", tactic_timeout_s=0.5)
    with LeanSession(BY_CASES, config) as s:
        pos, neg = s.run_tactic(s.root, "by_cases h : x < 0").states
        assert isinstance(s.run_tactic(pos, "omega"), TacticTimeout)
        s.run_tactic(neg, "rfl")  # not recorded; what matters is where it was sent
        assert (s.stats.restarts, s.stats.replayed, s.isolations) == (1, 1, 2)
    assert sent(log)[-4:] == [
        {"cmd": BY_CASES.declaration() + " sorry"},
        {"tactic": "by_cases h : x < 0", "proofState": 0},
        {"tactic": ISOLATE, "proofState": 1},
        {"tactic": "rfl", "proofState": 4},
    ]


def test_replay_session_crash_restarts_and_retries(tmp_path):
    config = replay_config("proof_branching", "--crash-on", "exact h1.left",
                           "--crash-once", str(tmp_path / "crashed"))
    with LeanSession(COMPLEX_AND, config) as s:
        (both,) = s.run_tactic(s.root, "apply And.intro").states
        (right,) = s.run_tactic(both, "exact h1.left").states
        assert right.goals[0].conclusion == "r"
        assert (s.stats.restarts, s.stats.env_errors) == (1, 0)


def test_replay_session_repeated_crash_is_env_error():
    config = replay_config("proof_branching", "--crash-on", "exact h1.left")
    with LeanSession(COMPLEX_AND, config) as s:
        (both,) = s.run_tactic(s.root, "apply And.intro").states
        result = s.run_tactic(both, "exact h1.left")
        assert isinstance(result, EnvError) and "exited with code 1" in result.message
        assert (s.stats.restarts, s.stats.env_errors) == (1, 1)
        assert s.run_tactic(s.root, "apply And.intro").states == (both,)  # the tree survives


def test_replay_invalid_header_and_statement():
    bad_header = Theorem(name="t", statement="True", header="def f : Nat := by apply Nat.succ", backend="lean")
    with pytest.raises(InvalidStatement, match="unsolved goals"):
        LeanSession(bad_header, replay_config("incomplete"))
    with pytest.raises(InvalidStatement, match="no recorded command"):
        LeanSession(Theorem(name="t", statement="1 = 2", backend="lean"), replay_config("incomplete"))


def test_environment_crash_when_the_repl_cannot_start():
    config = LeanConfig(repl_argv=("/nonexistent/lake", "exe", "repl"), memory_mb=1024, command_timeout_s=5)
    with pytest.raises(EnvironmentCrash):
        LeanSession(BY_CASES, config)


def test_replay_pool_loads_the_header_once_per_process():
    config = replay_config("Mathlib/induction")
    with REPLPool(replay_argv("Mathlib/induction"), memory_mb=4096, start_timeout_s=10) as pool:
        with LeanSession(INDUCTION, config, pool=pool) as s:
            assert isinstance(s.run_tactic(s.root, "induction x"), TacticOk)
        with LeanSession(INDUCTION, config, pool=pool) as s:  # same header: the same process
            assert s.root.goals[0].conclusion == "x = x"
        assert (pool.started, pool.reused) == (1, 1)
        other = Theorem(name="t", statement="True", header="import Mathlib\nopen Real", backend="lean")
        with pytest.raises(EnvironmentCrash, match="header refused"):  # not recorded: refused
            LeanSession(other, config, pool=pool)
        assert (pool.started, pool.replaced) == (1, 1)  # the idle process was closed first


def test_config_validation():
    with pytest.raises(ValueError):
        LeanConfig(tactic_timeout_s=0)
    with pytest.raises(ValueError):
        LeanConfig(memory_mb=10)
    with pytest.raises(ValueError):
        LeanConfig(repl_argv=())
    assert LeanConfig(lean_project="/p").project_dir() == "/p"
    with pytest.raises(ValueError):
        LeanSession(Theorem(name="t", statement="True"), LeanConfig())  # a coq theorem


def test_replay_pool_retires_worn_processes():
    with REPLPool(replay_argv("Mathlib/induction"), memory_mb=4096, start_timeout_s=10, max_uses=1) as pool:
        first = pool.acquire("import Mathlib")
        assert first.header_env == 0
        pool.release(first)  # one use is all it may have: closed, not kept
        assert not first.alive
        second = pool.acquire("import Mathlib")
        assert second is not first and (pool.started, pool.reused) == (2, 0)
        pool.release(second)


def test_replay_split_goals_off_keeps_goals_together(tmp_path):
    log = tmp_path / "requests.jsonl"
    config = replay_config("by_cases", "--log", str(log), split_goals=False)
    with LeanSession(BY_CASES, config) as s:
        (both,) = s.run_tactic(s.root, "by_cases h : x < 0").states
        assert len(both.goals) == 2 and s.isolations == 0
    assert {"tactic": ISOLATE, "proofState": 1} not in sent(log)
