"""The replay scenarios against a real Lean REPL; skipped unless one is installed.

Needs `lake` on PATH and PROOFZERO_LEAN_PROJECT naming a Lake project where `lake exe repl` runs
(a checkout of leanprover-community/repl, or a project that requires it). Scenarios recorded with
`import Mathlib` also need PROOFZERO_LEAN_MATHLIB=1 (Mathlib built in that project). Lean's message
texts change between versions, so recordings are compared on ids, goals, statuses and severities.
"""

import dataclasses
import os
import shutil

import pytest

from formal.lean.pool import start_warm
from formal.lean.proof import render_proof
from formal.lean.repl import CommandResponse, LeanREPL, parse_response
from formal.lean.session import LeanConfig, LeanSession
from formal.lean.suite import parse_lean_source
from formal.proof import ProofStep as P
from formal.result import TacticOk, TacticTimeout
from tests.formal.lean.transcripts import recorded

PROJECT = os.environ.get("PROOFZERO_LEAN_PROJECT", "")
MATHLIB = os.environ.get("PROOFZERO_LEAN_MATHLIB") == "1"

pytestmark = [
    pytest.mark.lean,
    pytest.mark.skipif(shutil.which("lake") is None or not PROJECT,
                       reason="needs `lake` and PROOFZERO_LEAN_PROJECT (a project where `lake exe repl` runs)"),
]
needs_mathlib = pytest.mark.skipif(not MATHLIB, reason="PROOFZERO_LEAN_MATHLIB=1 not set")

CONFIG = LeanConfig(lean_project=PROJECT, tactic_timeout_s=60, command_timeout_s=300)

CORE = [
    "def_eval", "unknown_environment", "tactic_sorry", "term_sorry", "dup_sorries", "incomplete",
    "invalid_tactic", "unknown_tactic", "unknown_proof_state", "readme", "proof_step", "proof_branching",
    "app_type_mismatch", "self_proof_exact_check", "assumption_proof", "by_cases", "tactic_mode_sorry",
    "variables", "import_lean",
]
MATHLIB_TRANSCRIPTS = ["Mathlib/on_goal", "Mathlib/induction", "Mathlib/exact", "Mathlib/placeholder_synthesis"]


def shape(answer: dict) -> tuple:
    resp = parse_response(answer)
    kind = type(resp).__name__
    if kind == "ErrorResponse":
        return (kind,)
    sorries = tuple((s.goal, s.proof_state) for s in resp.sorries)
    severities = tuple(sorted(m.severity for m in resp.messages))
    if kind == "CommandResponse":
        return kind, resp.env, sorries, severities
    status = (resp.proof_status or "").split(":")[0]
    return kind, resp.proof_state, resp.goals, sorries, severities, status


def replay_live(name: str) -> None:
    with LeanREPL(CONFIG.repl_argv, cwd=PROJECT, memory_mb=CONFIG.memory_mb) as repl:
        for command, answer in recorded(name):
            got = repl.request(command, timeout=600)
            assert shape(got) == shape(answer), (name, command)


@pytest.mark.parametrize("name", CORE)
def test_live_recorded_scenarios(name):
    replay_live(name)


@needs_mathlib
@pytest.mark.parametrize("name", MATHLIB_TRANSCRIPTS)
def test_live_recorded_mathlib_scenarios(name):
    replay_live(name)


def test_live_pickling(tmp_path):
    with LeanREPL(CONFIG.repl_argv, cwd=PROJECT, memory_mb=CONFIG.memory_mb) as repl:
        env = repl.run_command("def f := 42").env
        assert repl.pickle_env(env, str(tmp_path / "a.olean")).env == env
        loaded = repl.unpickle_env(str(tmp_path / "a.olean"))
        assert repl.run_command("example : f = 42 := by rfl", env=loaded.env).errors == ()
        root = repl.run_command("def g : Nat := by sorry").sorries[0]
        step = repl.run_tactic("have t : Nat := 42", root.proof_state)
        repl.pickle_proof_state(step.proof_state, str(tmp_path / "d.olean"))
    with LeanREPL(CONFIG.repl_argv, cwd=PROJECT, memory_mb=CONFIG.memory_mb) as repl:
        again = repl.unpickle_proof_state(str(tmp_path / "d.olean"))
        assert again.goals == ("t : Nat\n⊢ Nat",)
        assert repl.run_tactic("exact t", again.proof_state).proof_status == "Completed"


def compiles(theorem, proof) -> bool:
    """The rendered proof, elaborated in a fresh REPL: no error and no sorry."""
    warm = start_warm(CONFIG.repl_argv, theorem.header, PROJECT, CONFIG.memory_mb, 600)
    try:
        resp = warm.repl.run_command(f"{theorem.declaration()}\n{render_proof(proof, indent=1)}",
                                     env=warm.header_env, timeout=600)
    finally:
        warm.repl.close()
    return isinstance(resp, CommandResponse) and not resp.messages and not resp.sorries


def test_live_session_splits_and_the_rendered_proof_compiles():
    theorem = parse_lean_source(
        "theorem complex_and (p q r : Prop) (h1 : p ∧ q) (h2 : q → r) : p ∧ r := by sorry")
    with LeanSession(theorem, CONFIG) as s:
        left, right = s.run_tactic(s.root, "apply And.intro").states  # real Lean: two states
        assert s.run_tactic(left, "exact h1.left") == TacticOk(())
        (q,) = s.run_tactic(right, "apply h2").states
        assert s.run_tactic(q, "exact h1.right") == TacticOk(())
    proof = P("apply And.intro", (P("exact h1.left"), P("apply h2", (P("exact h1.right"),))))
    assert compiles(theorem, proof)


def test_live_session_by_cases_and_proof():
    theorem = parse_lean_source("theorem foo (x : Int) : x = x := by sorry")
    with LeanSession(theorem, CONFIG) as s:
        pos, neg = s.run_tactic(s.root, "by_cases h : x < 0").states
        assert s.run_tactic(neg, "rfl") == TacticOk(())
        assert s.run_tactic(pos, "rfl") == TacticOk(())
    assert compiles(theorem, P("by_cases h : x < 0", (P("rfl"), P("rfl"))))


def test_live_session_metavariables_stay_together():
    theorem = parse_lean_source("theorem ex2 : ∃ n : Nat, n + 1 = 3 := by sorry")
    with LeanSession(theorem, CONFIG) as s:
        result = s.run_tactic(s.root, "refine ⟨?w, ?_⟩")
        assert isinstance(result, TacticOk) and len(result.states) == 1
        assert len(result.states[0].goals) == 2


def test_live_session_timeout_and_rebuild():
    theorem = parse_lean_source("theorem aa (x : Nat) (h1 : x = 2) : x = 2 := by sorry")
    with LeanSession(theorem, dataclasses.replace(CONFIG, tactic_timeout_s=3)) as s:
        assert s.run_tactic(s.root, "sleep 20000") == TacticTimeout(3)
        assert s.run_tactic(s.root, "assumption") == TacticOk(())
        assert s.stats.restarts == 1


@needs_mathlib
def test_live_session_mathlib():
    theorem = parse_lean_source(
        "import Mathlib\nopen Real\n\ntheorem t (x : ℝ) (h₀ : ∀ y : ℝ, y ^ 2 ≥ 0) : x ^ 2 + 1 > 0 := by sorry")
    with LeanSession(theorem, CONFIG) as s:
        assert s.root.goals[0].hypotheses[0].type == "ℝ"
        assert s.run_tactic(s.root, "positivity") == TacticOk(())
