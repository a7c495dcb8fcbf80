"""The Lean trusted checker (formal/lean/checker.py).

Lean cannot be installed where this project is developed, so three kinds of test live here:
- pure ones: file assembly, the sandbox scan, the allowlist, and parsing Lean's output formats
  (strings in the exact formats of Lean 4's `#print axioms` and its command-line messages, taken
  from Lean's sources and test outputs);
- process handling against a STAND-IN `lake` (tests/formal/lean/stand_in_lake.py, not Lean): it
  prints output in Lean's formats so that timeouts, kills, temp dirs, argv and the audit markers are
  exercised for real. It proves nothing about Lean itself;
- live ones (`-m lean`), skipped unless `lake` is on PATH and $PROOFZERO_LEAN_PROJECT names a
  Lake project with Mathlib built.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sys
import textwrap
import time
import types
from pathlib import Path

import pytest

import formal.lean
from formal.lean.checker import (
    STANDARD_AXIOMS,
    LeanCheckerConfig,
    LeanToolMissing,
    indent_script,
    judge_axioms,
    lean_file,
    lean_messages,
    parse_axiom_reports,
    script_problem,
    tactic_problem,
    verify_lean_proof,
)
from formal.lean.suite import parse_lean_file
from formal.session import EnvironmentCrash
from formal.theorem import Theorem
from tests.formal.lean.stand_in_lake import write_stand_in_lake

HEADER = "import Mathlib\n\nset_option maxHeartbeats 0\n\nopen BigOperators Real Nat Topology Rat"
THM = Theorem(name="mathd_algebra_10", statement="abs ((120 : ℝ) / 100 * 30 - 130 / 100 * 20) = 10",
              header=HEADER, backend="lean")
NONCE = "PZAUDIT-0123456789abcdef"


# ---------------------------------------------------------------- the file


def test_file_is_header_declaration_indented_script_then_audit():
    text = lean_file(THM, "norm_num [abs_of_nonneg]", NONCE)
    assert text == (
        f"{HEADER}\n\n"
        "theorem mathd_algebra_10 :\n    abs ((120 : ℝ) / 100 * 30 - 130 / 100 * 20) = 10 := by\n"
        "  norm_num [abs_of_nonneg]\n\n"
        f'#print "{NONCE} BEGIN"\n'
        "#print axioms mathd_algebra_10\n"
        f'#print "{NONCE} END"\n'
    )


def test_script_indentation_is_normalised_and_structure_kept():
    script = "\n    intro x\n    cases x with\n    | zero => simp\n    | succ n =>\n      omega\n\n"
    assert indent_script(script) == "  intro x\n  cases x with\n  | zero => simp\n  | succ n =>\n    omega"
    assert indent_script("constructor\n· simp\n\n· ring") == "  constructor\n  · simp\n\n  · ring"
    assert indent_script("intro h\n\texact h") == "  intro h\n    exact h"


def test_file_for_a_real_minif2f_statement(shared_dir):
    thm = parse_lean_file(shared_dir / "benchmarks/minif2f-lean4/MiniF2F/Valid/mathd_algebra_10.lean")
    text = lean_file(thm, "norm_num", NONCE)
    assert text.startswith("import Mathlib\n") and thm.declaration() in text
    assert text.index(":= by\n  norm_num\n") < text.index("#print axioms mathd_algebra_10")


# ---------------------------------------------------------------- the untrusted script


@pytest.mark.parametrize("script", [
    "nlinarith [sq_nonneg (x - y), sq_nonneg (x + y)]",
    "intro h\nomega",
    "have h₀ : x = 1 := by linarith\nsubst h₀\nnorm_num [Finset.sum_range_succ]",
    "rcases h with ⟨a, rfl⟩ | h\n· decide\n· exact h.symm",
    "simp only [Set.mem_def, List.prefix_append, h.end_le]",
    "field_simp\nring_nf",
])
def test_tactic_scripts_pass_the_scan(script):
    assert script_problem(script) is None


@pytest.mark.parametrize("script, why", [
    ("sorry", "sorry"),
    ("  admit", "admit"),
    ("exact sorryAx _ false", "sorryAx"),
    ("set_option debug.skipKernelTC true in\nexact foo", "set_option"),
    ("simp\n#eval IO.println 1", "#eval"),
    ("rfl\n#print axioms mathd_algebra_10", "axioms"),
    ("rfl\n#exit", "#exit"),
    ("rfl\ntheorem x : False := by simp", "theorem"),
    ("exact absurd\naxiom cheat : False", "axiom"),
    ("run_tac do Lean.logInfo \"x\"", "run_tac"),
    ("decide\n@[implemented_by f] def g := 1", "implemented_by"),
    ("decide\nend", "end"),
    ("open Classical in\nexact em p", "open"),
    ("open Real\nnorm_num", "open"),
    ("exact (by simp)\0", "NUL"),
    ("   \n  ", "empty"),
])
def test_commands_and_escapes_are_rejected(script, why, monkeypatch):
    assert script_problem(script) is not None  # by the backend's sandbox, or by the scan
    permissive = types.ModuleType("formal.lean.sandbox")
    permissive.check_script = lambda text: None
    monkeypatch.setitem(sys.modules, "formal.lean.sandbox", permissive)
    monkeypatch.setattr(formal.lean, "sandbox", permissive, raising=False)
    problem = script_problem(script)  # the checker's own scan, alone
    assert problem is not None and why in problem


def test_open_is_refused_in_a_proof_and_allowed_in_the_header():
    """Both layers refuse `open` (and `open X in`) in a proof; the header is the problem's own and is
    never scanned, so miniF2F's `open BigOperators Real Nat Topology Rat` stays in the file."""
    from formal.lean.sandbox import check_script, check_tactic

    for text in ("open Real in norm_num", "open Classical in exact em p"):
        assert "open" in script_problem(text) and "open" in tactic_problem(text, "t")
        assert check_script(text) and check_tactic(text)
    assert script_problem("exact isOpen_univ.inter hU.isOpen") is None  # names containing `open` are fine
    assert "open BigOperators Real Nat Topology Rat" in lean_file(THM, "norm_num", NONCE)


