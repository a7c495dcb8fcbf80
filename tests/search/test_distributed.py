"""Provers and the policy server on a real local Ray, proving real Coq theorems.

A prover actor that dies (here: it SIGKILLs itself, as a segfault or the OOM killer would) costs
its theorem a retry on a fresh actor, never the run; one that dies every time ends as env_error.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

pytest.importorskip("ray")

import ray  # noqa: E402

from eval.runner import run_suite  # noqa: E402
from formal.coq.pool import ProcessPool  # noqa: E402
from formal.suite import load_suite  # noqa: E402
from formal.theorem import Theorem  # noqa: E402
from proofzero.prove import ProveConfig, make_prove_one  # noqa: E402
from search.attempt import Attempt, Status  # noqa: E402
from search.automation import AutomationConfig  # noqa: E402
from search.distributed import (  # noqa: E402
    ActorOptions,
    PolicyServerConfig,
    RayConfig,
    RayPolicyServer,
    RayProverPool,
    RemotePolicy,
    ray_session,
)
from search.policy import Evaluation, ScriptedPolicy, Suggestion  # noqa: E402
from tests.conftest import requires_coq  # noqa: E402

LOCAL = RayConfig(num_cpus=2, object_store_mb=200, log_to_driver=False)
PROVE = ProveConfig(hammer="off", automation=AutomationConfig(portfolio=("reflexivity", "lia")))


@pytest.fixture(scope="module")
def ray_local():
    with ray_session(LOCAL):
        yield


# -- factories: built inside each actor ---------------------------------------------------------


@dataclass
class _CoqProver:
    prove_one: object
    pool: ProcessPool

    def __call__(self, theorem: Theorem) -> Attempt:
        return self.prove_one(theorem)

    def close(self) -> None:
        self.pool.close()


@dataclass(frozen=True)
class CrashingAutomation:
    """The automation prover with its own warm Coq processes, which kills its own actor process on
    the theorems in `crash_once` (first try only, remembered by a marker file) and `crash_always`."""

    cfg: ProveConfig
    marker_dir: str
    crash_once: tuple[str, ...] = ()
    crash_always: tuple[str, ...] = ()

    def __call__(self) -> _CoqProver:
        pool = ProcessPool(self.cfg.coq.argv(), self.cfg.coq.memory_mb, self.cfg.coq.start_timeout_s, max_idle=1)
        inner = make_prove_one(self.cfg, pool)

        def prove_one(theorem: Theorem) -> Attempt:
            if theorem.name in self.crash_once + self.crash_always:
                tries = list(Path(self.marker_dir).glob(f"{theorem.name}.*"))
                if theorem.name in self.crash_always or not tries:
                    (Path(self.marker_dir) / f"{theorem.name}.{len(tries)}").touch()
                    os.kill(os.getpid(), signal.SIGKILL)
            return inner(theorem)

        return _CoqProver(prove_one, pool)


@dataclass(frozen=True)
class PidProver:
    """No Coq: answers with the actor's pid; sleeps `sleep_s` on theorems named `slow*`, raises on `bug*`."""

    sleep_s: float = 0.0

    def __call__(self):
        def prove_one(theorem: Theorem) -> Attempt:
            if theorem.name.startswith("slow"):
                threading.Event().wait(self.sleep_s)
            if theorem.name.startswith("bug"):
                raise ValueError(f"a bug in the prover on {theorem.name}")
            return Attempt(theorem.name, Status.FAILED, message=str(os.getpid()))

        return prove_one


def _suite(tmp_path: Path, names: Sequence[str]):
    d = tmp_path / "suite"
    d.mkdir()
    for i, name in enumerate(names):
        (d / f"{name}.v").write_text(
            f"Require Import Arith.\n\nTheorem {name} : forall n : nat, n + {i} = {i} + n.\nProof.\n"
        )
    return load_suite(d)


