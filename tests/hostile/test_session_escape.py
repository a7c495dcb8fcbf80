"""Hostile input against the sessions, on real Coq: a tactic or state must not make a session claim a
proof the trusted checker would refuse, nor crash it.

    text Coq cannot be sent      -> rejected before Coq sees it (not UnicodeEncodeError)
    shelve / unfixed witness     -> TacticError: the focus is empty but the proof is not done
    fix f 1; exact f             -> TacticError: the guard condition fails (asked only at closures)
    another session's state      -> ValueError, even where its id exists here
    coqidetop killed mid-header  -> restarted like any crash; the session opens and proves
"""

import os
import signal
import threading
import time

import pytest

from formal import TacticError, TacticOk, Theorem
from formal.coq import session as coq_session
from formal.coq.checker import verify_proof
from formal.coq.process import CoqProcess
from formal.coq.session import CoqConfig, CoqSession
from formal.lean.session import LeanSession
from formal.lean.suite import parse_lean_source
from formal.session import EnvironmentCrash, InvalidStatement
from tests.conftest import requires_coq
from tests.formal.lean.transcripts import replay_config
from tests.formal.lean_dojo.test_dojo import open_replay

NAT = "Require Import Arith Lia."
REALS = "Require Import Reals Lra.\nOpen Scope R_scope."
SHELVED = ("the tactic leaves shelved goals that no open goal mentions ({}): nothing can instantiate them, "
           "so the proof would not be complete")
BY_CASES = parse_lean_source("theorem foo (x : Int) : x = x := by sorry")
GUARD = "the proof term violates the guard condition: Recursive definition of f is ill-formed."


# -- 1. text that cannot go on the wire ---------------------------------------------------------


@requires_coq
def test_non_utf8_and_control_characters_are_rejected_before_coq():
    garbage = b"\xff\xfe intro".decode("utf-8", errors="surrogateescape")  # undecodable bytes, kept
    with CoqSession(Theorem("t", "1 + 1 = 2", header=NAT)) as s:
        assert s.run_tactic(s.root, "exact \udcff") == TacticError(
            "rejected: tactic is not valid UTF-8 (unpaired surrogate U+DCFF at character 6)", rejected=True)
        assert s.run_tactic(s.root, garbage) == TacticError(
            "rejected: tactic is not valid UTF-8 (unpaired surrogate U+DCFF at character 0)", rejected=True)
        assert s.run_tactic(s.root, "idtac\x07; reflexivity") == TacticError(
            "rejected: tactic contains the control character U+0007 (at character 5)", rejected=True)
        assert s.stats.tactics == 0 and s.stats.rejected == 3
        assert s.run_tactic(s.root, "simpl;\treflexivity\r\n") == TacticOk(())  # whitespace is whitespace


@requires_coq
def test_a_statement_coq_cannot_be_sent_is_invalid_not_a_crash():
    with pytest.raises(InvalidStatement, match=r"^t: the statement is not valid UTF-8 \(unpaired surrogate U\+DCFF"):
        CoqSession(Theorem("t", "1 + 1 = 2 \udcff", header=NAT))


# -- 2. an empty focus that is not a proof --------------------------------------------------------


@requires_coq
def test_shelving_the_goal_is_not_closing_it():
    th = Theorem("t", "1 + 1 = 2", header=NAT)
    with CoqSession(th) as s:
        assert s.run_tactic(s.root, "shelve") == TacticError(SHELVED.format("?Goal : 1 + 1 = 2"))
        assert s.run_tactic(s.root, "reflexivity") == TacticOk(())  # the session goes on, unharmed
    assert not verify_proof(th, "shelve.").verified  # the checker agrees: it is no proof


