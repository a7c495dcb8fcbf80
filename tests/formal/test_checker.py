"""The trusted checker against real Coq: every escape hatch must fail with its own reason.

Small files use only the prelude (a compile plus an audit takes well under a second); Reals is loaded
only where the allowlist itself is under test.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from formal import isolation
from formal.coq import checker
from formal.coq.checker import (
    REALS_AXIOMS,
    Assumptions,
    CheckerConfig,
    Verdict,
    parse_assumptions,
    verify_file,
    verify_proof,
    verify_source,
)
from formal.theorem import Theorem
from tests.conftest import requires_coq

pytestmark = requires_coq

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "coq" / "minif2f_test_samples.v"
FAST = CheckerConfig(timeout_s=20)
STRICT = CheckerConfig(timeout_s=20, trust_header_axioms=False)
REPO = Path(__file__).resolve().parents[2]


def check(src: str, names=None, config: CheckerConfig = FAST) -> Verdict:
    return verify_source(src, names, config)


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "proofzero.cli", "verify", *args],
                          capture_output=True, text=True, cwd=REPO, timeout=120)


# ---------------------------------------------------------------- honest proofs pass


def test_fixture_file_verifies_through_the_cli_with_json():
    p = cli(str(FIXTURE), "--json")
    assert p.returncode == 0, p.stderr
    verdict = json.loads(p.stdout)
    assert verdict["verified"] and verdict["reason"] == "verified"
    assert len(verdict["theorems"]) == 12 and "numbertheory_x5neqy2p4" in verdict["theorems"]
    used = {a for axioms in verdict["assumptions"].values() for a in axioms}
    assert used and used <= set(REALS_AXIOMS)


def test_modules_qualify_names_and_sections_do_not():
    v = check("Module M. Module N. Lemma a : True. exact I. Qed. End N. End M.\n"
              "Section S. Variable h : False. Lemma b : True. exact M.N.a. Qed. End S.")
    assert v.verified and v.theorems == ("M.N.a", "b")


def test_verify_proof_with_reals_bullets_and_selectors():
    thm = Theorem(
        name="two_facts",
        header="From Coq Require Import Reals Lra Lia.\nOpen Scope R_scope.",
        binders="(x : R) (n : nat)",
        statement="(x + 1 > x /\\ (n + 0 = n)%nat) /\\ 2 * x = x + x",
    )
    v = verify_proof(thm, "split.\n2: { lra. }\nsplit.\n- lra.\n- lia.", FAST)
    assert v.verified, v.message
    assert set(v.assumptions["two_facts"]) <= set(REALS_AXIOMS)
    assert verify_proof(thm, "split. all: try lra. split; [lra | lia].", FAST).verified


# ---------------------------------------------------------------- escape hatches in files


@pytest.mark.parametrize(
    "src, reason",
    [
        ("Lemma a : 1 = 2. Proof. Admitted.", "admitted"),
        ("Lemma a : 1 = 2. Proof. admit. Admitted.", "admitted"),
        ("Lemma a : 1 = 2. Proof. give_up. Admitted.", "admitted"),
        ("Lemma a : 1 = 2. Proof. admit. Qed.", "compile_error"),
        ("Lemma a : 1 = 2. Admitted.\nLemma b : 2 = 1. Proof. symmetry. exact a. Qed.", "admitted"),
        ("Axiom cheat : False.\nLemma a : 1 = 2. Proof. destruct cheat. Qed.", "axiom"),
        ("Parameter p : False.\nLemma a : 1 = 2. Proof. destruct p. Qed.", "axiom"),
        ("Hypothesis h : False.\nLemma a : 1 = 2. Proof. destruct h. Qed.", "axiom"),
        ("Module Type T. Parameter p : False. End T.\nDeclare Module X : T.\n"
         "Lemma a : False. exact X.p. Qed.", "axiom"),
        ("Goal False. Admitted.\nLemma a : False. exact Unnamed_thm. Qed.", "axiom"),
        ("Lemma a : 1 = 2. Proof. Abort.", "not_found"),
        ("Definition x := 1.", "not_found"),
    ],
)
def test_escape_hatches_in_files_fail(src, reason):
    v = check(src)
    assert not v.verified
    assert v.reason == reason, v.message


def test_admitted_lemma_is_named():
    v = check("Module M. Lemma a : 1 = 2. Admitted. End M.\nLemma b : 2 = 1. Proof. symmetry. exact M.a. Qed.")
    assert v.reason == "admitted"
    assert v.assumptions == {"M.a": ("M.a",), "b": ("M.a",)}


def test_look_alike_of_an_allowlisted_axiom_is_rejected():
    """The file declares its own `ClassicalDedekindReals.sig_forall_dec`; only the real one passes."""
    v = check(
        "From Coq Require Import Reals Lra.\n"
        "Module ClassicalDedekindReals. Axiom sig_forall_dec : False. End ClassicalDedekindReals.\n"
        "Lemma fake : (1 = 2)%R. Proof. destruct ClassicalDedekindReals.sig_forall_dec. Qed.\n"
        "Lemma real : (1 < 2)%R. Proof. lra. Qed."
    )
    assert v.reason == "axiom" and "fake" in v.message and "declared in the checked file" in v.message
    assert set(v.assumptions["real"]) <= set(REALS_AXIOMS)


def test_verify_file_and_coqchk(tmp_path):
    path = tmp_path / "small.v"
    path.write_text("Lemma a : True. exact I. Qed.\n")
    v = verify_file(path, CheckerConfig(timeout_s=20, coqchk=True))
    assert v.verified and v.theorems == ("a",) and v.assumptions == {"a": ()}
    with pytest.raises(FileNotFoundError):
        verify_file(tmp_path / "missing.v")


def test_theorem_names_must_exist():
    src = "Lemma a : True. exact I. Qed."
    assert check(src, ["a"]).verified
    assert check(src, ["b"]).reason == "not_found"
    assert check(src, ["a. Drop"]).reason == "invalid_input"


FORBIDDEN = [
    "Drop.",
    'Load "evil".',
    "Load evil.",
    'Redirect "out" Print nat.',
    "Require Extraction.\nExtraction nat.",
    "Recursive Extraction nat.",
    'Extract Constant plus => "foo".',
    'Declare ML Module "evil_plugin".',
    'Cd "/tmp".',
    'Add LoadPath "/tmp" as Evil.',
    'Add Rec ML Path "/tmp".',
    "Unset Guard Checking.",
    "Local Unset Positivity Checking.",
    "#[global] Unset Universe Checking.",
    "Time Fail Unset Guard Checking.",
    "#[bypass_check(guard)] Fixpoint f (n : nat) : False := f n.",
    'Print Universes "/tmp/universes.dot".',
    '#[deprecated(note="]")] Drop.',
]


@pytest.mark.parametrize("command", FORBIDDEN)
def test_forbidden_commands_are_rejected_before_coq_runs(command, monkeypatch):
    monkeypatch.setattr(checker, "run_isolated", lambda *a, **k: pytest.fail("Coq must not run"))
    v = check(f"Lemma ok : True. exact I. Qed.\n(* a comment *)\n{command}\n")
    assert v.reason == "forbidden", v.message
    assert v.message.startswith(("line 3:", "line 4:"))


def test_commands_inside_comments_and_strings_are_not_commands():
    v = check('(* Drop. Load x. *)\nRequire Import String.\nDefinition s := "\n Drop. "%string.\n'
              'Lemma a : True. exact I. Qed.')
    assert v.verified, v.message


def test_compile_error_reports_coq_message_and_line():
    v = check("Lemma a : 1 = 2.\nProof.\n  reflexivity.\nQed.")
    assert v.reason == "compile_error"
    assert "line 3" in v.message and "Error" in v.message


def test_malformed_text_is_invalid_input():
    assert check("(* unterminated\nLemma a : True. exact I. Qed.").reason == "invalid_input"


# ---------------------------------------------------------------- limits


def test_loop_times_out_and_leaves_no_coq_process(monkeypatch):
    started: list[int] = []
    real_popen = subprocess.Popen

    class Recording(real_popen):  # the real Popen, remembering which process groups it started
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            started.append(self.pid)

    monkeypatch.setattr(isolation.subprocess, "Popen", Recording)
    v = check("Ltac loop := idtac; loop.\nLemma a : True. Proof. loop. Qed.",
              config=CheckerConfig(timeout_s=1.5))
    assert v.reason == "timeout" and not v.verified
    assert started
    for pgid in started:
        with pytest.raises(ProcessLookupError):
            os.killpg(pgid, 0)
    left = subprocess.run(["pgrep", "-f", "coqc"], capture_output=True, text=True).stdout.split()
    assert not set(map(int, left)) & set(started)


def test_memory_limit():
    v = check("Lemma a : True. exact I. Qed.", config=CheckerConfig(memory_mb=200))
    assert v.reason == "memory"


# ---------------------------------------------------------------- untrusted proof scripts

NAT = Theorem(name="add_zero", binders="(n : nat)", statement="n + 0 = n",
              header="From Coq Require Import Lia.\nAxiom cheat : forall P : Prop, P.")


@pytest.mark.parametrize(
    "script",
    [
        "admit.",
        "give_up.",
        "Admitted.",
        "lia. Qed. Lemma extra : False. Admitted.",
        "lia.\nQed.",
        "Abort.",
        "Drop.",
        "exact_no_check eq_refl.",
        "all: admit.",
        "Proof. lia.",
        "lia. Axiom x : False.",
    ],
)
def test_verify_proof_rejects_anything_but_tactics(script):
    v = verify_proof(NAT, script, FAST)
    assert v.reason == "forbidden", v.message


def test_verify_proof_outcomes():
    assert verify_proof(NAT, "lia.", FAST).verified
    assert verify_proof(NAT, "(* comment *) intros; lia", FAST).verified  # Coq needs the final '.'; we add it
    assert verify_proof(NAT, "apply cheat.", STRICT).reason == "axiom"
    trusting = verify_proof(NAT, "apply cheat.", FAST)  # the header's axiom is part of the problem
    assert trusting.verified and "cheat" in " ".join(trusting.assumptions["add_zero"])
    assert verify_proof(NAT, "reflexivity.", FAST).reason == "compile_error"
    assert verify_proof(NAT, "", FAST).reason == "compile_error"  # Qed on an open goal
    assert verify_proof(NAT, "(* open", FAST).reason == "invalid_input"


def test_statement_must_stay_one_declaration():
    sneaky = Theorem(name="t", statement="True. Admitted. Lemma u : False")
    assert verify_proof(sneaky, "exact I.", FAST).reason == "invalid_input"


# ---------------------------------------------------------------- the audit parser (recorded Coq 8.16 output)


def test_parse_assumptions_recorded_outputs():
    assert parse_assumptions("Closed under the global context\n") == Assumptions()
    reals = ("Axioms:\nClassicalDedekindReals.sig_forall_dec\n  : forall P : nat -> Prop,\n"
             "    (forall n : nat, {P n} + {~ P n}) ->\n    {n : nat | ~ P n} + {forall n : nat, P n}\n"
             "Classical_Prop.classic : forall P : Prop, P \\/ ~ P\n")
    assert parse_assumptions(reals).axioms == ("ClassicalDedekindReals.sig_forall_dec", "Classical_Prop.classic")
    assert parse_assumptions("Axioms:\nf is assumed to be guarded.\n").unsafe == ("f is assumed to be guarded",)
    assert parse_assumptions("Axioms:\nD is assumed to be positive.\n").unsafe
    assert parse_assumptions("Axioms:\nuu relies on an unsafe hierarchy.\n").unsafe
    assert parse_assumptions("Section Variables:\nv\n: nat\n").section_variables == ("v",)
    for garbage in ("", "Welcome\n", "  indented first\n"):
        assert parse_assumptions(garbage) is None


def test_config_validates_itself():
    with pytest.raises(ValueError):
        CheckerConfig(timeout_s=0)
    with pytest.raises(ValueError):
        CheckerConfig(memory_mb=-1)
    with pytest.raises(ValueError):
        CheckerConfig(allowed_axioms=("classic",))
    with pytest.raises(ValueError):
        Verdict(True, "axiom", "contradiction")


# ---------------------------------------------------------------- the command line


def test_cli_missing_and_malformed_files_are_user_errors(tmp_path):
    p = cli(str(tmp_path / "missing.v"))
    assert p.returncode == 2 and "Traceback" not in p.stderr and "missing.v" in p.stderr
    bad = tmp_path / "bad.v"
    bad.write_text("(* never closed\nLemma a : True. exact I. Qed.\n")
    p = cli(str(bad))
    assert p.returncode == 2 and "Traceback" not in p.stderr
    assert len(p.stderr.strip().splitlines()) == 1


def test_cli_failures_exit_1_and_proof_files(tmp_path):
    statement = tmp_path / "stmt.v"
    statement.write_text("From Coq Require Import Lia.\nLemma a (n : nat) : n + 0 = n.\nProof. Admitted.\n")
    p = cli(str(statement), "--json", "--timeout", "20")
    assert p.returncode == 1 and json.loads(p.stdout)["reason"] == "admitted"
    proof = tmp_path / "proof.v"
    proof.write_text("Proof.\n  lia.\nQed.\n")
    p = cli(str(statement), "--theorem", "a", "--proof-file", str(proof))
    assert p.returncode == 0, p.stderr
    proof.write_text("admit.\n")
    p = cli(str(statement), "--theorem", "a", "--proof-file", str(proof))
    assert p.returncode == 1 and "forbidden" in p.stderr


def test_axioms_a_problem_declares_in_its_header_may_be_used_by_its_proof():
    """amc12a_2016_p3 declares `Parameter Rfloor` and `Axiom Rfloor_spec` as part of the problem."""
    from formal.coq.checker import verify_file, verify_proof
    from formal.coq.commands import header_axioms
    from formal.theorem import Theorem

    header = "Require Import Arith.\nParameter half : nat -> nat.\nAxiom half_double : forall n, half (2 * n) = n."
    assert header_axioms(header) == {"half", "half_double"}
    th = Theorem("h4", "half 4 = 2", header=header)
    assert verify_proof(th, "exact (half_double 2).").verified
    # The same axiom in a file the checker is asked to trust as a whole is still an axiom.
    import pathlib
    import tempfile
    with tempfile.TemporaryDirectory() as d:
        f = pathlib.Path(d) / "x.v"
        f.write_text(f"{header}\nTheorem h4 : half 4 = 2.\nProof. exact (half_double 2). Qed.\n")
        assert verify_file(f).reason == "axiom"
    # A proof cannot smuggle in its own axiom, and an admitted header lemma is still admitted.
    th2 = Theorem("h5", "1 = 2", header="Require Import Arith.\nLemma bad : 1 = 2. Admitted.")
    assert verify_proof(th2, "exact bad.").reason == "admitted"
