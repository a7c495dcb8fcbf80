"""`proofzero prove` end to end on real Coq: one row per theorem, resume, clear user errors."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import REPO, requires_coq

pytestmark = requires_coq

PROVABLE = {
    "add_comm_nat": "Require Import Arith.\n\nTheorem add_comm_nat : forall a b : nat, a + b = b + a.\nProof.\n",
    "lt_real": "Require Import Reals.\nOpen Scope R_scope.\n\nTheorem lt_real (x y : R) : x < y -> y > x.\nProof.\nAdmitted.\n",
}
UNPROVABLE = {"false_nat": "Require Import Arith.\n\nTheorem false_nat : forall n : nat, n = n + 1.\nProof.\n"}
BROKEN = {
    "no_such_thing": "Require Import Arith.\n\nTheorem no_such_thing : undefined_function 3 = 3.\nProof.\n",
    "unterminated": "Require Import Arith.\n(* never closed\nTheorem unterminated : True.\nProof.\n",
}


def _suite(tmp_path: Path, files: dict[str, str]) -> Path:
    d = tmp_path / "suite"
    d.mkdir()
    for name, text in files.items():
        (d / f"{name}.v").write_text(text)
    return d


def _prove(*args, check=True):
    p = subprocess.run(
        [sys.executable, "-m", "proofzero.cli", "prove", "--no-progress", *map(str, args)],
        capture_output=True, text=True, cwd=REPO, timeout=900,
    )
    if check:
        assert p.returncode == 0, p.stderr[-2000:]
    return p


def test_every_theorem_gets_a_row_and_proofs_are_verified(tmp_path):
    suite = _suite(tmp_path, {**PROVABLE, **UNPROVABLE, **BROKEN})
    out = tmp_path / "out" / "results.json"
    p = _prove("--suite", suite, "--out", out, "hammer=off", "automation.portfolio=[reflexivity,lia,lra]")
    data = json.loads(out.read_text())
    rows = {r["name"]: r for r in data["results"]}
    assert set(rows) == set(PROVABLE) | set(UNPROVABLE) | set(BROKEN)
    assert rows["add_comm_nat"]["status"] == "proved" and rows["add_comm_nat"]["proof"] == "intros.\nlia."
    assert rows["lt_real"]["status"] == "proved" and rows["lt_real"]["proof"].endswith("lra.")
    assert rows["false_nat"]["status"] == "failed" and rows["false_nat"]["tactics_used"] == 4
    assert rows["no_such_thing"]["status"] == "invalid_statement"
    assert rows["unterminated"]["status"] == "invalid_statement"
    assert data["summary"]["all"]["proved"] == 2 and data["summary"]["all"]["total"] == 5
    assert data["budget"].startswith("pass@1, 4 tactic executions")
    assert len(data["suite_sha256"]) == 64 and data["config"]["automation"]["portfolio"] == ["reflexivity", "lia", "lra"]
    assert "proved" in p.stdout and "pass rate" in p.stdout and "40.0%" in p.stdout
    assert not (out.parent / "results.json.partial.jsonl").exists()


def test_a_killed_run_resumes_where_it_stopped(tmp_path):
    files = {f"slow_{i}": f"Require Import Arith.\n\nTheorem slow_{i} : forall n : nat, n + {i} = {i} + n.\nProof.\n" for i in range(6)}
    suite = _suite(tmp_path, files)
    out = tmp_path / "results.json"
    partial = tmp_path / "results.json.partial.jsonl"
    args = ["--suite", suite, "--out", out, "hammer=off", "workers=1", "automation.portfolio=[reflexivity,congruence,lia]"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "proofzero.cli", "prove", "--no-progress", *map(str, args)],
        cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )
    deadline = time.time() + 300
    while time.time() < deadline and (not partial.exists() or len(partial.read_text().splitlines()) < 3):
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    before = [json.loads(line) for line in partial.read_text().splitlines()[1:] if line.strip()]
    assert 2 <= len(before) < 6 and not out.exists()
    _prove(*args)
    rows = {r["name"]: r for r in json.loads(out.read_text())["results"]}
    assert set(rows) == set(files) and all(r["status"] == "proved" for r in rows.values())
    for r in before:  # kept, not recomputed
        assert rows[r["name"]]["seconds"] == r["seconds"]


@pytest.mark.parametrize("make_suite", ["missing", "empty", "file"])
def test_bad_suite_paths_are_user_errors(tmp_path, make_suite):
    path = tmp_path / "suite"
    if make_suite == "empty":
        path.mkdir()
    elif make_suite == "file":
        path.write_text("not a suite")
    p = _prove("--suite", path, "--out", tmp_path / "r.json", check=False)
    assert p.returncode == 2
    assert "Traceback" not in p.stderr and "error:" in p.stderr


def test_bad_config_is_a_user_error(tmp_path):
    for override in ["workers=0", "no_such_key=1", "prover=magic", "coq.tactic_timeout_s=-1", "workers"]:
        p = _prove("--out", tmp_path / "r.json", override, check=False)
        assert p.returncode == 2, override
        assert "Traceback" not in p.stderr and "bad config" in p.stderr or "overrides" in p.stderr


@pytest.mark.slow
def test_the_whole_valid_suite_yields_244_rows(tmp_path):
    """The bundled suite through the automation prover (a one-tactic portfolio to keep it short)."""
    out = tmp_path / "valid.json"
    _prove("--out", out, "hammer=off", "automation.portfolio=[lia]", "coq.tactic_timeout_s=2")
    data = json.loads(out.read_text())
    statuses = [r["status"] for r in data["results"]]
    assert len(statuses) == 244 == data["summary"]["all"]["total"]
    assert statuses.count("invalid_statement") == 8  # Coquelicot's C statements that 8.16 rejects
    assert statuses.count("env_error") == 0
    assert statuses.count("proved") >= 1
    assert data["summary"]["audited"]["total"] == 71