def test_the_backend_sandbox_is_asked_first_and_the_scan_always_runs(monkeypatch):
    stub = types.ModuleType("formal.lean.sandbox")
    stub.check_script = lambda text: "stub: no" if "ring" in text else None
    stub.check_tactic = lambda text, name=None: "stub: not one tactic" if "\n" in text else None
    monkeypatch.setitem(sys.modules, "formal.lean.sandbox", stub)
    monkeypatch.setattr(formal.lean, "sandbox", stub, raising=False)
    assert script_problem("ring_nf") == "stub: no"
    assert "sorry" in script_problem("sorry")  # the stub lets it through; the scan does not
    assert script_problem("norm_num") is None
    assert tactic_problem("intro h\nsimp", "t") == "stub: not one tactic"
    assert tactic_problem("simp", "t") is None


def test_rejected_scripts_never_reach_lean(tmp_path):
    """Rejection comes first: no lake is needed to be told `sorry` is not a proof."""
    cfg = LeanCheckerConfig(project=str(tmp_path), lake="no-such-lake-anywhere")
    v = verify_lean_proof(THM, "sorry", cfg)
    assert (v.verified, v.reason) == (False, "forbidden") and "sorry" in v.message
    assert verify_lean_proof(THM, "", cfg).reason == "invalid_input"
    coq = Theorem(name="t", statement="True", backend="coq")
    assert verify_lean_proof(coq, "trivial", cfg).reason == "invalid_input"


# ---------------------------------------------------------------- Lean's output formats


