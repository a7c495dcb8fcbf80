"""`proofzero rl [CONFIG] [key=value ...]`: the AlphaZero loop (train/rl.py) on a suite's RL pool.

CONFIG is a YAML under `configs/rl/` (default `rl/laptop.yaml`) or a path. The suite is split by name
hash into an RL pool (attempted, learned from) and a held-out pool (only evaluated), recorded in
`RUN_DIR/pools.json`. Actors play with `actors` (an eval prover config: AND-OR by default, HTPS
selectable, candidates and batching as in `proofzero eval`) on the newest published checkpoint; the
held-out pool is evaluated by its own provers at the fixed `heldout.budget`, rows under
`RUN_DIR/heldout/round_N/results.json`. Rerunning the same command resumes (docs/rl.md).
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import threading
from dataclasses import dataclass, field
from pathlib import Path

from data.problems import PoolConfig
from eval.config import EvalConfig
from proofzero.cli import UserError
from proofzero.config import CONFIG_DIR, load_config, resolve_config_path, split_overrides, to_dict
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
    cfg = load_config(RLConfig, path, overrides)
    run_dir = Path(cfg.run_dir)
    check_output_dir(run_dir, "run_dir")

    for name in ("lightning.pytorch", "lightning.fabric"):  # one log format: ours
        logging.getLogger(name).handlers.clear()
        logging.getLogger(name).propagate = True

    from data.problems import build_pools
    from eval.attempts import make_pools
    from eval.games import play
    from formal.suite import SuiteError
    from train.checkpoint import CheckpointError
    from train.data import DataError
    from train.rl import RLLoop
    from train.rl_report import format_table
    from train.trainer import TrainSetupError

    try:
        pools = build_pools(cfg.pool, root=REPO)
    except (SuiteError, OSError) as e:
        raise UserError(f"pool.suite={cfg.pool.suite}: {e}") from None
    if not pools.rl:
        raise UserError(f"pool: no RL problems in {cfg.pool.suite} at rl_fraction={cfg.pool.rl_fraction}")
    run_dir.mkdir(parents=True, exist_ok=True)
    from train.rl import _write_json

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
    actors_cfg = cfg.actors
    by_name = {t.name: t for t in pools.rl}
    policies = CheckpointPolicies(actors_cfg, backend)
    heldout_policies = CheckpointPolicies(actors_cfg, backend)

    with make_pools(actors_cfg, max_idle=cfg.workers) as env_pools:

        def play_pick(pick, checkpoint):
            policy_for = policies.get(checkpoint)
            return play(by_name[pick.problem], pick.mode, pick.budget, actors_cfg, policy_for, env_pools,
                        pick.id, source=pools.suite.name)

        def evaluate(checkpoint, round_):
            return _evaluate_heldout(cfg, pools.heldout, heldout_policies.get(checkpoint), run_dir, round_,
                                     progress=not args.no_progress)

        loop = RLLoop(cfg, learner, run_dir, sorted(by_name), play_pick,
                      evaluate if cfg.eval_every else None, init_checkpoint=init,
                      progress=not args.no_progress, role=cfg.role)
        try:
            summary = loop.run()
        except (DataError, TrainSetupError, CheckpointError) as e:
            raise UserError(str(e)) from None
        finally:
            policies.close()
            heldout_policies.close()
    print(format_table(summary, loop.rows()))
    return 0


def _evaluate_heldout(cfg: RLConfig, suite, policy_for, run_dir: Path, round_: int, progress: bool) -> dict:
    """The held-out pool at the fixed held-out budget, through eval's runner (rows resumable as in eval)."""
    from eval.attempts import Artifacts, make_pools, make_prove_one
    from eval.games import with_budget
    from eval.runner import run_suite, summary_numbers
    from proofzero.prove import limit_suite

    suite = limit_suite(suite, cfg.heldout.limit)
    ecfg = dataclasses.replace(with_budget(cfg.actors, cfg.heldout.budget), attempts=cfg.heldout.attempts,
                               workers=cfg.heldout.workers, records=False, trees="none")
    out = run_dir / "heldout" / f"round_{round_:04d}"
    out.mkdir(parents=True, exist_ok=True)
    artifacts = Artifacts(out, "none", 0, records=False, source=suite.name)
    with make_pools(ecfg, max_idle=ecfg.workers) as pools:
        prove_one = make_prove_one(ecfg, policy_for, artifacts, pools)
        result = run_suite(suite, prove_one, out / "results.json", {**to_dict(ecfg), "round": round_},
                           ecfg.budget_text(), ecfg.workers, progress=progress)
    nums = summary_numbers(result)["all"]
    proved = nums["proved"] + nums["disproved"]
    return {"proved": proved, "total": nums["total"], "valid": nums["total"] - nums["invalid_statement"],
            "pass_rate": nums["pass_rate"], "pass_rate_valid": nums["pass_rate_valid"],
            "tactics": sum(r.tactics_used for r in result.rows), "budget": ecfg.budget_text(),
            "results": str(out / "results.json"), "seconds": round(result.seconds, 1)}
