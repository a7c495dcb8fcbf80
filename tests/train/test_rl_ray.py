"""The RL loop's games on Ray actors (actors.runner=ray) on a real local Ray and real Coq: the game
comes back with its checker-verified record, and an actor that died costs its game a retry."""

from __future__ import annotations

import dataclasses
import json

import pytest

pytest.importorskip("ray")

import ray  # noqa: E402

from eval.config import EvalConfig, PolicyConfig  # noqa: E402
from formal.theorem import Theorem  # noqa: E402
from proofzero.rl import GameActorFactory, GameRequest, _gave_up  # noqa: E402
from search.distributed import ActorOptions, RayConfig, RayProverPool, ray_session  # noqa: E402
from tests.conftest import requires_coq  # noqa: E402
from tests.search.test_distributed import _wait_dead  # noqa: E402

pytestmark = [pytest.mark.slow, requires_coq]

RAY = RayConfig(num_actors=1, num_cpus=2, object_store_mb=200, log_to_driver=False, max_retries=1,
                actor_options=ActorOptions(num_cpus=0.5))
ACTORS = EvalConfig(prover="andor", runner="ray", ray=RAY, records=False, trees="none",
                    policy=PolicyConfig(kind="candidates", candidates=["intros", "lia", "discriminate"]))
LE = Theorem("le_sum", "forall a b : nat, a <= a + b")


def test_a_game_on_a_ray_actor_survives_the_actors_death():
    with ray_session(RAY), RayProverPool(GameActorFactory(ACTORS, "coq", "test"), RAY,
                                         name=lambda r: r.name, give_up=_gave_up) as pool:
        first = pool(GameRequest(LE, "prove", 6, "r0000-0000", None))
        assert first.status == "proved" and first.record is not None  # verified: its record travels back
        assert first.record.traced_tactics[-1].tactic == "lia"
        dead = pool.actors[0]
        ray.kill(dead)
        _wait_dead(dead)
        second = pool(GameRequest(Theorem("wrong", "2 + 2 = 5"), "disprove", 6, "r0000-0001", None))
        assert second.status == "disproved" and second.record is not None
        assert pool.deaths == 1  # played on a fresh actor, not lost


def test_a_game_whose_actors_keep_dying_is_an_env_error_not_a_failure():
    cfg = dataclasses.replace(RAY, max_retries=0, attempt_timeout_s=0.001)  # every try times out
    with ray_session(cfg), RayProverPool(GameActorFactory(ACTORS, "coq", "test"), cfg,
                                         name=lambda r: r.name, give_up=_gave_up) as pool:
        r = pool(GameRequest(LE, "prove", 6, "r0000-0002", None))
        assert r.status == "env_error" and r.record is None
        assert "timed out" in r.message


def test_the_loop_on_ray_actors_end_to_end(rl_setup, tmp_path):
    """`proofzero rl actors.runner=ray`: games and the held-out evaluation on Ray actors, the actors
    playing the learner's published checkpoint in the second round."""
    from tests.train.conftest import run_cli
    from tests.train.test_rl_loop import args, check_invariants

    run_dir = tmp_path / "run"
    ray_args = ["actors.runner=ray", "actors.ray.num_actors=1", "actors.ray.num_cpus=2",
                "actors.ray.log_to_driver=false", "actors.ray.actor_options.num_cpus=0.5", "workers=1"]
    run_cli(*args(rl_setup, run_dir, *ray_args), timeout=900)
    summary = check_invariants(run_dir)
    assert summary["proved"] >= 1
    games = [json.loads(x) for x in (run_dir / "games.jsonl").read_text().splitlines()]
    assert {g["checkpoint"] for g in games if g["round"] == 1} == {"step_00000003"}
    held = json.loads((run_dir / "heldout" / "round_0002" / "results.json").read_text())
    assert held["config"]["runner"] == "ray" and held["config"]["policy"]["checkpoint"].endswith("step_00000006")


def test_a_cluster_too_small_for_the_actors_is_a_clear_error(rl_setup, tmp_path):
    from tests.train.conftest import run_cli
    from tests.train.test_rl_loop import args

    proc = run_cli(*args(rl_setup, tmp_path / "run", "actors.runner=ray", "actors.ray.num_actors=3",
                         "actors.ray.num_cpus=2", "actors.ray.log_to_driver=false"), check=False, timeout=300)
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "need 6 CPUs, Ray has 2" in proc.stderr
