"""Benchmark suites on the real files: the bundled miniF2F-rocq `valid` split, the Lean 4 miniF2F tree.

Only a handful of statements are compiled here; the manifest (written once, checked against the
original files) vouches for the rest, and `test_manifest_pins_the_bundled_files` keeps it honest.
"""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from formal.coq.suite import (
    check_source,
    check_statement,
    parse_coq_source,
    split_declaration,
)
from formal.manifest import (
    INVALID,
    OK,
    UNCHECKED,
    ManifestError,
    build_manifest,
    check_statements,
    write_manifest,
)
from formal.suite import SuiteError, load_manifest, load_suite
from tests.conftest import REPO, requires_coq

BUNDLED = REPO / "benchmarks" / "minif2f-rocq-valid"


@pytest.fixture(scope="module")
def rocq():
    return load_suite(BUNDLED)


@pytest.fixture(scope="module")
def lean(shared_dir: Path):
    return load_suite(
        shared_dir / "benchmarks" / "minif2f-lean4",
        informal_path=shared_dir / "benchmarks" / "minif2f-informal" / "minif2f.jsonl",
    )


def _theorem(suite, name):
    return next(t for t in suite.theorems if t.name == name)


# What the `proofzero` console script runs (`python -m proofzero.cli` would load the CLI module twice).
_MAIN = "import sys; from proofzero.cli import main; sys.exit(main())"


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", _MAIN, "suite", *args], cwd=REPO, capture_output=True, text=True, timeout=300
    )


# --- the bundled Rocq suite -------------------------------------------------------------------


def test_bundled_suite_loads_every_file(rocq):
    assert rocq.format == "rocq"
    assert len(rocq) == len(rocq.theorems) == len(list(BUNDLED.glob("*.v"))) == 244
    assert not rocq.problems
    assert all(t.backend == "coq" and t.statement for t in rocq.theorems)


def test_audited_subset_matches_audit_txt(rocq):
    lines = (BUNDLED / "audit.txt").read_text().splitlines()
    listed = {line.strip() for line in lines[1:] if line.strip() and " " not in line.strip()}
    assert len(rocq.audited) == len(listed & set(rocq.files)) == 71
    assert "amc12_2000_p15" in rocq.audited


def test_file_ending_at_proof_keeps_header_definitions(rocq):
    # amc12a_2020_p21.v: Fixpoint + Definition, then the Theorem, then `Proof.` and nothing more.
    assert (BUNDLED / "amc12a_2020_p21.v").read_text().rstrip().endswith("Proof.")
    t = _theorem(rocq, "amc12a_2020_p21")
    assert "Fixpoint fact" in t.header and "Definition satisfies_condition" in t.header
    assert t.statement.startswith("exists (l : list nat)") and t.statement.endswith("length l = 48")
    assert "Proof" not in t.statement


def test_binders_and_the_file_named_declaration(rocq):
    # imo_1966_p5.v states the problem, then a variant imo_1966_p5': the file's name decides.
    t = _theorem(rocq, "imo_1966_p5")
    assert t.binders.startswith("(x a : nat -> R)") and t.binders.endswith("= R1)")
    assert t.statement.startswith("x (S (S O)) = R0 /\\")
    assert "imo_1966_p5'" not in t.header


def test_from_stdlib_is_ported_in_memory():
    t = parse_coq_source("From Stdlib Require Import Arith.\nTheorem t (n : nat) : n + 0 = n.\nProof.\n", "t")
    assert t.header == "From Coq Require Import Arith."
    assert (t.binders, t.statement) == ("(n : nat)", "n + 0 = n")


def test_split_declaration_finds_the_top_level_colon():
    name, binders, statement = split_declaration("Theorem foo (a b : C) (h : a = b) :\n  b = a.")
    assert (name, binders, statement) == ("foo", "(a b : C) (h : a = b)", "b = a")
    assert split_declaration("Lemma bar: forall x : nat, x = x.") == ("bar", "", "forall x : nat, x = x")
    _, _, statement = split_declaration("Theorem c :\n  forall n, (* why *) n = n ->\n  True.")
    assert " ".join(statement.split()) == "forall n, n = n -> True"


