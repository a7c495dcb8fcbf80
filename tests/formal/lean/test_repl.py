"""The REPL client against a replay of real recorded REPL outputs (no Lean here).

Every `test_replay_*` talks over real pipes to `replay.py`, which answers each recorded command
with the answer the real REPL gave (tests/fixtures/lean-repl). They pin the wire format; what Lean
does with commands nobody recorded is for the live tests (test_live.py).
"""

import json
import os
import subprocess
import time

import pytest

from formal.lean.repl import (
    CommandResponse,
    ErrorResponse,
    LeanREPL,
    Message,
    Pos,
    REPLDied,
    REPLTimeout,
    Sorry,
    TacticResponse,
    limited_argv,
    parse_response,
)
from tests.formal.lean.transcripts import (
    all_transcripts,
    pid_gone,
    recorded,
    replay_argv,
)


def open_replay(name: str, *options: str) -> LeanREPL:
    return LeanREPL(replay_argv(name, *options), memory_mb=4096, default_timeout_s=5.0)


def test_replay_every_recorded_answer_parses_into_a_typed_response():
    kinds = set()
    for name in all_transcripts():
        for _, answer in recorded(name):
            kinds.add(type(parse_response(answer)).__name__)
    assert kinds == {"CommandResponse", "TacticResponse", "ErrorResponse"}


def test_replay_command_environments_and_info_messages():
    with open_replay("def_eval") as r:
        first = r.run_command("def f := 37")
        assert first == CommandResponse(env=0)
        second = r.run_command("#check (rfl : f = 37)", env=0)
        assert second.env == 1
        assert second.messages == (Message("info", Pos(1, 0), Pos(1, 6), "rfl : f = f"),)
        assert second.errors == ()


def test_replay_unknown_environment_is_an_error_response():
    with open_replay("unknown_environment") as r:
        assert r.run_command("def f : Nat := by sorry", env=5) == ErrorResponse("Unknown environment.")


def test_replay_import_header_gives_an_environment():
    with open_replay("import_lean") as r:
        assert r.run_command("import Lean") == CommandResponse(env=0)


def test_replay_sorries_carry_goal_and_proof_state():
    with open_replay("dup_sorries") as r:
        a = r.run_command("theorem thm1 : 1 = 1 := sorry")
        b = r.run_command("theorem thm2 : 2 = 2 := sorry", env=0)
    assert a.sorries == (Sorry("⊢ 1 = 1", 0, Pos(1, 24), Pos(1, 29)),)
    assert b.env == 1 and b.sorries[0].proof_state == 1 and b.sorries[0].goal == "⊢ 2 = 2"
    assert [m.severity for m in a.messages] == ["warning"]


def test_replay_command_errors_with_positions():
    with open_replay("incomplete") as r:
        one = r.run_command("def f : Nat := by apply Nat.succ")
        two = r.run_command("def f (x : Bool) : Nat := by\n  by_cases x\n  { apply Nat.succ }")
    assert one.errors == (Message("error", Pos(1, 15), Pos(1, 32), "unsolved goals\n⊢ Nat"),)
    assert [m.pos for m in two.errors] == [Pos(3, 19), Pos(1, 26)]
    assert "case neg\nx : Bool\nh✝ : ¬x = true\n⊢ Nat" in two.errors[1].data


def test_replay_tactic_steps_to_completion():
    with open_replay("readme") as r:
        root = r.run_command("def f (x : Unit) : Nat := by sorry").sorries[0]
        assert root.goal == "x : Unit\n⊢ Nat"
        step = r.run_tactic("apply Int.natAbs", root.proof_state)
        assert step == TacticResponse(1, ("x : Unit\n⊢ Int",), proof_status="Incomplete: open goals remain")
        done = r.run_tactic("exact -37", step.proof_state)
        assert done.goals == () and done.proof_status == "Completed"


def test_replay_branching_uses_one_proof_state_twice():
    with open_replay("proof_step") as r:
        r.run_command("def f : Nat := by sorry")
        a = r.run_tactic("apply Int.natAbs", 0)
        b = r.run_tactic("have t : Nat := 42", 0)  # the same state again: a second branch
        assert (a.proof_state, a.goals) == (1, ("⊢ Int",))
        assert (b.proof_state, b.goals) == (2, ("t : Nat\n⊢ Nat",))
        assert r.run_tactic("exact t", b.proof_state).proof_status == "Completed"
        assert r.max_proof_state == 3


