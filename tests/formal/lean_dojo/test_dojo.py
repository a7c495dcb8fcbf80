"""DojoSession against a replay of LeanDojo's recorded results (tests/fixtures/leandojo), plus a
live check, skipped unless lean-dojo, `lake` and a traced repository are there.

The recorded theorem (mathlib4 `pi_eq_sum_univ`):

    ι : Type u_1, [Fintype ι], [DecidableEq ι], R : Type u_2, [Semiring R], x : ι → R
    ⊢ x = ∑ i : ι, x i • fun j => if i = j then 1 else 0
        │ revert x       -> one state: ⊢ ∀ (x : ι → R), ...
        │ hello world!   -> LeanError '<stdin>:1:1: unknown tactic'
        │ sorry          -> ProofGivenUp (our sandbox stops it before LeanDojo)
        └ ext            -> case h, x✝ : ι ⊢ x x✝ = (∑ ...) x✝
                              └ simp -> ProofFinished
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

import pytest

from formal.goal import Hypothesis
from formal.lean.dojo import (
    DojoConfig,
    DojoSession,
    DojoTarget,
    import_lean_dojo,
    map_result,
)
from formal.lean.goals import parse_goals
from formal.result import EnvError, TacticError, TacticOk, TacticTimeout
from formal.session import EnvironmentCrash, InvalidStatement
from tests.formal.lean_dojo.replay import (
    DojoCrashError,
    DojoInitError,
    DojoTacticTimeoutError,
    ProofFinished,
    ReplayFactory,
    load_recording,
)

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "leandojo"
TARGET = DojoTarget(
    url="https://github.com/leanprover-community/mathlib4",
    commit="0" * 40,  # the notebook did not print its commit; the replay never looks at it
    file_path="Mathlib/Algebra/BigOperators/Pi.lean",
    full_name="pi_eq_sum_univ",
)
CONCLUSION = "x = ∑ i : ι, x i • fun j => if i = j then 1 else 0"


def open_replay(**kwargs) -> tuple[DojoSession, ReplayFactory]:
    factory = ReplayFactory(**kwargs)
    return DojoSession(TARGET, DojoConfig(timeout_s=5, max_retries=1), factory=factory), factory


# ---------------------------------------------------------------- recorded results, mapped


def test_replay_initial_state_parses_into_structured_goal():
    s, _ = open_replay()
    (goal,) = s.root.goals
    assert goal.conclusion == CONCLUSION
    assert [h.names for h in goal.hypotheses] == [("ι",), ("inst✝²",), ("inst✝¹",), ("R",), ("inst✝",), ("x",)]
    assert goal.hypotheses[1] == Hypothesis(("inst✝²",), "Fintype ι")
    assert goal.hypotheses[-1] == Hypothesis(("x",), "ι → R")
    assert s.printed(s.root) == load_recording().initial.pp
    assert s.theorem.name == "pi_eq_sum_univ" and s.theorem.backend == "lean"
    assert s.theorem.statement == s.printed(s.root)
    s.close()


def test_replay_tactic_state_maps_to_one_goal_state():
    with open_replay()[0] as s:
        r = s.run_tactic(s.root, "revert x")
        assert isinstance(r, TacticOk) and len(r.states) == 1 and not r.proved
        (goal,) = r.states[0].goals
        assert goal.conclusion == "∀ (x : ι → R), " + CONCLUSION
        assert [h.names[0] for h in goal.hypotheses] == ["ι", "inst✝²", "inst✝¹", "R", "inst✝"]
        assert s.path_of(r.states[0]) == ("revert x",)


def test_replay_case_tag_is_kept_in_the_printed_state_only():
    with open_replay()[0] as s:
        (state,) = s.run_tactic(s.root, "ext").states
        (goal,) = state.goals
        assert s.printed(state).startswith("case h\n")
        assert goal.hypotheses[-1] == Hypothesis(("x✝",), "ι")
        assert goal.conclusion == "x x✝ = (∑ i : ι, x i • fun j => if i = j then 1 else 0) x✝"


def test_replay_lean_error_maps_to_tactic_error():
    with open_replay()[0] as s:
        assert s.run_tactic(s.root, "hello world!") == TacticError("<stdin>:1:1: unknown tactic")


def test_replay_proof_finished_maps_to_no_states():
    with open_replay()[0] as s:
        (state,) = s.run_tactic(s.root, "ext").states
        r = s.run_tactic(state, "simp")
        assert r == TacticOk(()) and r.proved


def test_replay_sorry_is_rejected_before_lean_and_given_up_is_never_a_proof():
    s, factory = open_replay()
    r = s.run_tactic(s.root, "sorry")
    assert isinstance(r, TacticError) and r.rejected
    assert ("run_tac", "sorry") not in factory.log  # the sandbox stopped it
    # Were it to reach LeanDojo, the recorded answer (ProofGivenUp) is a rejection too.
    given_up = s._run(s._node(s.root), "sorry")
    assert isinstance(given_up, TacticError) and given_up.rejected and "sorry" in given_up.message
    s.close()


def test_replay_results_map_by_class_name():
    rec = load_recording()
    answers = {tac: res for (_, tac), res in rec.answers.items()}
    assert map_result(answers["hello world!"]) == ("error", "<stdin>:1:1: unknown tactic")
    assert map_result(answers["sorry"]) == ("given_up", None)
    assert map_result(answers["simp"]) == ("finished", None)
    assert answers["simp"] == ProofFinished(3, "")
    assert map_result(answers["revert x"])[0] == "state"
    with pytest.raises(ValueError):
        map_result(rec.command_initial)  # a CommandState is no tactic result


def test_replay_goals_of_one_state_stay_together():
    """LeanDojo prints every goal of a state, a blank line apart; they make one GoalState."""
    rec = load_recording()
    first = rec.answers[(rec.initial.pp, "revert x")].pp
    second = rec.answers[(rec.initial.pp, "ext")].pp
    goals = parse_goals(f"{first}\n\n{second}")  # two recorded goals, printed as Lean prints a state
    assert len(goals) == 2
    assert goals[0].conclusion.startswith("∀ (x : ι → R)") and goals[1].hypotheses[-1].names == ("x✝",)
    assert parse_goals("no goals") == ()
    assert "\n\n".join(g.printed for g in goals) == f"{first}\n\n{second}"  # Lean's text, kept


def test_replay_states_print_as_lean_printed_them():
    """What the policy reads and the search keys on is LeanDojo's `pp`, case tag included."""
    with open_replay()[0] as s:
        assert s.root.printed == s.printed(s.root) == load_recording().initial.pp
        (state,) = s.run_tactic(s.root, "ext").states
        assert state.printed == s.printed(state) and state.printed.startswith("case h\n")
        assert "⊢ x x✝ = " in state.printed and "=====" not in state.printed