@requires_coq
def test_chosen_statements_elaborate_as_the_manifest_says(rocq, tmp_path):
    """From Stdlib, Coquelicot, mathcomp, helper definitions, comments in the statement, binders."""
    names = [
        "numbertheory_aneqprodakp4_anmsqrtanp1eq2",  # From Coquelicot Require
        "imo_1979_p1",  # From mathcomp Require
        "mathd_numbertheory_32",  # Definitions and a Fixpoint in the header
        "imo_1977_p5",  # comments inside the statement
        "imo_1966_p5",  # binders; a second theorem after the problem
        "amc12_2000_p15",  # Coquelicot complex numbers: does not elaborate on Coq 8.16
    ]
    theorems = [_theorem(rocq, n) for n in names]
    stdlib = tmp_path / "stdlib_demo.v"
    stdlib.write_text(
        "From Stdlib Require Import Reals.\nOpen Scope R_scope.\nTheorem stdlib_demo (x : R) : x + 0 = x.\nProof.\n"
    )
    theorems.append(parse_coq_source(stdlib.read_text(), "stdlib_demo"))
    reasons = check_statements(theorems, check_statement)
    status = {e.name: e.status for e in rocq.manifest.entries}
    assert reasons["stdlib_demo"] is None
    for name in names:
        assert (reasons[name] is None) == (status[name] == OK), (name, reasons[name])
    assert "has type \"C\" while it is expected to have type \"R\"" in reasons["amc12_2000_p15"]


@requires_coq
def test_rebuilt_declaration_is_equivalent_to_the_original_file(rocq, tmp_path):
    """The statement compiled from the parsed pieces is the one in the file: `Check` prints the same type."""
    t = _theorem(rocq, "imo_1977_p5")
    original = (BUNDLED / "imo_1977_p5.v").read_text().rstrip() + "\n"
    if original.endswith("Proof.\n"):
        original += "Admitted.\n"
    printed = []
    for text in (original, check_source(t)):
        (tmp_path / "E.v").write_text(text + "Check imo_1977_p5.\n")
        done = subprocess.run(["coqc", "-q", "E.v"], cwd=tmp_path, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stdout + done.stderr
        printed.append(done.stdout)
    assert printed[0] == printed[1]


# --- the manifest -----------------------------------------------------------------------------


def test_manifest_pins_the_bundled_files(rocq):
    manifest = load_manifest(BUNDLED / "manifest.json")
    assert not rocq.drift
    assert manifest.suite_sha256 == rocq.sha256()
    assert {e.name: e.sha256 for e in manifest.entries} == rocq.hashes()
    assert len(manifest.entries) == 244  # invalid statements are listed, never dropped
    assert {e.name for e in manifest.entries if e.audited} == rocq.audited


def test_manifest_invalid_list_is_small_and_explained(rocq):
    invalid = rocq.manifest.by_status(INVALID)
    assert "Coq Proof Assistant" in rocq.manifest.checker
    assert 0 < len(invalid) <= 12
    assert all(e.reason.startswith("Error:") for e in invalid)
    if "8.16" in rocq.manifest.checker:
        assert "amc12_2000_p15" in {e.name for e in invalid}
    assert rocq.invalid == {e.name: e.reason for e in invalid}  # what the prover harness reads


def test_drift_is_named_and_disables_the_pinned_verdicts(tmp_path):
    copy = tmp_path / "suite"
    shutil.copytree(BUNDLED, copy)
    f = copy / "amc12a_2020_p21.v"
    f.write_text(f.read_text().replace("length l = 48", "length l = 49"))
    suite = load_suite(copy)
    assert suite.drift == {"amc12a_2020_p21": "changed"}
    assert suite.invalid == {}  # the manifest no longer vouches for anything
    done = _cli(str(copy), "--check")
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert "changed: amc12a_2020_p21" in done.stdout
    assert _cli(str(BUNDLED), "--check").returncode == 0


def test_manifest_round_trip_and_atomic_write(tmp_path):
    suite = _small_suite(tmp_path)
    manifest = build_manifest(suite, check=lambda t: None if t.name == "good" else "Error: nope", checker="fake")
    write_manifest(manifest, tmp_path / "m.json")
    assert load_manifest(tmp_path / "m.json") == manifest
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []
    statuses = {e.name: (e.status, e.reason) for e in manifest.entries}
    assert statuses["good"] == (OK, "")
    assert statuses["no_theorem"][0] == INVALID and "no " in statuses["no_theorem"][1]
    unchecked = build_manifest(suite, check=None)
    assert {e.status for e in unchecked.entries} == {UNCHECKED, INVALID}


def test_bad_manifest_is_a_clear_error(tmp_path):
    (tmp_path / "m.json").write_text("{not json")
    with pytest.raises(ManifestError, match="not a suite manifest"):
        load_manifest(tmp_path / "m.json")


# --- malformed input --------------------------------------------------------------------------


def _small_suite(tmp_path: Path):
    d = tmp_path / "small"
    d.mkdir()
    (d / "good.v").write_text("Require Import Arith.\nTheorem good (n : nat) : n + 0 = n.\nProof.\n")
    (d / "unterminated.v").write_text("(* an unterminated comment\nTheorem u : True.\n")
    (d / "no_theorem.v").write_text("Require Import Reals.\nDefinition x := 1.\n")
    return load_suite(d)


def test_unparseable_files_are_listed_not_dropped(tmp_path):
    suite = _small_suite(tmp_path)
    assert len(suite) == 3 and [t.name for t in suite.theorems] == ["good"]
    reasons = {p.name: p.reason for p in suite.problems}
    assert reasons == {"no_theorem": reasons["no_theorem"], "unterminated": "unterminated comment"}
    assert set(suite.invalid) == {"no_theorem", "unterminated"}
    done = _cli(str(suite.root))
    assert done.returncode == 0 and "Traceback" not in done.stderr
    assert "unterminated: unterminated comment" in done.stdout


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda d: d / "missing", "no such suite directory"),
        (lambda d: d, "empty suite directory"),
        (lambda d: (d / "x.txt").write_text("hi") and d, "neither Rocq .v files nor Lean 4 files"),
        (lambda d: (d / "only.v").write_text("(* open") and d, "no statement could be parsed"),
    ],
    ids=["unknown-path", "empty-dir", "no-suite-files", "only-malformed"],
)
def test_not_a_suite_is_one_line_and_exit_2(tmp_path, make, message):
    path = make(tmp_path)
    with pytest.raises(SuiteError, match=message):
        load_suite(path)
    done = _cli(str(path))
    assert done.returncode == 2 and "Traceback" not in done.stderr
    (error,) = [line for line in done.stderr.splitlines() if "error:" in line]
    assert message in error