def _run(tmp_path: Path, factory, cfg: RayConfig, names: Sequence[str]):
    suite = _suite(tmp_path, names)
    out = tmp_path / "results.json"
    with RayProverPool(factory, cfg) as pool:
        run_suite(suite, pool, out, {"ray": "test"}, "pass@1", workers=cfg.num_actors, progress=False)
        deaths = pool.deaths
    return json.loads(out.read_text()), deaths


# -- provers ------------------------------------------------------------------------------------

NAMES = ("plus_0", "plus_1", "victim", "plus_3", "plus_4")


@pytest.mark.slow
@requires_coq
def test_a_crashed_actor_costs_a_retry_not_the_run(ray_local, tmp_path):
    markers = tmp_path / "markers"
    markers.mkdir()
    factory = CrashingAutomation(PROVE, str(markers), crash_once=("victim",))
    data, deaths = _run(tmp_path, factory, RayConfig(num_actors=2, max_retries=2), NAMES)

    names = [r["name"] for r in data["results"]]
    assert sorted(names) == sorted(NAMES)  # every theorem exactly once
    assert all(r["status"] == "proved" for r in data["results"]), data["results"]
    assert {r["name"]: r["proof"] for r in data["results"]}["victim"] == "intros.\nlia."
    assert sorted(p.name for p in markers.iterdir()) == ["victim.0"]  # it did crash, once
    assert deaths == 1


@pytest.mark.slow
@requires_coq
def test_an_actor_that_dies_every_time_is_an_env_error(ray_local, tmp_path):
    markers = tmp_path / "markers"
    markers.mkdir()
    factory = CrashingAutomation(PROVE, str(markers), crash_always=("victim",))
    data, deaths = _run(tmp_path, factory, RayConfig(num_actors=2, max_retries=1), NAMES)

    rows = {r["name"]: r for r in data["results"]}
    assert len(data["results"]) == len(NAMES) and set(rows) == set(NAMES)
    assert rows["victim"]["status"] == "env_error"
    assert "prover actor died 2 times" in rows["victim"]["message"]
    assert all(rows[n]["status"] == "proved" for n in NAMES if n != "victim")
    assert data["summary"]["all"]["env_error"] == 1 and data["summary"]["all"]["proved"] == 4
    assert sorted(p.name for p in markers.iterdir()) == ["victim.0", "victim.1"]
    assert deaths == 2