def test_replay_results_are_cached_per_state_and_tactic():
    s, factory = open_replay()
    a = s.run_tactic(s.root, "hello world!")
    b = s.run_tactic(s.root, "  hello world!  ")
    assert a == b and s.stats.cache_hits == 1 and s.stats.tactics == 1
    s.close()


def test_replay_close_ends_the_dojo():
    s, factory = open_replay()
    s.close()
    assert factory.log[-1] == ("exit",) and not factory.opened[0].open
    s.close()  # twice is harmless
    assert factory.log.count(("exit",)) == 1


# ---------------------------------------------------------------- crashes and timeouts (injected)


def test_replay_crash_is_restarted_and_retried():
    s, factory = open_replay(faults={"revert x": DojoCrashError("Unexpected EOF")}, fault_times=1)
    r = s.run_tactic(s.root, "revert x")
    assert isinstance(r, TacticOk) and len(r.states) == 1
    assert s.stats.restarts == 1 and s.stats.env_errors == 0 and len(factory.opened) == 2
    s.close()


def test_replay_persistent_crash_is_an_env_error_never_a_failed_proof():
    s, _ = open_replay(faults={"revert x": DojoCrashError("Unexpected EOF")})
    r = s.run_tactic(s.root, "revert x")
    assert isinstance(r, EnvError) and "DojoCrashError" in r.message and "Unexpected EOF" in r.message
    assert s.stats.env_errors == 1
    # Not cached: the same tactic is tried again later.
    assert isinstance(s.run_tactic(s.root, "revert x"), EnvError) and s.stats.cache_hits == 0
    s.close()


def test_replay_out_of_memory_crash_is_an_env_error():
    s, _ = open_replay(faults={"ext": DojoCrashError("OOM")})
    r = s.run_tactic(s.root, "ext")
    assert isinstance(r, EnvError) and "OOM" in r.message
    s.close()


def test_replay_states_survive_a_crash_by_replaying_their_path():
    s, factory = open_replay(faults={"hello world!": DojoCrashError("Unexpected EOF")})
    (ext_state,) = s.run_tactic(s.root, "ext").states
    assert isinstance(s.run_tactic(s.root, "hello world!"), EnvError)
    r = s.run_tactic(ext_state, "simp")  # the process was replaced: `ext` is replayed first
    assert r.proved and s.stats.replayed == 1
    assert factory.log[-2:] == [("run_tac", "ext"), ("run_tac", "simp")]
    s.close()


def test_replay_timeout_maps_to_tactic_timeout_and_the_session_survives():
    s, factory = open_replay(faults={"ext": DojoTacticTimeoutError()}, fault_times=1)
    (reverted,) = s.run_tactic(s.root, "revert x").states
    r = s.run_tactic(s.root, "ext")
    assert r == TacticTimeout(5.0) and s.stats.timeouts == 1
    assert not factory.opened[0].open  # the process that timed out is not reused
    assert s.run_tactic(s.root, "ext") == r  # a timeout is the tactic's result: cached
    assert s.run_tactic(s.root, "hello world!") == TacticError("<stdin>:1:1: unknown tactic")
    assert len(factory.opened) == 2 and s.stats.restarts == 1
    s.close()


