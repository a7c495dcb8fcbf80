"""`proofzero prove --suite DIR --prover automation --out results.json [key=value ...]`."""

from __future__ import annotations

import argparse
import dataclasses
import logging
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from eval.attempts import Verifier
from eval.runner import format_summary, run_suite
from formal.coq.checker import CheckerConfig, verify_proof
from formal.coq.pool import ProcessPool
from formal.coq.session import CoqConfig, CoqSession
from formal.session import EnvironmentCrash, InvalidStatement
from formal.suite import Suite, SuiteError, load_suite
from formal.theorem import Theorem
from proofzero.cli import UserError
from proofzero.config import load_config, to_dict
from proofzero.outputs import check_output_file
from search.attempt import Attempt, Status
from search.automation import AutomationConfig, AutomationProver

log = logging.getLogger(__name__)

PROVERS = ("automation",)
HAMMER_IMPORT = "From Hammer Require Import Tactics."
DEFAULT_SUITE = Path(__file__).resolve().parent.parent / "benchmarks" / "minif2f-rocq-valid"


@dataclass(frozen=True)
class ProveConfig:
    prover: str = "automation"
    workers: int = 2  # theorems in flight at once, each with its own Coq process
    # Put before each statement's own header so that the portfolio's tactics exist; the checker
    # verifies the proof with exactly this header.
    prelude: str = "From Coq Require Import Lia Lra Psatz."
    hammer: str = "auto"  # add CoqHammer's sauto to the portfolio: auto (when installed) | on | off
    limit: int = 0  # only the first N theorems by name; 0 = all
    automation: AutomationConfig = field(default_factory=AutomationConfig)
    coq: CoqConfig = field(default_factory=CoqConfig)
    checker: CheckerConfig = field(default_factory=CheckerConfig)

    def __post_init__(self) -> None:
        if self.prover not in PROVERS:
            raise ValueError(f"unknown prover {self.prover!r}; available: {', '.join(PROVERS)}")
        if self.workers < 1:
            raise ValueError("workers must be >= 1")
        if self.limit < 0:
            raise ValueError(f"limit must be >= 0 (0: all theorems), got {self.limit}")
        # YAML reads a bare on/off as a boolean, which OmegaConf hands over as "True"/"False".
        object.__setattr__(self, "hammer", {"true": "on", "false": "off"}.get(self.hammer.lower(), self.hammer))
        if self.hammer not in ("auto", "on", "off"):
            raise ValueError("hammer must be auto, on or off")


def hammer_installed() -> bool:
    if shutil.which("coqc") is None:
        return False
    where = subprocess.run(["coqc", "-where"], capture_output=True, text=True).stdout.strip()
    return (Path(where) / "user-contrib" / "Hammer").is_dir()


def effective_config(cfg: ProveConfig) -> ProveConfig:
    """Resolve `hammer=auto` into the prelude and portfolio actually used (recorded in results)."""
    use = cfg.hammer == "on" or (cfg.hammer == "auto" and hammer_installed())
    if cfg.hammer == "on" and not hammer_installed():
        raise UserError("hammer=on but CoqHammer is not installed (apt-get install libcoq-hammer)")
    if not use or "sauto" in cfg.automation.portfolio:
        return dataclasses.replace(cfg, hammer="on" if use else "off")
    auto = dataclasses.replace(cfg.automation, portfolio=(*cfg.automation.portfolio, "sauto"))
    return dataclasses.replace(cfg, hammer="on", prelude=f"{cfg.prelude}\n{HAMMER_IMPORT}", automation=auto)


def make_prove_one(cfg: ProveConfig, pool: ProcessPool | None = None):
    prover = AutomationProver(cfg.automation)

    def prove_one(theorem: Theorem) -> Attempt:
        theorem = dataclasses.replace(theorem, header=f"{cfg.prelude}\n{theorem.header}")

        verify = Verifier(lambda script: verify_proof(theorem, script, cfg.checker))
        try:
            with CoqSession(theorem, cfg.coq, pool) as session:
                attempt = prover.prove(theorem.name, session, verify)
                attempt.env = session.stats.as_dict()
                return verify.finish(attempt)
        except InvalidStatement as e:
            return Attempt(theorem.name, Status.INVALID_STATEMENT, message=str(e))
        except EnvironmentCrash as e:
            return Attempt(theorem.name, Status.ENV_ERROR, message=str(e))

    return prove_one


def limit_suite(suite: Suite, limit: int) -> Suite:
    """The first `limit` problems by name (0: all), every view of the suite cut alike."""
    if limit < 0:
        raise ValueError(f"limit must be >= 0, got {limit}")  # a negative slice would drop theorems
    if not limit:
        return suite
    return suite.subset(sorted(suite.files)[:limit])


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--suite", default=str(DEFAULT_SUITE), help="suite directory (default: bundled valid split)")
    p.add_argument("--prover", default=None, help=f"one of {', '.join(PROVERS)} (overrides the config)")
    p.add_argument("--config", default="prove/automation.yaml", help="YAML config (path or name under configs/)")
    p.add_argument("--out", default="results.json", help="results JSON (rows stream to OUT.partial.jsonl)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("overrides", nargs="*", metavar="key=value", help="config overrides, e.g. workers=4")


def run(args: argparse.Namespace) -> int:
    overrides = list(args.overrides) + ([f"prover={args.prover}"] if args.prover else [])
    cfg = effective_config(load_config(ProveConfig, args.config, overrides))
    out = Path(args.out)
    check_output_file(out, "--out")
    check_output_file(out.with_name(out.name + ".partial.jsonl"), "--out")  # the rows, streamed
    try:
        suite = load_suite(args.suite)
    except SuiteError as e:
        raise UserError(str(e)) from None
    if not len(suite):
        raise UserError(f"suite {args.suite} is empty")
    if suite.format != "rocq":
        raise UserError(f"suite {suite.name} is a {suite.format} suite; `prove` runs Coq suites only for now")
    if suite.drift:
        log.warning("suite files differ from their manifest: %s", ", ".join(sorted(suite.drift)))
    suite = limit_suite(suite, cfg.limit)
    budget = f"pass@1, {cfg.automation.budget} tactic executions ({cfg.prover})"
    with ProcessPool(cfg.coq.argv(), cfg.coq.memory_mb, cfg.coq.start_timeout_s, max_idle=cfg.workers) as pool:
        result = run_suite(
            suite, make_prove_one(cfg, pool), out, to_dict(cfg), budget, cfg.workers, progress=not args.no_progress
        )
        log.info("coqidetop processes: %d started, %d reuses", pool.started, pool.reused)
    print(format_summary(result))
    print(f"\nresults: {out}")
    return 0