def test_replay_several_goals_and_proof_status():
    with open_replay("proof_branching") as r:
        r.run_command("theorem complex_and (p q r : Prop) (h1 : p ∧ q) (h2 : q → r) : p ∧ r := by sorry")
        split = r.run_tactic("apply And.intro", 0)
        assert [g.split("\n")[0] for g in split.goals] == ["case left", "case right"]
        left = r.run_tactic("exact h1.left", split.proof_state)
        assert left.goals == (split.goals[1],) and left.proof_status == "Incomplete: open goals remain"
        right = r.run_tactic("apply h2", left.proof_state)
        assert right.goals[0].endswith("⊢ q")
        assert r.run_tactic("exact h1.right", right.proof_state).proof_status == "Completed"


def test_replay_tactic_error_messages_come_with_a_state():
    with open_replay("invalid_tactic") as r:
        r.run_command("theorem my_theorem (x : Nat) : x = x := by sorry")
        resp = r.run_tactic("exact my_fake_premise", 0)
    assert isinstance(resp, TacticResponse) and resp.goals == ()
    assert resp.proof_status == "Incomplete: contains sorry"
    assert resp.errors[0].data == "Unknown identifier `my_fake_premise`"


def test_replay_unparsable_tactic_and_unknown_state_are_error_responses():
    with open_replay("unknown_tactic") as r:
        r.run_command("def f : Nat := by sorry")
        assert r.run_tactic("exat 42", 0) == ErrorResponse("Lean error:\n<input>:1:1: unknown tactic")
    with open_replay("unknown_proof_state") as r:
        r.run_command("def f : Nat := by sorry")
        assert r.run_tactic("exact 42", 1) == ErrorResponse("Unknown proof state.")


def test_replay_proof_status_metavariables_and_kernel_errors():
    with open_replay("app_type_mismatch") as r:
        r.run_command("example : 1 = 0 := sorry")
        r.run_tactic("cases 1", 0)
        r.run_tactic("rfl", 1)
        left = r.run_tactic("apply ?succ", 2)
    assert left.goals == () and left.proof_status == "Incomplete: contains metavariable(s)"
    with open_replay("self_proof_exact_check") as r:
        r.run_command("theorem ex : False := sorry")
        bad = r.run_tactic("exact ex", 0)
    assert bad.goals == () and bad.proof_status.startswith("Error: kernel type check failed")


def test_replay_sorry_in_tactic_mode_gives_a_proof_state_per_goal():
    with open_replay("by_cases") as r:
        r.run_command("theorem foo (x : Int) : x = x := by sorry")
        split = r.run_tactic("by_cases h : x < 0", 0)
        isolated = r.run_tactic("all_goals sorry", split.proof_state)
    assert isolated.goals == () and isolated.proof_status == "Incomplete: contains sorry"
    assert [s.proof_state for s in isolated.sorries] == [3, 4]
    assert tuple(s.goal for s in isolated.sorries) == split.goals
    assert all(s.pos is None for s in isolated.sorries)  # tactic-mode sorries have no position
    with open_replay("tactic_mode_sorry") as r:
        r.run_command("def f : Nat := by sorry")
        resp = r.run_tactic("sorry", 0)
    assert resp.sorries == (Sorry("⊢ Nat", 1),) and resp.proof_state == 2


def test_replay_traces():
    with open_replay("trace_simp") as r:
        r.run_command("def f := 37")
        r.run_command("@[simp] theorem f_def : f = 37 := by rfl", env=0)
        r.run_command("set_option trace.Meta.Tactic.simp true", env=1)
        r.run_command("example : f = 37 := by simp", env=2)
        r.run_command("example : f = 37 := by sorry", env=2)
        assert r.run_tactic('trace "37"', 0).traces == ("37",)