def test_axiom_reports_in_lean_4_formats():
    # The strings below are Lean 4's own output (Lean's `printAxiomsOf`, its tests, its docs).
    out = "\n".join([
        "'Classical.em' depends on axioms: [Classical.choice, propext, Quot.sound]",
        "'contra' depends on axioms: [sorryAx]",
        "'one_add_one' depends on axioms: [Lean.ofReduceBool, Lean.trustCompiler]",
        "'Nat.add_succ' does not depend on any axioms",
        "'foo'' depends on axioms: [propext]",
    ])
    assert parse_axiom_reports(out) == {
        "Classical.em": ("Classical.choice", "propext", "Quot.sound"),
        "contra": ("sorryAx",),
        "one_add_one": ("Lean.ofReduceBool", "Lean.trustCompiler"),
        "Nat.add_succ": (),
        "foo'": ("propext",),
    }


def test_axiom_report_with_location_prefix_and_wrapped_list():
    # Some Lean versions prefix info messages with their position; a long list wraps after commas.
    out = ("ProofZeroCheck.lean:12:0: info: 'mathd_algebra_10' depends on axioms: [propext,\n"
           " Classical.choice,\n Quot.sound]\n")
    assert parse_axiom_reports(out) == {"mathd_algebra_10": STANDARD_AXIOMS}


def test_error_messages_with_positions_and_continuations():
    f = "/p/.lake/proofzero-check/check-1/ProofZeroCheck.lean"
    out = textwrap.dedent(f"""\
        {f}:8:2: error: unsolved goals
        x : ℕ
        ⊢ x + 0 = x
        {f}:9:4-9:10: error(lean.unknownIdentifier): unknown identifier 'foo'
        {f}:3:0: warning: declaration uses 'sorry'
        Other.lean:1:0: error: not ours
        error: build failed
        """)
    msgs = lean_messages(out)
    assert [(m.line, m.severity) for m in msgs] == [(8, "error"), (9, "error"), (3, "warning")]
    assert msgs[0].text == "unsolved goals\nx : ℕ\n⊢ x + 0 = x"
    assert msgs[1].text == "unknown identifier 'foo'"


@pytest.mark.parametrize("axioms, reason", [
    ((), "verified"),
    (("propext",), "verified"),
    (("propext", "Classical.choice", "Quot.sound"), "verified"),
    (("propext", "sorryAx"), "admitted"),
    (("Lean.ofReduceBool",), "axiom"),
    (("cheat",), "axiom"),
])
def test_allowlist(axioms, reason):
    v = judge_axioms("t", {"t": axioms}, STANDARD_AXIOMS)
    assert v.reason == reason and v.verified == (reason == "verified")
    assert v.assumptions == {"t": axioms} and v.theorems == ("t",)


def test_audit_finds_the_theorem_inside_a_namespace_and_nothing_else():
    assert judge_axioms("t", {"Foo.t": ("propext",)}, STANDARD_AXIOMS).verified
    assert judge_axioms("t", {"other": ()}, STANDARD_AXIOMS).reason == "not_found"
    assert judge_axioms("t", {"A.t": (), "B.t": ()}, STANDARD_AXIOMS).reason == "not_found"
    strict = judge_axioms("t", {"t": ("Classical.choice",)}, ("propext",))
    assert strict.reason == "axiom" and "Classical.choice" in strict.message


def test_config_validation(tmp_path, monkeypatch):
    with pytest.raises(ValueError, match="sorryAx"):
        LeanCheckerConfig(allowed_axioms=("propext", "sorryAx"))
    with pytest.raises(ValueError):
        LeanCheckerConfig(timeout_s=0)
    with pytest.raises(ValueError):
        LeanCheckerConfig(memory_mb=10)
    with pytest.raises(ValueError):
        LeanCheckerConfig(scratch="/tmp/x")
    assert LeanCheckerConfig(memory_mb=None).memory_mb is None
    monkeypatch.delenv("PROOFZERO_LEAN_PROJECT", raising=False)
    with pytest.raises(LeanToolMissing, match="PROOFZERO_LEAN_PROJECT"):
        LeanCheckerConfig().project_dir()
    with pytest.raises(LeanToolMissing, match="not a Lake project"):
        LeanCheckerConfig(project=str(tmp_path)).project_dir()
    (tmp_path / "lakefile.toml").write_text('name = "p"\n')
    monkeypatch.setenv("PROOFZERO_LEAN_PROJECT", str(tmp_path))
    assert LeanCheckerConfig().project_dir() == tmp_path


