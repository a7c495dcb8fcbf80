"""Hostile input, class 4: assumptions the audit could miss, and checks that never end.

A whole file is verified only if nothing in it is assumed: `coqchk -o` names every axiom the
compiled library adds, wherever it hides (a functor instance, a `Goal`, a module parameter), so the
audit does not depend on the checker recognising declarations. Proof-file mode refuses the
statement file's own axioms unless asked to trust them, and then says which it trusted.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from formal.coq.checker import CheckerConfig, verify_proof, verify_source
from formal.theorem import Theorem
from tests.conftest import requires_coq

pytestmark = requires_coq
REPO = Path(__file__).resolve().parents[2]
FAST = CheckerConfig(timeout_s=30)
HONEST = "\nTheorem honest : True. Proof. exact I. Qed.\n"


@pytest.mark.parametrize(
    "src, reason, named",
    [
        ("Module Type T. End T.\nModule F (X : T). Lemma bad : False. Admitted. End F.\n"
         "Module A. End A.\nModule I := F A.", "admitted", "I.bad"),
        ("Goal False. Admitted.", "admitted", "Unnamed_thm"),
        ("Goal 1 = 2. Proof. Admitted.\nGoal 2 = 3. Admitted.", "admitted", "Unnamed_thm0"),
        ("Module Type T. Parameter p : False. End T.\nDeclare Module X : T.", "axiom", "X.p"),
        ("Axiom unused : False.", "axiom", "unused"),
        ("Module M. Parameter q : nat. End M.", "axiom", "M.q"),
        ("Definition d : nat. Proof. Admitted.", "admitted", "d"),
        ("Module Type T. End T.\nModule F (X : T). Definition k : 1 = 2. Admitted. End F.\n"
         "Module B. End B.\nModule Import J := F B.", "admitted", "J.k"),
    ],
)
def test_every_assumption_a_file_adds_fails_the_whole_file(src, reason, named):
    v = verify_source(src + HONEST, None, FAST)
    assert not v.verified and v.reason == reason, v.message
    assert named in v.message


def test_the_same_theorem_checked_by_name_ignores_unrelated_assumptions():
    """Asked about `honest` only, the audit of `honest` decides (it uses nothing)."""
    v = verify_source("Goal False. Admitted." + HONEST, ["honest"], FAST)
    assert v.verified, v.message


def test_using_a_hidden_admitted_lemma_is_caught_through_the_theorem_too():
    src = ("Module Type T. End T.\nModule F (X : T). Lemma bad : False. Admitted. End F.\n"
           "Module A. End A.\nModule I := F A.\nTheorem uses : 1 = 2. Proof. destruct I.bad. Qed.\n")
    v = verify_source(src, ["uses"], FAST)
    assert not v.verified and "I.bad" in v.message


HEADER = "Parameter half : nat -> nat.\nAxiom half_double : forall n, half (2 * n) = n.\n"


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "proofzero.cli", "verify", *args], capture_output=True,
                          text=True, cwd=REPO, timeout=120)


def test_proof_file_mode_refuses_header_axioms_by_default(tmp_path):
    (tmp_path / "stmt.v").write_text(HEADER + "Theorem h4 : half 4 = 2.\nProof. Admitted.\n")
    (tmp_path / "p.v").write_text("exact (half_double 2).\n")
    args = ["--theorem", "h4", "--proof-file", str(tmp_path / "p.v"), str(tmp_path / "stmt.v")]
    p = _cli(*args, "--json")
    assert p.returncode == 1 and json.loads(p.stdout)["reason"] == "axiom", p.stdout
    p = _cli(*args, "--no-header-axioms")
    assert p.returncode == 1 and "half_double" in p.stderr
    p = _cli(*args, "--trust-header-axioms")
    assert p.returncode == 0, p.stderr
    assert "trusted header axioms (declared by the statement file): half_double" in p.stdout
    p = _cli(*args, "--trust-header-axioms", "--json")
    assert json.loads(p.stdout)["trusted_axioms"] == ["half_double"]


def test_the_verdict_lists_the_header_axioms_it_trusted():
    th = Theorem("h4", "half 4 = 2", header=HEADER)
    v = verify_proof(th, "exact (half_double 2).", FAST)
    assert v.verified and v.trusted_axioms == ("half_double",)
    assert verify_proof(th, "exact (half_double 2).", CheckerConfig(timeout_s=30, trust_header_axioms=False)).reason == "axiom"
    assert verify_proof(Theorem("t", "True", header=HEADER), "exact I.", FAST).trusted_axioms == ()


def test_the_timeout_covers_the_whole_check_of_a_large_file():
    """1 MB of sentences: the scan is linear, and the deadline bounds scan, compile and audit together."""
    big = "".join(f"Definition x{i} : nat := {i}.\n" for i in range(40000)) + HONEST
    assert len(big) > 1_000_000
    start = time.monotonic()
    v = verify_source(big, None, CheckerConfig(timeout_s=3))
    elapsed = time.monotonic() - start
    assert v.reason == "timeout", v.message
    assert elapsed < 3 + 5  # the limit, plus process teardown; not minutes of splitting


def test_oversized_and_binary_inputs_are_invalid_input():
    assert verify_source("(*" + " " * (9 * 2**20) + "*)", None, FAST).reason == "invalid_input"
    assert verify_source("Lemma a : True. exact I. Qed.\0", None, FAST).reason == "invalid_input"
