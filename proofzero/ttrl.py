"""`proofzero ttrl --suite DIR --theorem NAME [NAME ...] [CONFIG] [key=value ...]`: test-time RL.

For each target (one specialist each, under `run_dir/NAME`): rounds of variants (programmatic
strategies, lemmas from the failed target attempts, an LLM if `variants.llm.url` is set), statement
filters, one RL round on target + kept variants with a copy of the network (`--checkpoint`, else
`init_from`), the target attempted every `target_every` rounds at `target.budget`; it stops at the
target's checker-verified proof, or when `rounds` or `max_tactics` are spent. Rerunning the same
command resumes (docs/ttrl.md).
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
from dataclasses import dataclass, field
from pathlib import Path

from data.filters import FilterConfig
from data.variants import STRATEGIES
from data.variants_llm import LLMConfig
from eval.config import EvalConfig
from proofzero.cli import UserError
from proofzero.config import load_config, resolve_config_path, split_overrides, to_dict
from proofzero.outputs import check_output_dir
from train.config import TrainConfig
from train.rl import LoopConfig
from train.ttrl import TargetConfig

log = logging.getLogger(__name__)

TRAILING_POSITIONALS = "rest"


@dataclass(frozen=True)
class VariantConfig:
    strategies: tuple[str, ...] = ("specialise", "fix", "generalise", "weaken", "strengthen", "decompose")
    per_strategy: int = 6  # at most this many variants of each strategy per round (seeded sample); 0: all
    lemmas: int = 8  # open goals of the last failed target attempt made into lemmas, per round
    llm: LLMConfig = field(default_factory=LLMConfig)

    def __post_init__(self) -> None:
        if isinstance(self.strategies, (list, str)):
            object.__setattr__(self, "strategies", tuple([self.strategies] if isinstance(self.strategies, str) else self.strategies))
        unknown = [s for s in self.strategies if s not in STRATEGIES]
        if unknown:
            raise ValueError(f"variants.strategies: unknown {unknown}; known: {sorted(STRATEGIES)}")
        if self.per_strategy < 0 or self.lemmas < 0:
            raise ValueError("variants.per_strategy and variants.lemmas must be >= 0")


@dataclass(frozen=True)
class TTRLConfig(LoopConfig):
    run_dir: str = "runs/ttrl"  # one subdirectory per target
    suite: str = "benchmarks/minif2f-rocq-valid"
    theorem: tuple[str, ...] = ()  # the targets (--theorem)
    init_from: str = ""  # the network the specialist starts from (--checkpoint): an export or a checkpoint
    sft_data: str = ""
    sft_fraction: float = 0.1
    role: str = "all"
    target_every: int = 1
    max_tactics: int = 0
    max_pool: int = 400
    target: TargetConfig = field(default_factory=TargetConfig)
    variants: VariantConfig = field(default_factory=VariantConfig)
    filters: FilterConfig = field(default_factory=FilterConfig)
    actors: EvalConfig = field(default_factory=EvalConfig)
    learner: TrainConfig = field(default_factory=lambda: TrainConfig(stage="rl"))

    def __post_init__(self) -> None:
        super().__post_init__()
        if isinstance(self.theorem, str):
            object.__setattr__(self, "theorem", (self.theorem,))
        if self.actors.prover == "automation":
            raise ValueError("actors.prover=automation keeps no proof tree to learn from: use andor, htps or bestfirst")
        if self.role != "all":
            raise ValueError("ttrl runs one process per target: role must be all")

    def settings(self):
        from train.ttrl import TTRLSettings

        return TTRLSettings(self.target_every, self.max_tactics, self.max_pool, self.target)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("rest", nargs="*", metavar="CONFIG|key=value",
                   help="a config (path or name under configs/; default ttrl/laptop.yaml) and key=value overrides")
    p.add_argument("--suite", help="the suite the targets come from (default: the config's `suite`)")
    p.add_argument("--theorem", nargs="+", metavar="NAME", help="the target(s): one specialist each")
    p.add_argument("--checkpoint", help="the network to specialise: an export, a checkpoint, or an RL run directory "
                   "(its newest published checkpoint); default: the config's init_from")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")


def run(args: argparse.Namespace) -> int:
    import transformers

    from proofzero.rl import _resolve

    transformers.utils.logging.disable_progress_bar()
    names = [n for n in args.theorem or [] if "=" not in n]  # `--theorem A B key=value`: nargs took the override
    configs, overrides = split_overrides([*args.rest, *(n for n in args.theorem or [] if "=" in n)])
    if len(configs) > 1:
        raise UserError(f"one CONFIG at most, got {configs}")
    path = configs[0] if configs else "ttrl/laptop.yaml"
    resolve_config_path(path)
    cfg = load_config(TTRLConfig, path, overrides)
    cfg = dataclasses.replace(cfg, suite=args.suite or cfg.suite, theorem=tuple(names or cfg.theorem),
                              init_from=args.checkpoint or cfg.init_from)
    if not cfg.theorem:
        raise UserError("no target: give --theorem NAME (one or more)")
    check_output_dir(Path(cfg.run_dir), "run_dir")

    from proofzero.rl import _quiet_lightning

    _quiet_lightning()
    from formal.suite import SuiteError, load_suite

    try:
        suite = load_suite(Path(_resolve(cfg.suite)))
    except (SuiteError, OSError) as e:
        raise UserError(f"suite: {e}") from None
    by_name = {t.name: t for t in suite.theorems}
    missing = [n for n in cfg.theorem if n not in by_name]
    if missing:
        raise UserError(f"{suite.name}: no theorem {', '.join(missing)}" + (
            f" ({', '.join(m for m in missing if m in suite.invalid)} do not parse)" if set(missing) & set(suite.invalid) else ""))
    init = Path(_resolve(cfg.init_from)) if cfg.init_from else None
    if init is not None and not init.exists():
        raise UserError(f"checkpoint {cfg.init_from}: no such export or checkpoint")
    if init is not None and (init / "config.json").is_file() and (init / "games.jsonl").exists():
        init = _rl_run_checkpoint(init)
    from train.ttrl_report import format_summary

    summaries = []
    for name in cfg.theorem:
        summary = specialise(cfg, by_name[name], suite.name, init, progress=not args.no_progress)
        print(format_summary(summary))
        summaries.append(summary)
    if len(summaries) > 1:
        print(f"\nTTRL: {sum(s['result'] == 'proved' for s in summaries)}/{len(summaries)} targets proved "
              f"({', '.join(s['target'] for s in summaries if s['result'] == 'proved') or 'none'})")
    return 0


def _rl_run_checkpoint(run_dir: Path) -> Path:
    """An RL run directory's newest published checkpoint; before its first publish, the model it started from."""
    import json

    from train.learner import latest

    found = latest(run_dir)
    if found is not None:
        log.info("specialising %s (the newest checkpoint of the RL run %s)", found[1], run_dir)
        return found[1]
    start = json.loads((run_dir / "config.json").read_text(encoding="utf-8")).get("init_from", "")
    from proofzero.rl import _resolve

    if not start or not Path(_resolve(start)).exists():
        raise UserError(f"checkpoint {run_dir}: an RL run with nothing published and no starting model")
    log.info("the RL run %s has published nothing yet: specialising the model it started from, %s", run_dir, start)
    return Path(_resolve(start))