def test_missing_lake_is_an_environment_error_not_a_verdict(tmp_path):
    (tmp_path / "lakefile.lean").write_text("")
    cfg = LeanCheckerConfig(project=str(tmp_path), lake="no-such-lake-anywhere")
    with pytest.raises(LeanToolMissing, match="not found on PATH") as e:
        verify_lean_proof(THM, "norm_num", cfg)
    assert isinstance(e.value, EnvironmentCrash)  # provers count it as env_error


# ---------------------------------------------------------------- process handling, stand-in lake



@pytest.fixture
def stand_in(tmp_path, monkeypatch):
    """A Lake project dir and a stand-in `lake`; returns (config, log path)."""
    project = tmp_path / "project"
    project.mkdir()
    (project / "lakefile.toml").write_text('name = "checks"\n')
    lake = write_stand_in_lake(tmp_path / "bin" / "lake")
    log = tmp_path / "fake.json"
    monkeypatch.setenv("FAKE_LEAN_LOG", str(log))
    return LeanCheckerConfig(project=str(project), lake=str(lake), timeout_s=20, memory_mb=None), log


def run_stand_in(config, monkeypatch, mode, script="norm_num", theorem=THM):
    monkeypatch.setenv("FAKE_LEAN", mode)
    return verify_lean_proof(theorem, script, config)


def test_stand_in_verified_and_how_lake_was_called(stand_in, monkeypatch):
    cfg, log = stand_in
    v = run_stand_in(cfg, monkeypatch, "verified")
    assert v.verified and v.reason == "verified"
    assert v.assumptions == {"mathd_algebra_10": ("propext", "Classical.choice", "Quot.sound")}
    call = json.loads(log.read_text())
    assert call["argv"][:2] == ["env", "lean"] and call["cwd"] == cfg.project
    file = Path(call["argv"][-1])
    assert file.name == "ProofZeroCheck.lean" and file.parent.parent == Path(cfg.project) / cfg.scratch
    assert not file.parent.exists()  # the temp dir is gone after the check
    assert call["text"].startswith(HEADER) and "  norm_num\n" in call["text"]


@pytest.mark.parametrize("mode, reason", [
    ("no_axioms", "verified"),
    ("located", "verified"),
    ("sorry", "admitted"),
    ("native_decide", "axiom"),
    ("spoof", "admitted"),
    ("error", "compile_error"),
    ("statement_error", "compile_error"),
    ("no_markers", "compile_error"),
    ("killed", "memory"),
])
def test_stand_in_verdicts(stand_in, monkeypatch, mode, reason):
    v = run_stand_in(stand_in[0], monkeypatch, mode)
    assert v.reason == reason, v.message
    assert v.verified == (reason == "verified")


def test_stand_in_error_message_names_the_line(stand_in, monkeypatch):
    v = run_stand_in(stand_in[0], monkeypatch, "error")
    assert v.message.startswith("line 9: linarith failed") and "⊢ False" in v.message
    v = run_stand_in(stand_in[0], monkeypatch, "statement_error")
    assert v.message.startswith("in the statement, line 8: unknown identifier 'foo'")


@pytest.mark.parametrize("mode", ["no_mathlib", "lake_broken"])
def test_stand_in_broken_environment_is_an_environment_error(stand_in, monkeypatch, mode):
    with pytest.raises(LeanToolMissing):
        run_stand_in(stand_in[0], monkeypatch, mode)