def test_check_without_manifest_is_a_user_error(tmp_path):
    _small_suite(tmp_path)
    done = _cli(str(tmp_path / "small"), "--check")
    assert done.returncode == 2 and "no manifest to check" in done.stderr and "Traceback" not in done.stderr


# --- the Lean 4 suite -------------------------------------------------------------------------


def test_lean_suite_parses_both_splits(lean):
    assert lean.format == "lean4" and not lean.problems
    splits = [lean.files[t.name].split("/")[1] for t in lean.theorems]
    assert (splits.count("Test"), splits.count("Valid")) == (244, 244)
    assert all(t.backend == "lean" and t.statement and ":= by" not in t.statement for t in lean.theorems)
    assert all(t.header.startswith("import Mathlib") for t in lean.theorems)
    assert sum(bool(t.binders) for t in lean.theorems) > 400


def test_lean_comments_and_binders(lean):
    t = _theorem(lean, "amc12b_2002_p3")  # a `--` comment between binders
    assert t.binders.startswith("(S : Finset ℕ)") and "--" not in t.binders
    assert t.statement == "S.card = 1"
    assert t.declaration().endswith("S.card = 1 := by")


def test_informal_statements_joined_by_name(lean):
    assert len(lean.informal) >= 480
    # Lean spells it notEquiv, the informal file notequiv: joined case-insensitively.
    assert "8 \\mid a^2 + b^2" in lean.informal["numbertheory_notEquiv2i2jasqbsqdiv8"]
    assert not any(text.startswith("/-") or text.endswith("-/") for text in lean.informal.values())


def test_lean_manifest_is_unchecked(lean, tmp_path):
    manifest = build_manifest(lean, check=None)
    assert len(manifest.entries) == 488 and {e.status for e in manifest.entries} == {UNCHECKED}
    write_manifest(manifest, tmp_path / "lean.json")
    assert json.loads((tmp_path / "lean.json").read_text())["counts"]["unchecked"] == 488
