"""Only the trusted checker's verdict makes a row `proved`, for every prover, on real Coq.

The problem's header posits `cheat : forall P, P`; the session runs `apply cheat` and reports the
goal closed, but the checker (told not to trust header axioms) rejects the script. Each prover must
then give `failed` with the checker's reason. Either mutation -- a Coq `verify` that says yes, or a
verdict step that ignores the checker's answer -- turns these rows `proved` and fails the tests.
A checker that cannot finish (time limit) gives no verdict: the row is env_error, never failed or proved.
"""

from __future__ import annotations

import dataclasses

import pytest

from eval.attempts import UNCHECKED, Artifacts, make_prove_one, scripted_policies
from eval.config import EvalConfig, PolicyConfig
from formal.coq.checker import CheckerConfig
from formal.theorem import Theorem
from search.attempt import Status
from tests.conftest import requires_coq

pytestmark = requires_coq
PROVERS = ["andor", "htps", "bestfirst", "automation"]
CHEAT = Theorem("one_is_two", "1 = 2", header="Axiom cheat : forall P : Prop, P.")
HONEST = Theorem("add_zero", "forall n : nat, n + 0 = n")


def _config(prover: str, checker: CheckerConfig, tactics: tuple[str, ...]) -> EvalConfig:
    cfg = EvalConfig(prover=prover, workers=1, policy=PolicyConfig(kind="scripted", tactics=tactics),
                     checker=checker, records=False, trees="none")
    for name in ("andor", "htps", "bestfirst"):
        sub = getattr(cfg, name)
        cfg = dataclasses.replace(cfg, **{name: dataclasses.replace(sub, max_expansions=6, k=len(tactics))})
    return dataclasses.replace(cfg, automation=dataclasses.replace(cfg.automation, portfolio=tactics))


def _prove(prover: str, theorem: Theorem, checker: CheckerConfig, tactics: tuple[str, ...], tmp_path):
    cfg = _config(prover, checker, tactics)
    prove_one = make_prove_one(cfg, scripted_policies(cfg), Artifacts(tmp_path, trees="none", records=False))
    return prove_one(theorem)


@pytest.mark.parametrize("prover", PROVERS)
def test_a_proof_the_checker_rejects_is_failed_with_the_checkers_reason(prover, tmp_path):
    strict = CheckerConfig(timeout_s=30, trust_header_axioms=False)
    row = _prove(prover, CHEAT, strict, ("intros", "apply cheat"), tmp_path)
    assert row.status is Status.FAILED, row
    assert row.proof is None
    assert "checker rejected a claimed proof" in row.message and "cheat" in row.message, row.message


@pytest.mark.parametrize("prover", PROVERS)
def test_the_same_search_with_a_checker_that_accepts_is_proved(prover, tmp_path):
    """The control: what makes the rows above `failed` is the checker's answer, nothing else."""
    trusting = CheckerConfig(timeout_s=30, trust_header_axioms=True)
    row = _prove(prover, CHEAT, trusting, ("intros", "apply cheat"), tmp_path)
    assert row.status is Status.PROVED and row.message == "verified" and "apply cheat" in row.proof


@pytest.mark.parametrize("prover", PROVERS)
def test_a_checker_that_runs_out_of_time_is_an_env_error(prover, tmp_path):
    hurried = CheckerConfig(timeout_s=0.01)
    row = _prove(prover, HONEST, hurried, ("intros", "lia"), tmp_path)
    assert row.status is Status.ENV_ERROR, row
    assert row.message.startswith(UNCHECKED) and "timeout" in row.message
