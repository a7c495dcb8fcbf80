"""The environment failing mid-search, for real: coqidetop SIGKILLed between tactics, tactics that run
past their time limit, and a restart that cannot succeed. The tree must stay consistent; the attempt
ends as env_error only when recovery fails."""

import dataclasses

import pytest

from formal import Theorem
from formal.coq.checker import verify_proof
from formal.coq.session import CoqConfig, CoqSession
from search.andor import AndOrConfig, AndOrProver
from search.attempt import Status
from search.policy import ScriptedPolicy
from tests.conftest import requires_coq

pytestmark = requires_coq

THEOREM = Theorem(
    "both_sides", "n + 0 = n /\\ (forall m : nat, m = m)", header="From Coq Require Import Lia.", binders="(n : nat)"
)
HANG = "do 100000000 (try discriminate)"  # runs past any time limit
TACTICS = ["split", "lia", "reflexivity", "simpl", "exact I"]


class CrashingSession:
    """A real CoqSession whose coqidetop is killed (SIGKILL) just before the tactics numbered in `kill_at`;
    with `break_restart`, the restart that follows cannot start a new process either."""

    def __init__(self, session: CoqSession, kill_at: set[int], break_restart: bool = False) -> None:
        self.session, self.kill_at, self.break_restart = session, kill_at, break_restart
        self.theorem, self.root, self.stats = session.theorem, session.root, session.stats
        self.calls = 0

    def run_tactic(self, state, tactic):
        self.calls += 1
        if self.calls in self.kill_at and self.session._proc is not None:
            self.session._proc.kill()
            if self.break_restart:
                self.session.config = dataclasses.replace(self.session.config, coqidetop="/nonexistent/coqidetop")
        return self.session.run_tactic(state, tactic)

    def close(self) -> None:
        self.session.close()


def _verify(script: str) -> tuple[bool, str]:
    v = verify_proof(THEOREM, script)
    return v.verified, v.message or v.reason


def _prove(kill_at: set[int], break_restart: bool = False, seed: int = 3, tactics=TACTICS):
    prover = AndOrProver(ScriptedPolicy(tactics, seed=seed), AndOrConfig(k=len(tactics), max_expansions=40, max_env_errors=2))
    with CoqSession(THEOREM, CoqConfig(tactic_timeout_s=1.0, grace_s=2.0)) as real:
        session = CrashingSession(real, kill_at, break_restart)
        attempt = prover.prove(THEOREM.name, session, _verify)
    return attempt, prover, real.stats


def test_killed_processes_are_restarted_and_the_search_still_proves():
    attempt, prover, stats = _prove(kill_at={2, 4, 7})
    assert attempt.status is Status.PROVED, attempt.message
    assert attempt.message == "verified" and "split" in attempt.proof
    assert stats.restarts >= 2 and stats.env_errors == 0
    assert stats.replayed > 0  # the restarted process was brought back to the branch it was on
    prover.last_tree.root.check_invariants()


def test_tactics_past_their_time_limit_are_invalid_not_fatal():
    attempt, prover, stats = _prove(kill_at=set(), tactics=[*TACTICS, HANG])
    assert attempt.status is Status.PROVED
    assert stats.timeouts >= 1  # the hanging tactic was tried (k = every tactic at every state)
    root = prover.last_tree.root
    assert HANG in root.invalid_tactics
    root.check_invariants()


def test_an_unrecoverable_environment_ends_the_attempt_as_env_error():
    attempt, prover, stats = _prove(kill_at={3}, break_restart=True)
    assert attempt.status is Status.ENV_ERROR
    assert "restart failed" in attempt.message or "nonexistent" in attempt.message
    assert stats.env_errors >= 2 and attempt.proof is None
    prover.last_tree.root.check_invariants()  # the tree built before the failure is intact


@pytest.mark.parametrize("kill_at", [{1}, {1, 2, 3}])
def test_kills_at_the_very_start_cost_only_restarts(kill_at):
    attempt, _, stats = _prove(kill_at=kill_at, seed=5)
    assert attempt.status is Status.PROVED
    assert stats.restarts >= len(kill_at)
