"""Hostile input, class 3: a name that does not pick exactly the theorem the user means.

`proofzero verify --theorem NAME [--proof-file F] FILE` checks the named theorem, exactly, or fails
with exit 2 and one line: never another theorem of the file. In the statement file below `easy` is
provable by `exact I` and nothing else is, so a proof of `easy` accepted for any other name would
show the wrong theorem being checked.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import requires_coq

pytestmark = requires_coq
REPO = Path(__file__).resolve().parents[2]

STATEMENTS = """\
Theorem easy : True.
Proof. exact I. Qed.
#[local] Theorem hard_local : 1 = 2.
Proof. Admitted.
Definition hard_def := 1 = 2.
Definition hard_interactive : 1 = 2.
Proof. Admitted.
Local Lemma hard_legacy : False.
Proof. Admitted.
Module M.
  Theorem t : True.
  Proof. Admitted.
  Module Inner. Lemma deep : True. Proof. Admitted. End Inner.
End M.
Module N. Theorem t : 1 = 2. Proof. Admitted. End N.
Section S. Variable n : nat. Lemma sec : True. Proof. Admitted. End S.
"""


def verify(tmp_path: Path, *args: str, proof: str | None = "exact I.") -> subprocess.CompletedProcess:
    stmt = tmp_path / "stmt.v"
    stmt.write_text(STATEMENTS)
    extra = []
    if proof is not None:
        (tmp_path / "p.v").write_text(proof)
        extra = ["--proof-file", str(tmp_path / "p.v")]
    return subprocess.run([sys.executable, "-m", "proofzero.cli", "verify", *args, *extra, str(stmt)],
                          capture_output=True, text=True, cwd=REPO, timeout=120)


@pytest.mark.parametrize("name", ["hard_local", "hard_interactive", "hard_legacy", "N.t"])
def test_the_named_theorem_is_checked_not_another(tmp_path, name):
    p = verify(tmp_path, "--theorem", name, "--json")
    verdict = json.loads(p.stdout)
    assert p.returncode == 1 and verdict["reason"] == "compile_error", p.stdout
    assert verdict["theorems"] == [name]


@pytest.mark.parametrize("name, full", [("easy", "easy"), ("M.t", "M.t"), ("M.Inner.deep", "M.Inner.deep"),
                                        ("Inner.deep", "M.Inner.deep"), ("deep", "M.Inner.deep"), ("sec", "sec")])
def test_names_inside_modules_are_addressable(tmp_path, name, full):
    p = verify(tmp_path, "--theorem", name, "--json")
    assert p.returncode == 0, p.stdout + p.stderr
    assert json.loads(p.stdout)["theorems"] == [full]


@pytest.mark.parametrize(
    "name, words",
    [
        ("hard_def", ["hard_def", "Definition given by a term"]),
        ("t", ["declared more than once", "M.t", "N.t"]),
        ("missing", ["no theorem named missing"]),
        ("a.b c", ["not a Coq name"]),
    ],
)
@pytest.mark.parametrize("proof", ["exact I.", None])
def test_a_name_that_does_not_pick_one_theorem_is_a_one_line_error(tmp_path, name, words, proof):
    p = verify(tmp_path, "--theorem", name, proof=proof)
    assert p.returncode == 2, p.stdout + p.stderr
    assert "Traceback" not in p.stderr and len(p.stderr.strip().splitlines()) == 1, p.stderr
    assert p.stderr.startswith("proofzero verify: error:")
    for w in words:
        assert w in p.stderr


def test_whole_file_mode_audits_every_theorem(tmp_path):
    p = verify(tmp_path, "--json", proof=None)
    assert p.returncode == 1 and json.loads(p.stdout)["reason"] == "admitted"
