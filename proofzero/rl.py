"""`proofzero rl [CONFIG] [key=value ...]`: the AlphaZero loop (train/rl.py) on a suite's RL pool.

CONFIG is a YAML under `configs/rl/` (default `rl/laptop.yaml`) or a path. The suite is split by name
hash into an RL pool (attempted, learned from) and a held-out pool (only evaluated), recorded in
`RUN_DIR/pools.json`. Actors play with `actors` (an eval prover config: AND-OR by default, HTPS
selectable, candidates and batching as in `proofzero eval`) on the newest published checkpoint; the
held-out pool is evaluated by its own provers at the fixed `heldout.budget`, rows under
`RUN_DIR/heldout/round_N/results.json`. Rerunning the same command resumes (docs/rl.md).
`--profile NAME` puts a cluster profile (`configs/cluster/`) between CONFIG and the overrides. Under
Slurm, role=learner may run as several tasks (one per GPU, slurm/rl.sbatch): task 0 runs the loop, the
others join its learner (`RLLoop.follow`).
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import logging
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path

from data.problems import PoolConfig
from eval.config import EvalConfig
from proofzero.cli import UserError
from proofzero.config import CONFIG_DIR, load_config, read_profile, resolve_config_path, split_overrides, to_dict
from proofzero.outputs import check_output_dir
from train.config import TrainConfig
from train.rl import LoopConfig

log = logging.getLogger(__name__)

TRAILING_POSITIONALS = "rest"
REPO = CONFIG_DIR.parent


@dataclass(frozen=True)
class HeldoutConfig:
    budget: int = 16  # expansions per theorem (the prover's max_expansions), the same for every evaluation
    attempts: int = 1
    workers: int = 2
    limit: int = 0  # only the first N held-out names (laptop runs); 0: the whole held-out pool
    trees: str = "none"  # search-tree views per evaluation (heldout/round_N/trees/): proved | all | none
    max_trees: int = 3

    def __post_init__(self) -> None:
        if self.budget < 1 or self.attempts < 1 or self.workers < 1 or self.limit < 0 or self.max_trees < 0:
            raise ValueError("heldout: budget, attempts and workers must be >= 1, limit and max_trees >= 0")
        if self.trees not in ("proved", "all", "none"):
            raise ValueError(f"heldout.trees must be proved, all or none, got {self.trees!r}")


@dataclass(frozen=True)
class RLConfig(LoopConfig):
    run_dir: str = "runs/rl"
    init_from: str = ""  # the SFT model (an export dir or a checkpoint): the learner starts from it, the actors play it first
    sft_data: str = ""  # the SFT dataset (`proofzero dataset` output) whose rows the learner mixes in
    sft_fraction: float = 0.1  # of every learner batch
    role: str = "all"  # all | learner | actors (schedule=async, one process each: slurm/rl.sbatch)
    pool: PoolConfig = field(default_factory=PoolConfig)
    actors: EvalConfig = field(default_factory=EvalConfig)
    heldout: HeldoutConfig = field(default_factory=HeldoutConfig)
    learner: TrainConfig = field(default_factory=lambda: TrainConfig(stage="rl"))

    def __post_init__(self) -> None:
        super().__post_init__()
        if not 0.0 <= self.sft_fraction <= 1.0:
            raise ValueError("sft_fraction must be in [0, 1]")
        if self.actors.prover == "automation":
            raise ValueError("actors.prover=automation keeps no proof tree to learn from: use andor, htps or bestfirst")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("rest", nargs="*", metavar="CONFIG|key=value",
                   help="a config (path or name under configs/; default rl/laptop.yaml) and key=value overrides")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.add_argument("--profile", default=None, metavar="NAME",
                   help="a cluster profile on top of the config (configs/cluster/): "
                        "its train keys go to learner.*, its eval keys to actors.*")


class CheckpointPolicies:
    """The actors' network policy for each published checkpoint, loaded once; the two newest are kept
    (games still in flight on the previous one finish on it)."""

    def __init__(self, cfg: EvalConfig, backend: str) -> None:
        from proofzero.eval import Policies

        self.cfg, self.backend, self._make = cfg, backend, Policies
        self._lock = threading.Lock()
        self._loaded: dict[str, tuple[object, object]] = {}  # path -> (Policies, policy_for)

    def get(self, checkpoint: Path | None):
        cfg = self.cfg
        if not cfg.uses_policy or cfg.policy.kind != "network":
            from eval.attempts import candidate_policies, scripted_policies

            return scripted_policies(cfg) if cfg.policy.kind == "scripted" else candidate_policies(cfg, self.backend)
        if checkpoint is None:
            raise UserError("the actors' network has no checkpoint: set init_from (the SFT model)")
        key = str(checkpoint)
        with self._lock:
            if key not in self._loaded:
                policies = self._make()
                c = dataclasses.replace(cfg, policy=dataclasses.replace(cfg.policy, checkpoint=key))
                self._loaded[key] = (policies, policies.policy_for(c, self.backend))
                for old in list(self._loaded)[:-2]:
                    self._loaded.pop(old)[0].close()
            return self._loaded[key][1]

    def close(self) -> None:
        for policies, _ in self._loaded.values():
            policies.close()
        self._loaded.clear()


@dataclass(frozen=True)
class GameRequest:
    """One game as a Ray actor receives it (picklable)."""

    theorem: object  # formal.theorem.Theorem
    mode: str
    budget: int
    game_id: str
    checkpoint: str | None  # the published export to play with (None: a model-free policy)

    @property
    def name(self) -> str:
        return f"{self.theorem.name}/{self.game_id}"


@dataclass(frozen=True)
class GameActorFactory:
    """Builds a game player inside a Ray actor: its own Coq/Lean processes and its own copy of each
    checkpoint it is asked to play (the two newest are kept)."""

    cfg: EvalConfig
    backend: str
    source: str

    def __call__(self) -> GameActor:
        from eval.attempts import make_pools

        return GameActor(self, make_pools(self.cfg, max_idle=1), CheckpointPolicies(self.cfg, self.backend))


@dataclass
class GameActor:
    factory: GameActorFactory
    pools: object
    policies: CheckpointPolicies

    def __call__(self, req: GameRequest):
        from eval.games import play

        f = self.factory
        policy_for = self.policies.get(Path(req.checkpoint) if req.checkpoint else None)
        return play(req.theorem, req.mode, req.budget, f.cfg, policy_for, self.pools, req.game_id, source=f.source)

    def close(self) -> None:
        self.policies.close()
        self.pools.close()


def _no_games(pick, checkpoint):
    raise RuntimeError("role=learner plays no games")


def _gave_up(req: GameRequest, message: str):
    """A game whose actors kept dying: an environment failure, not a failed proof."""
    from eval.games import GameResult

    return GameResult("env_error", message=message)


@contextlib.contextmanager
def game_players(cfg: RLConfig, by_name: dict, backend: str, source: str, workers: int, eval_actors: bool = True):
    """`play(pick, checkpoint)` for the loop: threads in this process (actors.runner=threads) or
    Ray actors (actors.runner=ray; a dead actor costs its game a retry on a fresh one). `eval_actors`:
    whether an evaluation will start its own actors beside these (the RL loop's held-out pool)."""
    actors_cfg = cfg.actors
    if actors_cfg.runner == "ray":
        try:
            from search.distributed import RayProverPool, ray_session
        except ImportError:
            raise UserError("actors.runner=ray needs Ray: pip install -c constraints.txt -e '.[dist]'") from None
        with contextlib.ExitStack() as stack:
            try:
                stack.enter_context(ray_session(actors_cfg.ray))
            except (RuntimeError, ConnectionError) as e:
                raise UserError(f"Ray: {str(e).splitlines()[0]}") from None
            _check_ray_capacity(cfg, eval_actors)  # before the actors: Ray would wait forever for a CPU
            try:
                pool = stack.enter_context(RayProverPool(GameActorFactory(actors_cfg, backend, source), actors_cfg.ray,
                                                         name=lambda r: r.name, give_up=_gave_up))
            except RuntimeError as e:
                raise UserError(str(e)) from None

            def play_on_ray(pick, checkpoint):
                return pool(GameRequest(by_name[pick.problem], pick.mode, pick.budget, pick.id,
                                        str(checkpoint) if checkpoint is not None else None))

            yield play_on_ray
        return
    from eval.attempts import make_pools
    from eval.games import play

    policies = CheckpointPolicies(actors_cfg, backend)
    try:
        with make_pools(actors_cfg, max_idle=workers) as env_pools:

            def play_here(pick, checkpoint):
                return play(by_name[pick.problem], pick.mode, pick.budget, actors_cfg, policies.get(checkpoint),
                            env_pools, pick.id, source=source)

            yield play_here
    finally:
        policies.close()


def _check_ray_capacity(cfg: RLConfig, eval_actors: bool = True) -> None:
    """Game actors hold their CPUs for the whole run; the held-out evaluation starts its own actors
    beside them. Refuse a cluster too small for both rather than wait forever for a free CPU."""
    import ray

    ray_cfg = cfg.actors.ray
    per_actor = ray_cfg.actor_options.num_cpus
    heldout_here = eval_actors and bool(cfg.eval_every) and cfg.role == "all"  # role=actors: the learner's process evaluates
    need = ray_cfg.num_actors * per_actor * (2 if heldout_here else 1)
    have = ray.cluster_resources().get("CPU", 0.0)
    if need > have:
        raise UserError(f"actors.runner=ray: {ray_cfg.num_actors} game actors x {per_actor:g} CPU"
                        f"{' + as many held-out actors' if heldout_here else ''} need {need:g} CPUs, Ray has {have:g}; "
                        "lower actors.ray.num_actors or actors.ray.actor_options.num_cpus")


def _quiet_lightning() -> None:
    """One log format (ours); the learner launches every round, and its device/tip/restore lines say nothing."""
    import train.trainer  # noqa: F401 -- Lightning installs its log handlers on import: clear them after

    for name in ("lightning", "lightning.pytorch", "lightning.fabric"):
        logging.getLogger(name).handlers.clear()
        logging.getLogger(name).propagate = True
        logging.getLogger(name).setLevel(logging.WARNING)


def _resolve(path: str) -> str:
    if not path:
        return path
    p = Path(path)
    return str(p if p.is_absolute() or p.exists() else REPO / p)


def run(args: argparse.Namespace) -> int:
    import transformers

    transformers.utils.logging.disable_progress_bar()  # "Loading weights" bars on every publish say nothing
    configs, overrides = split_overrides(args.rest)
    if len(configs) > 1:
        raise UserError(f"one CONFIG at most, got {configs}")
    path = configs[0] if configs else "rl/laptop.yaml"
    resolve_config_path(path)
    profile = read_profile(args.profile, "rl") if args.profile else None
    cfg = load_config(RLConfig, path, overrides, profile)
    run_dir = Path(cfg.run_dir)
    check_output_dir(run_dir, "run_dir")
    rank = _learner_rank(cfg)

    _quiet_lightning()

    from data.mathscale.formal import MathScaleSourceError
    from data.problems import build_pools
    from data.shards import TraceInputError
    from formal.suite import SuiteError
    from train.checkpoint import CheckpointError
    from train.data import DataError
    from train.rl import RLLoop
    from train.rl_report import format_table
    from train.trainer import TrainSetupError

    try:
        pools = build_pools(cfg.pool, root=REPO)
    except (SuiteError, TraceInputError, MathScaleSourceError, OSError) as e:  # the suite, a pool.traced or pool.mathscale dir
        raise UserError(f"pool: {e}") from None
    if not pools.rl:
        raise UserError(f"pool: no RL problems in {cfg.pool.suite} at rl_fraction={cfg.pool.rl_fraction}")
    run_dir.mkdir(parents=True, exist_ok=True)
    from train.rl import _write_json

    if rank == 0:
        _write_json(run_dir / "pools.json", pools.describe())
        _write_json(run_dir / "config.json", to_dict(cfg))
    backend = "lean" if pools.suite.format == "lean4" else "coq"
    init = Path(_resolve(cfg.init_from)) if cfg.init_from else None
    if init is not None and not init.exists():
        raise UserError(f"init_from={cfg.init_from}: no such export or checkpoint")
    learner = dataclasses.replace(
        cfg.learner, init_from=str(init) if init else cfg.learner.init_from, seed=cfg.seed,
        progress=cfg.learner.progress and not args.no_progress,
        data=dataclasses.replace(cfg.learner.data, path=_resolve(cfg.sft_data) or cfg.learner.data.path,
                                 sft_fraction=cfg.sft_fraction))
    by_name = {t.name: t for t in pools.rl}
    heldout_policies = CheckpointPolicies(cfg.actors, backend)

    def evaluate(checkpoint, round_):
        return _evaluate_heldout(cfg, pools.heldout, heldout_policies, checkpoint, run_dir, round_,
                                 progress=not args.no_progress)

    players = (contextlib.nullcontext(_no_games) if cfg.role == "learner"  # the actors' process plays
               else game_players(cfg, by_name, backend, pools.suite.name, cfg.workers))
    with players as play_pick:
        loop = RLLoop(cfg, learner, run_dir, sorted(by_name), play_pick,
                      evaluate if cfg.eval_every else None, init_checkpoint=init,
                      progress=not args.no_progress, role=cfg.role)
        if rank > 0:
            try:
                loop.follow()
            except (DataError, TrainSetupError, CheckpointError) as e:
                raise UserError(str(e)) from None
            finally:
                heldout_policies.close()
            return 0
        try:
            summary = loop.run()
        except (DataError, TrainSetupError, CheckpointError) as e:
            raise UserError(str(e)) from None
        finally:
            heldout_policies.close()
    print(format_table(summary, loop.rows()))
    return 0


def _learner_rank(cfg: RLConfig) -> int:
    """This learner task's rank among several (Slurm tasks of role=learner), 0 otherwise."""
    from train import slurm

    if cfg.role != "learner" or not slurm.in_slurm_job():
        return 0
    return int(os.environ.get("SLURM_PROCID", "0") or 0)


def _evaluate_heldout(cfg: RLConfig, suite, policies: CheckpointPolicies, checkpoint: Path | None, run_dir: Path,
                      round_: int, progress: bool) -> dict:
    """The held-out pool at the fixed held-out budget, through `proofzero eval`'s runner (threads, or
    its own Ray actors with actors.runner=ray; rows resumable as in eval)."""
    from eval.games import with_budget
    from eval.runner import summary_numbers
    from proofzero.eval import evaluate
    from proofzero.prove import limit_suite

    suite = limit_suite(suite, cfg.heldout.limit)
    ecfg = dataclasses.replace(with_budget(cfg.actors, cfg.heldout.budget), attempts=cfg.heldout.attempts,
                               workers=cfg.heldout.workers, records=False, trees=cfg.heldout.trees,
                               max_trees=cfg.heldout.max_trees)
    if checkpoint is not None and ecfg.policy.kind == "network":
        ecfg = dataclasses.replace(ecfg, policy=dataclasses.replace(ecfg.policy, checkpoint=str(checkpoint)))
    if ecfg.runner == "ray" and ecfg.uses_policy and ecfg.policy.kind == "network" and checkpoint is None:
        raise UserError("the held-out actors' network has no checkpoint: set init_from (the SFT model)")
    policy_for = policies.get(checkpoint) if ecfg.runner == "threads" else None
    out = run_dir / "heldout" / f"round_{round_:04d}"
    result = evaluate(suite, ecfg, policy_for, out, progress=progress)
    nums = summary_numbers(result)["all"]
    proved = nums["proved"] + nums["disproved"]
    return {"proved": proved, "total": nums["total"], "valid": nums["total"] - nums["invalid_statement"],
            "pass_rate": nums["pass_rate"], "pass_rate_valid": nums["pass_rate_valid"],
            "tactics": sum(r.tactics_used for r in result.rows), "budget": ecfg.budget_text(),
            "results": str(out / "results.json"), "seconds": round(result.seconds, 1)}
