"""Hostile input, class 2: writes outside the scratch directory, and processes outliving the checker.

The command allowlist is the first line; these tests take it away (as if a new Coq command slipped
past it) and check the second: the compile runs where a stray write cannot land. With a private
mount namespace the write fails; without one (forced here) it is detected and the check fails.
Every test asserts that nothing appeared outside the scratch directory.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from formal import isolation
from formal.coq import checker, suite
from formal.coq.checker import CheckerConfig, verify_source
from formal.coq.suite import check_statement, parse_coq_source
from formal.theorem import Theorem
from tests.conftest import requires_coq

pytestmark = requires_coq
REPO = Path(__file__).resolve().parents[2]
FAST = CheckerConfig(timeout_s=30)


def _writers(outside: Path) -> list[str]:
    """Sentences that write files if Coq runs them: relative escapes and absolute paths."""
    return [
        f'Redirect "{outside}/redirected" Print nat.',
        'Redirect "../up" Print nat.',
        f'Require Extraction.\nExtraction "{outside}/evil.sh" nat.',
        f'Cd "{outside}".\nRedirect "after_cd" Print nat.',
        f'Print Universes "{outside}/universes.dot".',
    ]


@pytest.fixture
def no_scan(monkeypatch):
    """The allowlist out of the way: only the confinement stands between the file and the disk."""
    monkeypatch.setattr(checker, "find_forbidden", lambda sentences: None)


def _listing(d: Path) -> set[str]:
    return {str(p.relative_to(d)) for p in d.rglob("*")}


@pytest.mark.skipif(not isolation.namespaces_available(), reason="no mount namespaces on this machine")
@pytest.mark.parametrize("index", range(5))
def test_namespace_makes_writes_outside_fail(index, tmp_path, no_scan, monkeypatch):
    outside = tmp_path / "outside"
    outside.mkdir()
    monkeypatch.chdir(outside)
    src = f"{_writers(outside)[index]}\nLemma ok : True. exact I. Qed.\n"
    v = verify_source(src, None, FAST)
    assert not v.verified
    assert _listing(outside) == set()
    assert v.reason == "compile_error" and "Read-only file system" in v.message, v.message


@pytest.mark.parametrize("index", range(5))
def test_without_a_namespace_a_write_outside_is_detected(index, tmp_path, no_scan, monkeypatch):
    """The fallback (no namespaces): the file still escapes, but the check says so and fails."""
    monkeypatch.setattr(isolation, "namespaces_available", lambda: False)
    outside = tmp_path / "outside"
    outside.mkdir()
    monkeypatch.chdir(outside)
    src = f"{_writers(outside)[index]}\nLemma ok : True. exact I. Qed.\n"
    v = verify_source(src, None, FAST)
    assert not v.verified
    if index == 1:  # "../up" lands in the checker's own directory above the scratch dir
        assert v.reason == "forbidden" and "/up" in v.message, v.message
    elif _listing(outside):
        assert v.reason == "forbidden" and "wrote outside its scratch directory" in v.message, v.message


def test_scratch_directory_is_the_only_writable_path(tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    script = f"touch inside; touch {tmp_path}/outside 2>/dev/null; touch $HOME/home; echo $TMPDIR"
    done = isolation.run_isolated(["/bin/sh", "-c", script], work, isolation.Limits(10, 512))
    assert done.stdout.strip() == str(work)  # TMPDIR and HOME point inside
    assert (work / "inside").exists() and (work / "home").exists()
    if done.isolation == "mount-namespace":
        assert not (tmp_path / "outside").exists()
    else:
        assert done.escaped == (str(tmp_path / "outside"),)


def test_a_suite_file_with_a_write_is_refused_before_coq(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    text = f'Redirect "{tmp_path}/pwned" Print nat.\nTheorem t : True.\nProof. Admitted.\n'
    with pytest.raises(suite.StatementParseError, match="forbidden: line 1: Redirect"):
        parse_coq_source(text, "t")
    theorem = Theorem("t", "True", header=f'Timeout 0x2 Redirect "{tmp_path}/pwned" Print nat.')
    assert check_statement(theorem).startswith("forbidden: line 1: Redirect")
    assert not (tmp_path / "pwned").exists() and not (tmp_path / "pwned.out").exists()


def test_suite_cli_reports_the_forbidden_statement(tmp_path):
    d = tmp_path / "suite"
    d.mkdir()
    (d / "good.v").write_text("Theorem good : True.\nProof. Admitted.\n")
    (d / "bad.v").write_text(f'Time Redirect "{tmp_path}/pwned" Print nat.\nTheorem bad : True.\nProof. Admitted.\n')
    p = subprocess.run([sys.executable, "-m", "proofzero.cli", "suite", str(d)], capture_output=True,
                       text=True, cwd=REPO, timeout=120)
    assert p.returncode == 0, p.stderr
    assert "bad" in p.stdout and "forbidden" in p.stdout
    assert not list(tmp_path.glob("pwned*"))


def _coqc_children_of(pid: int) -> list[int]:
    out = subprocess.run(["pgrep", "-f", "coqc.*Candidate.v"], capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM])
def test_killing_verify_kills_its_coqc(sig, tmp_path):
    """A `proofzero verify` killed by SIGKILL or SIGTERM must not leave its coqc running."""
    f = tmp_path / "slow.v"
    f.write_text("Require Import NArith.\nLemma a : True. Proof.\n"
                 "let x := eval vm_compute in (N.iter 100000000000%N (fun x => x) 0%N) in exact I. Qed.\n")
    proc = subprocess.Popen([sys.executable, "-m", "proofzero.cli", "verify", "--timeout", "600", str(f)],
                            cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        children: list[int] = []
        while not children and time.monotonic() < deadline:
            time.sleep(0.2)
            children = _coqc_children_of(proc.pid)
        assert children, "coqc never started"
        os.kill(proc.pid, sig)
        proc.wait(timeout=30)
        deadline = time.monotonic() + 10
        while any(_alive(c) for c in children) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not any(_alive(c) for c in children), "coqc outlived the killed checker"
    finally:
        proc.kill()
        for c in _coqc_children_of(proc.pid):
            os.kill(c, signal.SIGKILL)


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"