def test_replay_pickling_environments_and_proof_states():
    with open_replay("pickle_environment") as r:
        assert r.run_command("def f := 42").env == 0
        assert r.pickle_env(0, "test/a.olean") == CommandResponse(env=0)
        assert r.unpickle_env("test/a.olean") == CommandResponse(env=1)
        assert r.run_command("example : f = 42 := by rfl", env=1).errors == ()
    with open_replay("pickle_proof_state_1") as r:
        r.run_command("import Lean")
        r.run_command("def f : Nat := by sorry", env=0)
        pickled = r.pickle_proof_state(0, "test/c.olean")  # the REPL answers with a new id
        assert (pickled.proof_state, pickled.goals) == (1, ("⊢ Nat",))
        loaded = r.unpickle_proof_state("test/c.olean")
        assert (loaded.proof_state, loaded.goals) == (2, ("⊢ Nat",))
        step = r.run_tactic("have t : Nat := 42", loaded.proof_state)
        assert step.goals == ("t : Nat\n⊢ Nat",)
    with open_replay("pickle_proof_state_2") as r:  # a new process, from the file alone
        loaded = r.unpickle_proof_state("test/d.olean")
        assert loaded.goals == ("t : Nat\n⊢ Nat",)
        assert r.run_tactic("exact t", loaded.proof_state).proof_status == "Completed"


def test_replay_mathlib_import_header():
    with open_replay("Mathlib/on_goal") as r:
        assert r.run_command("import Mathlib\nopen Real") == CommandResponse(env=0)
        root = r.run_command("example {x : ℝ} (h0: |x| > 1) : (x < 0) ∨ (2 * x > 2) := by sorry", env=0)
    assert root.sorries[0].goal == "x : ℝ\nh0 : |x| > 1\n⊢ x < 0 ∨ 2 * x > 2"


def test_replay_requests_are_one_line_so_newlines_survive(tmp_path):
    """The REPL joins the lines of a block without newlines (recorded: `by\\nsorry` became
    `bysorry`). The client escapes newlines, so Lean sees the text that was sent."""
    log = tmp_path / "requests.jsonl"
    with open_replay("invalid_line_break", "--log", str(log)) as r:
        resp = r.run_command("theorem foo : 1 = 1 := by\nsorry")
    assert isinstance(resp, ErrorResponse) and resp.message.startswith("replay: no recorded command")
    sent = [json.loads(line) for line in log.read_text().splitlines()]
    assert sent == [{"cmd": "theorem foo : 1 = 1 := by\nsorry"}]


def test_replay_non_json_output_is_skipped():
    with open_replay("import_lean", "--noise") as r:
        assert r.run_command("import Lean") == CommandResponse(env=0)


def test_replay_timeout_kills_the_process_group():
    r = open_replay("def_eval", "--sleep-on", "def f", "30")
    t0 = time.monotonic()
    with pytest.raises(REPLTimeout):
        r.run_command("def f := 37", timeout=0.5)
    assert time.monotonic() - t0 < 5
    assert not r.alive and pid_gone(r.pid)
    with pytest.raises(REPLDied):
        r.run_command("def f := 37")
    r.close()


def test_replay_crash_is_repl_died():
    r = open_replay("def_eval", "--crash-on", "def f")
    with pytest.raises(REPLDied, match="exited with code 1"):
        r.run_command("def f := 37")
    r.close()
    assert pid_gone(r.pid)


def test_cannot_start_is_repl_died():
    r = LeanREPL(["/nonexistent/lake", "exe", "repl"], memory_mb=1024)
    with pytest.raises(REPLDied):
        r.run_command("def f := 1", timeout=5)
    r.close()


def test_memory_limit_binds_the_program_and_its_children():
    argv = limited_argv(["/bin/sh", "-c", "sh -c 'ulimit -v'"], memory_mb=1024)
    out = subprocess.run(argv, capture_output=True, text=True, timeout=10, check=True).stdout.strip()
    assert out == str(1024 * 1024)
    assert limited_argv(["lake", "exe", "repl"], None) == ["lake", "exe", "repl"]


def test_replay_close_leaves_nothing_behind():
    r = open_replay("def_eval")
    r.run_command("def f := 37")
    workdir = r.workdir
    r.close()
    assert pid_gone(r.pid) and not r.alive
    assert not os.path.exists(workdir)