@requires_coq
def test_a_witness_nothing_fixed_is_not_a_proof():
    """
    exists n, n = n  --eexists-->  ?n = ?n  (?n : nat shelved)  --reflexivity-->  focus empty, ?n unset
    """
    with CoqSession(Theorem("t", "exists n : nat, n = n", header=NAT)) as s:
        (a,) = s.run_tactic(s.root, "eexists").states
        assert s.run_tactic(a, "reflexivity") == TacticError(SHELVED.format("?n : nat"))
        assert s.run_tactic(s.root, "eexists; reflexivity") == TacticError(SHELVED.format("?n : nat"))
        assert s.run_tactic(a, "instantiate (1 := 0); reflexivity") == TacticOk(())


@requires_coq
def test_a_shelved_witness_another_open_goal_will_fix_is_fine():
    """
    exists n, n = 0 /\\ True  --eexists; split-->  [?n = 0]  [True]   (?n shelved, mentioned by the first)
    closing [True] first leaves ?n to [?n = 0]: a closed state, and the proof the checker accepts.
    """
    th = Theorem("t", "exists n : nat, n = 0 /\\ True", header=NAT)
    with CoqSession(th) as s:
        (a,) = s.run_tactic(s.root, "eexists").states
        left, right = s.run_tactic(a, "split").states
        assert s.run_tactic(right, "exact I") == TacticOk(())
        assert s.run_tactic(left, "reflexivity") == TacticOk(())
    assert verify_proof(th, "eexists.\nsplit.\n{ reflexivity. }\n{ exact I. }").verified


# -- 3. the guard condition -------------------------------------------------------------------


class _CountingQueries(CoqProcess):
    """A real coqidetop that counts the `Guarded` queries the session makes."""

    guarded = 0

    def query(self, payload, timeout):
        if b"Guarded." in payload:
            type(self).guarded += 1
        return super().query(payload, timeout)


@requires_coq
def test_a_fixpoint_that_breaks_the_guard_does_not_close_the_goal(monkeypatch):
    monkeypatch.setattr(coq_session, "CoqProcess", _CountingQueries)
    monkeypatch.setattr(_CountingQueries, "guarded", 0)
    with CoqSession(Theorem("t", "forall n : nat, n + 0 = n", header=NAT)) as s:
        (f,) = s.run_tactic(s.root, "fix f 1").states
        bad = s.run_tactic(f, "exact f")
        assert isinstance(bad, TacticError) and bad.message.startswith(GUARD), bad
        assert _CountingQueries.guarded == 1  # asked once, when the focus emptied; never before
        # Guarded was a query, not a sentence: the document is exactly prelude + the tactic's path.
        assert [t for t, _ in s._proc.doc][len(s._prelude):] == list(s._tip_path)
        (n,) = s.run_tactic(f, "intro n").states
        zero, succ = s.run_tactic(n, "destruct n").states
        assert _CountingQueries.guarded == 1  # tactics that leave goals are not checked
        assert s.run_tactic(succ, "simpl; rewrite f; reflexivity") == TacticOk(())  # f on a subterm
        assert s.run_tactic(zero, "reflexivity") == TacticOk(())
        assert _CountingQueries.guarded == 3
        loop = s.run_tactic(f, "intro m; rewrite f; reflexivity")  # f on m itself: no recursion
        assert isinstance(loop, TacticError) and loop.message.startswith(GUARD), loop
        assert _CountingQueries.guarded == 4
    th = Theorem("t", "forall n : nat, n + 0 = n", header=NAT)
    assert not verify_proof(th, "fix f 1.\nexact f.").verified  # the checker agrees


# -- 4. states belong to their session --------------------------------------------------------


@requires_coq
def test_a_state_of_another_coq_session_is_refused():
    th = Theorem("t", "forall n : nat, n + 0 = n /\\ n = n", header=NAT)
    with CoqSession(th) as s1, CoqSession(th) as s2:
        (a1,) = s1.run_tactic(s1.root, "intro n").states
        (a2,) = s2.run_tactic(s2.root, "intro n").states
        assert a1 == a2 and hash(a1) == hash(a2)  # equal by value: the search's keys are unchanged
        for foreign in (s1.root, a1):
            with pytest.raises(ValueError, match=rf"^state {foreign.id} belongs to another session: "
                                                 "pass a state this session returned$"):
                s2.run_tactic(foreign, "split")
        with pytest.raises(ValueError, match="belongs to another session"):
            s2.path_of(a1)
        assert len(s2.run_tactic(a2, "split").states) == 2  # its own states still work