def _wait_dead(actor, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            ray.get(actor.ready.remote(), timeout=5)
        except ray.exceptions.RayActorError:
            return
        time.sleep(0.2)
    raise AssertionError("the killed actor still answers")


def test_an_actor_killed_from_outside_is_replaced(ray_local):
    with RayProverPool(PidProver(), RayConfig(num_actors=1, actor_options=ActorOptions(num_cpus=0.5))) as pool:
        first = pool(Theorem("a", "True"))
        dead = pool.actors[0]
        ray.kill(dead)
        _wait_dead(dead)  # ray.kill is asynchronous: a call sent at once may still reach the old process
        second = pool(Theorem("b", "True"))
        assert first.message != second.message  # proved on a fresh actor process
        assert pool.deaths == 1


def test_a_bug_in_the_prover_is_raised_not_retried(ray_local):
    with RayProverPool(PidProver(), RayConfig(num_actors=1, actor_options=ActorOptions(num_cpus=0.5))) as pool:
        with pytest.raises(ValueError, match="a bug in the prover on bug_1"):
            pool(Theorem("bug_1", "True"))
        assert pool.deaths == 0 and pool(Theorem("ok", "True")).status is Status.FAILED


def test_a_hung_try_times_out_and_the_actor_is_replaced(ray_local):
    cfg = RayConfig(num_actors=1, max_retries=0, attempt_timeout_s=1.0, actor_options=ActorOptions(num_cpus=0.5))
    with RayProverPool(PidProver(sleep_s=60), cfg) as pool:
        hung = pool(Theorem("slow", "True"))
        assert hung.status is Status.ENV_ERROR and "timed out after 1s" in hung.message
        assert pool(Theorem("fast", "True")).status is Status.FAILED  # the fresh actor works


# -- the policy server --------------------------------------------------------------------------


@dataclass(frozen=True)
class DigestPolicy:
    """Deterministic per state, whatever the call order or batching: tactics from the state's hash."""

    def evaluate(self, states: Sequence[str], k: int) -> list[Evaluation]:
        out = []
        for s in states:
            h = hashlib.sha256(s.encode()).hexdigest()
            tactics = tuple(Suggestion(f"apply lemma_{h[i:i + 4]}", -float(i)) for i in range(k))
            out.append(Evaluation(tactics, value=-(int(h[:2], 16) % 7)))
        return out


@dataclass(frozen=True)
class _ScriptedFactory:
    tactics: tuple[str, ...]
    value: float
    seed: int

    def __call__(self) -> ScriptedPolicy:
        return ScriptedPolicy(self.tactics, self.value, self.seed)


def _broken_factory():
    raise OSError("no such checkpoint")


@ray.remote(num_cpus=0)
def _evaluate_in_task(policy: RemotePolicy, states: list[str], k: int) -> list[Evaluation]:
    return policy.evaluate(states, k)


STATES = [f"n : nat\n============================\nn + {i} = {i} + n" for i in range(12)]
SERVER = PolicyServerConfig(num_cpus=0, batching=False)


def test_remote_policy_matches_the_inner_policy(ray_local):
    with RayPolicyServer(DigestPolicy, SERVER) as server:
        remote = server.policy(timeout_s=60)
        assert remote.evaluate(STATES[:3], 4) == DigestPolicy().evaluate(STATES[:3], 4)
        # many callers at once: threads here, and a task holding the pickled client
        results: dict[int, list[Evaluation]] = {}
        threads = [threading.Thread(target=lambda i=i: results.__setitem__(i, remote.evaluate([STATES[i]], 3)))
                   for i in range(len(STATES))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert [results[i][0] for i in range(len(STATES))] == DigestPolicy().evaluate(STATES, 3)
        assert ray.get(_evaluate_in_task.remote(remote, STATES, 2)) == DigestPolicy().evaluate(STATES, 2)
        assert server.stats() == {"calls": 2 + len(STATES), "states": 3 + 2 * len(STATES), "batches": 2 + len(STATES)}


def test_a_seeded_policy_served_remotely_gives_the_same_sequence(ray_local):
    args = dict(tactics=("lia", "ring", "auto", "easy"), value=-2.0, seed=7)
    with RayPolicyServer(_ScriptedFactory(**args), SERVER) as server:
        remote, local = server.policy(), ScriptedPolicy(**args)
        for k in (1, 3, 4):
            assert remote.evaluate(STATES[:2], k) == local.evaluate(STATES[:2], k)


def test_the_server_batches_concurrent_calls(ray_local):
    """Twelve provers ask at once; the first call's batch waits up to a second for the others."""
    pytest.importorskip("search.batching")
    cfg = PolicyServerConfig(num_cpus=0, batching=True, max_batch=16, max_wait_ms=1000)
    with RayPolicyServer(DigestPolicy, cfg) as server:
        remote = server.policy(timeout_s=60)
        start = threading.Barrier(len(STATES))
        results: dict[int, list[Evaluation]] = {}

        def ask(i: int) -> None:
            start.wait()
            results[i] = remote.evaluate([STATES[i]], 2)

        threads = [threading.Thread(target=ask, args=(i,)) for i in range(len(STATES))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert [results[i][0] for i in range(len(STATES))] == DigestPolicy().evaluate(STATES, 2)
        stats = server.stats()
        assert stats["calls"] == len(STATES) and stats["batches"] < stats["calls"]


def test_a_factory_that_fails_fails_at_start(ray_local):
    with pytest.raises(RuntimeError, match="failed to start"):
        RayPolicyServer(_broken_factory, SERVER)