def specialise(cfg: TTRLConfig, target, source: str, init: Path | None, progress: bool = True) -> dict:
    """One target's TTRL run (resumable) -> its summary."""
    import numpy as np

    from data.filters import StatementFilter
    from data.variants import generate, lemma_variants
    from data.variants_llm import llm_variants
    from eval.attempts import backend_for, candidate_policies, make_pools, with_prelude
    from eval.games import play
    from proofzero.rl import _resolve, game_players
    from train.checkpoint import CheckpointError
    from train.data import DataError
    from train.rl import _write_json
    from train.trainer import TrainSetupError
    from train.ttrl import TTRLLoop

    run_dir = Path(cfg.run_dir) / target.name
    run_dir.mkdir(parents=True, exist_ok=True)
    _write_json(run_dir / "config.json", {**to_dict(cfg), "theorem": [target.name]})
    backend = target.backend
    learner = dataclasses.replace(
        cfg.learner, init_from=str(init) if init else cfg.learner.init_from, seed=cfg.seed,
        progress=cfg.learner.progress and progress,
        data=dataclasses.replace(cfg.learner.data, path=_resolve(cfg.sft_data) or cfg.learner.data.path,
                                 sft_fraction=cfg.sft_fraction))
    v = cfg.variants

    def make_variants(seed, round_, goals):
        rng = np.random.default_rng([cfg.seed, round_])
        out = generate(seed, v.strategies, rng, round_, v.per_strategy)
        out += lemma_variants(target, goals[: v.lemmas], round_)
        if v.llm.url:
            out += llm_variants(target, v.llm, rng, round_, seed=seed)
        return out

    games: dict = {}
    with make_pools(cfg.actors, max_idle=cfg.filters.workers) as pools, \
            game_players(cfg, games, backend, source, cfg.workers, eval_actors=False) as play_pick:
        b = backend_for(target, cfg.actors, pools)
        candidates = candidate_policies(cfg.actors, backend)  # the filters' low-budget search: model-free

        def disprove(theorem, budget):
            return play(theorem, "disprove", budget, cfg.actors, candidates, pools, f"filter-{theorem.name}", source="ttrl-filter")

        statement_filter = StatementFilter(cfg.filters, lambda t: b.open_session(with_prelude(t, cfg.actors)),
                                           lambda t, script: b.check(with_prelude(t, cfg.actors), script), disprove)
        loop = TTRLLoop(cfg, cfg.settings(), learner, run_dir, target, make_variants, statement_filter.run, play_pick,
                        init_checkpoint=init, progress=progress, by_name=games)
        try:
            return loop.run()
        except (DataError, TrainSetupError, CheckpointError) as e:
            raise UserError(str(e)) from None