# ---------------------------------------------------------------- opening a Dojo


def test_replay_init_error_for_a_missing_theorem_is_an_invalid_statement():
    err = DojoInitError("Failed to locate the theorem with `pi_eq_sum_univ` as its fully qualified name.")
    with pytest.raises(InvalidStatement, match="Failed to locate"):
        DojoSession(TARGET, DojoConfig(), factory=ReplayFactory(init_error=err))


@pytest.mark.parametrize("err", [DojoInitError("Unexpected EOF"), DojoInitError("Timeout during initialization"),
                                 RuntimeError("git clone failed"), DojoCrashError("Unexpected EOF")])
def test_replay_start_failures_are_environment_crashes(err):
    with pytest.raises(EnvironmentCrash):
        DojoSession(TARGET, DojoConfig(), factory=ReplayFactory(init_error=err))


def test_replay_command_mode_dojo_is_refused():
    factory = ReplayFactory()
    factory.kwargs["initial"] = factory.recording.command_initial
    with pytest.raises(InvalidStatement, match="without a tactic state"):
        DojoSession(TARGET, DojoConfig(), factory=factory)
    assert factory.log[-1] == ("exit",)


# ---------------------------------------------------------------- targets and settings


def test_target_from_the_real_benchmark_record():
    records = json.loads((FIXTURES / "benchmark4_sample.json").read_text(encoding="utf-8"))
    t = DojoTarget.from_record(records[0])
    assert t == DojoTarget("https://github.com/leanprover-community/mathlib4",
                           "29dcec074de168ac2bf835a77ef68bbe069194c5",
                           "Mathlib/RingTheory/IntegralRestrict.lean", "Algebra.intTrace_eq_trace")
    thm = t.theorem()
    assert thm.name == "Algebra.intTrace_eq_trace" and thm.backend == "lean" and "@29dcec07" in thm.source
    local = DojoConfig(local_repos={t.url: "/data/mathlib4"})
    assert t.repository(local) == "/data/mathlib4" and t.repository(DojoConfig()) == t.url
    with pytest.raises(ValueError, match="commit"):
        DojoTarget.from_record({"url": t.url, "file_path": t.file_path, "full_name": t.full_name})
    with pytest.raises(ValueError):
        DojoTarget(t.url, t.commit, "Mathlib/Foo.olean", "x")


def test_config_environment_is_offline_by_default():
    assert DojoConfig().environment() == {"DISABLE_REMOTE_CACHE": "1"}
    env = DojoConfig(cache_dir="/scratch/ld", tmp_dir="/scratch/tmp", num_procs=8, memory_gb=16,
                     disable_remote_cache=False).environment()
    assert env == {"CACHE_DIR": "/scratch/ld", "TMP_DIR": "/scratch/tmp", "NUM_PROCS": "8",
                   "TACTIC_MEMORY_LIMIT": "16g"}
    with pytest.raises(ValueError):
        DojoConfig(timeout_s=0)


def test_import_sets_the_environment_first_and_missing_package_is_an_env_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "lean_dojo", None)  # as if not installed
    monkeypatch.delenv("DISABLE_REMOTE_CACHE", raising=False)
    monkeypatch.delenv("CACHE_DIR", raising=False)
    with pytest.raises(EnvironmentCrash, match="lean-dojo is not installed"):
        import_lean_dojo(DojoConfig(cache_dir="/scratch/ld"))
    assert os.environ["DISABLE_REMOTE_CACHE"] == "1" and os.environ["CACHE_DIR"] == "/scratch/ld"


# ---------------------------------------------------------------- live LeanDojo


@pytest.mark.lean
def test_live_dojo_answers_as_recorded():
    """Replays the recording against a real Dojo. Needs lean-dojo, lake, and the traced mathlib4
    checkout of the demo: PROOFZERO_DOJO_REPO (local path or URL) and PROOFZERO_DOJO_COMMIT."""
    pytest.importorskip("lean_dojo")
    if shutil.which("lake") is None:
        pytest.skip("lake is not on PATH")
    repo, commit = os.environ.get("PROOFZERO_DOJO_REPO"), os.environ.get("PROOFZERO_DOJO_COMMIT")
    if not (repo and commit):
        pytest.skip("set PROOFZERO_DOJO_REPO and PROOFZERO_DOJO_COMMIT to a traced mathlib4")
    target = DojoTarget(repo, commit, TARGET.file_path, TARGET.full_name)
    rec = load_recording()
    with DojoSession(target, DojoConfig(cache_dir=os.environ.get("CACHE_DIR", ""))) as s:
        assert s.printed(s.root) == rec.initial.pp
        (reverted,) = s.run_tactic(s.root, "revert x").states
        assert s.printed(reverted) == rec.answers[(rec.initial.pp, "revert x")].pp
        assert s.run_tactic(s.root, "hello world!") == TacticError(
            rec.answers[(rec.initial.pp, "hello world!")].error)
        (ext_state,) = s.run_tactic(s.root, "ext").states
        assert s.run_tactic(ext_state, "simp").proved