def test_a_state_of_another_lean_session_is_refused():
    with LeanSession(BY_CASES, replay_config("by_cases")) as s1, LeanSession(BY_CASES, replay_config("by_cases")) as s2:
        assert s1.root == s2.root
        with pytest.raises(ValueError, match="^state 0 belongs to another session"):
            s2.run_tactic(s1.root, "by_cases h : x < 0")
        assert isinstance(s2.run_tactic(s2.root, "by_cases h : x < 0"), TacticOk)


def test_a_state_of_another_dojo_session_is_refused():
    (s1, _), (s2, _) = open_replay(), open_replay()
    try:
        assert s1.root == s2.root
        with pytest.raises(ValueError, match="^state 0 belongs to another session"):
            s2.run_tactic(s1.root, "simp")
    finally:
        s1.close()
        s2.close()


# -- 5. a crash while the header loads --------------------------------------------------------


class _KilledWhileLoading(CoqProcess):
    """A real coqidetop; the first `kills` started are SIGKILLed by another thread while they load the
    header's first sentence. The killer is joined before `add` returns, so the process is dead before
    the session's next call, whichever of the two finished first."""

    kills = 0

    def add(self, sentence, timeout):
        if type(self).kills == 0 or not sentence.startswith("Require"):
            return super().add(sentence, timeout)
        type(self).kills -= 1
        killer = threading.Thread(target=self._kill_soon)
        killer.start()
        try:
            return super().add(sentence, timeout)
        finally:
            killer.join()

    def _kill_soon(self) -> None:
        time.sleep(0.05)  # let `Require Import Reals` begin
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait()


@requires_coq
def test_coq_killed_while_loading_the_header_is_restarted(monkeypatch):
    monkeypatch.setattr(coq_session, "CoqProcess", _KilledWhileLoading)
    monkeypatch.setattr(_KilledWhileLoading, "kills", 1)
    th = Theorem("t", "x + 0 = x", header=REALS, binders="(x : R)")
    with CoqSession(th) as s:
        assert _KilledWhileLoading.kills == 0 and s.stats.restarts == 1
        assert s.run_tactic(s.root, "lra") == TacticOk(())


@requires_coq
def test_coq_killed_at_every_start_is_an_environment_crash(monkeypatch):
    monkeypatch.setattr(coq_session, "CoqProcess", _KilledWhileLoading)
    monkeypatch.setattr(_KilledWhileLoading, "kills", 2)
    th = Theorem("t", "x + 0 = x", header=REALS, binders="(x : R)")
    with pytest.raises(EnvironmentCrash, match="coqidetop failed while loading t"):
        CoqSession(th, CoqConfig(max_retries=1))
    assert _KilledWhileLoading.kills == 0  # the start and its one restart both died


# ---------------------------------------------------------------- statements Coq would run


@pytest.mark.parametrize(
    "theorem, words",
    [
        (Theorem("t", "True", header='Timeout 0x3 Redirect "pwned" Print nat.'), "forbidden in the header: Redirect"),
        (Theorem("t", "True", header='Require Extraction.\nExtraction "pwned" nat.'), "forbidden in the header: extraction"),
        (Theorem("t", 'True. Redirect "pwned" Print nat. Lemma u : True'), "forbidden in the statement: Redirect"),
        (Theorem("t", "True. Lemma u : True"), "not a single declaration"),
    ],
)
def test_a_statement_that_would_run_a_command_is_invalid(theorem, words, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(InvalidStatement, match=words):
        CoqSession(theorem)
    assert not list(tmp_path.iterdir())