def test_stand_in_timeout_kills_the_whole_process_group(stand_in, monkeypatch):
    cfg, log = stand_in
    cfg = LeanCheckerConfig(project=cfg.project, lake=cfg.lake, timeout_s=1.5, memory_mb=None)
    start = time.monotonic()
    v = run_stand_in(cfg, monkeypatch, "hang")
    assert v.reason == "timeout" and time.monotonic() - start < 15
    child = int(Path(str(log) + ".child").read_text())
    for _ in range(50):  # the grandchild was SIGKILLed with its group; give the kernel a moment
        try:
            os.kill(child, 0)
        except ProcessLookupError:
            break
        if Path(f"/proc/{child}/stat").read_text().split(")")[-1].split()[0] == "Z":
            break  # a zombie waiting for init: dead
        time.sleep(0.1)
    else:
        os.kill(child, signal.SIGKILL)
        pytest.fail("the stand-in's child survived the timeout")


def test_stand_in_memory_limit_is_applied(stand_in, monkeypatch, tmp_path):
    """The address-space limit reaches the process lake runs (read back from /proc)."""
    cfg, _ = stand_in
    probe = tmp_path / "limits"
    cfg = LeanCheckerConfig(project=cfg.project, lake=cfg.lake, timeout_s=20, memory_mb=2048)
    monkeypatch.setenv("FAKE_LEAN", "verified")
    monkeypatch.setenv("PYTHONSTARTUP", "")
    original = Path(cfg.lake).read_text()
    dump = f"open({str(probe)!r}, 'w').write(open('/proc/self/limits').read())\n"
    Path(cfg.lake).write_text(original.replace("args = sys.argv[1:]", dump + "args = sys.argv[1:]"))
    assert verify_lean_proof(THM, "norm_num", cfg).verified
    line = next(x for x in probe.read_text().splitlines() if x.startswith("Max address space"))
    assert str(2048 * 2**20) in line


# ---------------------------------------------------------------- live Lean


def _live_config() -> LeanCheckerConfig:
    if shutil.which("lake") is None:
        pytest.skip("lake is not on PATH")
    if not os.environ.get("PROOFZERO_LEAN_PROJECT"):
        pytest.skip("set PROOFZERO_LEAN_PROJECT to a Lake project with Mathlib built")
    return LeanCheckerConfig(timeout_s=600)


LIVE = Theorem(name="pz_live_check", binders="(x y : ℕ) (h : x = y)", statement="x + 0 = y",
               header="import Mathlib", backend="lean")


@pytest.mark.lean
def test_live_honest_proof_verifies():
    v = verify_lean_proof(LIVE, "simp [h]", _live_config())
    assert v.verified, v.message
    assert set(v.assumptions["pz_live_check"]) <= set(STANDARD_AXIOMS)


@pytest.mark.lean
def test_live_wrong_proof_is_a_compile_error():
    v = verify_lean_proof(LIVE, "rfl", _live_config())
    assert v.reason == "compile_error", v.message


@pytest.mark.lean
def test_live_sorry_in_the_header_is_admitted():
    thm = Theorem(name="pz_live_admitted", statement="False", backend="lean",
                  header="import Mathlib\n\ntheorem pz_helper : False := sorry")
    v = verify_lean_proof(thm, "exact pz_helper", _live_config())
    assert v.reason == "admitted", v.message


@pytest.mark.lean
def test_live_native_decide_is_outside_the_allowlist():
    """The sandbox refuses native_decide in a proof; a header lemma using it still shows in the audit."""
    thm = Theorem(name="pz_live_native", statement="2 ^ 10 = 1024", backend="lean",
                  header="import Mathlib\n\ntheorem pz_native : 2 ^ 10 = 1024 := by native_decide")
    v = verify_lean_proof(thm, "exact pz_native", _live_config())
    assert v.reason == "axiom" and "Lean.ofReduceBool" in v.message, v.message
