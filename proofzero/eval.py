"""`proofzero eval --suite DIR|SUITE.yaml --prover CONFIG [--prover CONFIG ...] [--checkpoint PATH] [--attempts k]`.

Runs each prover config over the same suite with the same model and writes, under `--out`:
`<prover>/results.json` (rows streamed to `.partial.jsonl` first, so a rerun resumes), `<prover>/trees/`
(tree views), `<prover>/records.jsonl` (verified proofs as training records), and a side-by-side
`comparison.{txt,json}` with `proved_vs_budget.png`.

`--suite` is a suite directory (Rocq `.v` files, or a Lean 4 miniF2F tree) or a suite config
(`configs/suites/*.yaml`, by path or by name: `suites/minif2f_lean4_valid`), which names the
statements and informal files and sets the suite's Lean project and checker limits (under the
command line's own `key=value` overrides). A Lean suite runs on the Lean REPL (`lean.*`) and is
checked by the Lean checker (`lean_checker.*`): docs/lean.md.

`--shard I/N` evaluates only shard I of N (a stable hash of each theorem name; one task of a job array:
slurm/eval_array.sbatch) into `<prover>/shards/I-of-N/`; the same command with `--merge` then writes
what one unsharded run writes, from the finished shards (eval/shards.py).
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import logging
import sys
from dataclasses import dataclass
from pathlib import Path

from omegaconf import OmegaConf
from omegaconf.errors import OmegaConfBaseException

from eval.attempts import (
    Artifacts,
    ProverFactory,
    candidate_policies,
    make_pools,
    make_prove_one,
    scripted_policies,
    seeded_policies,
)
from eval.config import EvalConfig
from eval.report import format_comparison, write_comparison
from eval.runner import RunResult, RunStopped, atomic_write_json, format_summary, run_suite
from eval.shards import Shard, ShardError, merge
from formal.suite import Suite, SuiteError, load_suite
from proofzero.cli import UserError
from proofzero.config import CONFIG_DIR, load_config, read_profile, read_yaml, resolve_config_path, to_dict
from proofzero.outputs import check_output_dir, check_output_file
from proofzero.prove import DEFAULT_SUITE, limit_suite

log = logging.getLogger(__name__)

TRAILING_POSITIONALS = "overrides"  # `key=value` before and after the options alike


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--suite", default=str(DEFAULT_SUITE),
                   help="suite directory, or suite config (path or name under configs/, e.g. "
                        "suites/minif2f_lean4_valid) (default: bundled Rocq valid split)")
    p.add_argument("--prover", action="append", default=None, metavar="CONFIG",
                   help="prover config (path or name under configs/, e.g. eval/andor); repeat to compare "
                        "(default: eval/andor)")
    p.add_argument("--checkpoint", default=None,
                   help="the model: an export dir, a .ckpt, a ZeRO checkpoint dir or a training run dir")
    p.add_argument("--attempts", type=int, default=None, metavar="K", help="pass@K: attempts per theorem")
    p.add_argument("--out", default=None, help="output directory (default: runs/eval/<suite>)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.add_argument("--profile", default=None, metavar="NAME",
                   help="a cluster profile's eval settings on top of the prover configs (configs/cluster/)")
    split = p.add_mutually_exclusive_group()
    split.add_argument("--shard", default=None, metavar="I/N",
                       help="evaluate only shard I of N (theorems by a stable hash of their names): one job-array task")
    split.add_argument("--merge", action="store_true",
                       help="merge the finished shards of the same command into results.json and the comparison")
    p.add_argument("overrides", nargs="*", metavar="key=value",
                   help="config overrides for every prover, e.g. andor.k=4")


def load_configs(args: argparse.Namespace, suite_overrides: list[str] = ()) -> list[EvalConfig]:
    """The prover configs, each with the suite config's settings, then the command line's, on top."""
    overrides = [*suite_overrides, *args.overrides]
    if args.checkpoint:
        overrides.append(f"policy.checkpoint={args.checkpoint}")
    if args.attempts is not None:
        overrides.append(f"attempts={args.attempts}")
    profile = read_profile(args.profile, "eval") if getattr(args, "profile", None) else None
    cfgs = [load_config(EvalConfig, resolve_config_path(c), overrides, profile) for c in (args.prover or ["eval/andor"])]
    labels = [c.label for c in cfgs]
    if len(set(labels)) != len(labels):
        raise UserError(f"two prover configs share a label ({', '.join(labels)}): set name= in one of them")
    for c in cfgs:
        if c.uses_policy and c.policy.kind == "network" and not c.policy.checkpoint:
            raise UserError(f"prover {c.label} needs a model: --checkpoint PATH (or policy.kind=scripted)")
    return cfgs


# -- suites: a directory, or a suite config naming one ------------------------------------------

REPO = CONFIG_DIR.parent  # a suite config's relative paths are relative to the repository
SUITE_INFO = ("toolchain", "mathlib_rev")  # what a suite config's `lean:` pins for the record only


def load_suite_arg(arg: str) -> tuple[Suite, list[str]]:
    """The suite `--suite` names, and the config overrides its suite config implies (none for a dir)."""
    config = suite_config_path(arg)
    if config is None:
        try:
            return load_suite(arg), []
        except SuiteError as e:
            raise UserError(str(e)) from None
    return load_suite_config(config)


def suite_config_path(arg: str) -> Path | None:
    """`arg` as a suite config file (a path, or a name under configs/ or configs/suites/), if it is one."""
    p = Path(arg)
    if p.is_dir():
        return None
    for c in (p, CONFIG_DIR / p, CONFIG_DIR / "suites" / p):
        for candidate in (c, c.with_name(c.name + ".yaml")):
            if candidate.is_file() and candidate.suffix in (".yaml", ".yml"):
                return candidate
    return None


def load_suite_config(path: Path) -> tuple[Suite, list[str]]:
    """Load the statements a suite config names (env-var defaults resolved, relative paths from the
    repository) and turn its settings into `key=value` overrides of the eval config."""
    try:
        data = OmegaConf.to_container(read_yaml(path), resolve=True)
    except OmegaConfBaseException as e:
        raise UserError(f"{path}: not a readable suite config ({str(e).splitlines()[0]})") from None
    if not isinstance(data, dict) or not data.get("statements"):
        raise UserError(f"{path}: a suite config needs `statements:` (the suite directory)")
    informal = _repo_path(data["informal"]) if data.get("informal") else None
    if informal is not None and not informal.is_file():
        log.warning("%s: no informal statements at %s; loading the suite without them", path.name, informal)
        informal = None
    try:
        suite = load_suite(_repo_path(data["statements"]), informal_path=informal)
    except SuiteError as e:
        raise UserError(f"{path.name}: {e}") from None
    if data.get("format") and data["format"] != suite.format:
        raise UserError(f"{path.name}: says format {data['format']}, but {suite.root} holds a {suite.format} suite")
    if data.get("name"):
        suite = dataclasses.replace(suite, name=str(data["name"]))
    lean = dict(data.get("lean") or {})
    pins = {k: lean.pop(k) for k in SUITE_INFO if k in lean}
    if pins:
        log.info("suite %s pins %s: the Lean project must match", suite.name,
                 ", ".join(f"{k} {v}" for k, v in pins.items()))
    return suite, _suite_overrides(suite.format, lean, dict(data.get("checker") or {}))


def _suite_overrides(fmt: str, lean: dict, checker: dict) -> list[str]:
    """Lean suites: `lean.project` is both the REPL's and the checker's project, other `lean:` keys
    are `LeanConfig`'s, `checker:` is `LeanCheckerConfig`'s. Rocq suites: `checker:` is Coq's."""
    def item(key: str, value) -> str:
        return f"{key}={json.dumps(value)}"  # JSON is YAML: paths and lists arrive as they were

    if fmt != "lean4":
        return [item(f"checker.{k}", v) for k, v in checker.items()]
    out = []
    project = lean.pop("project", None)
    if project:
        where = str(_repo_path(project))
        out += [item("lean.lean_project", where), item("lean_checker.project", where)]
    out += [item(f"lean.{k}", v) for k, v in lean.items()]
    out += [item(f"lean_checker.{k}", v) for k, v in checker.items()]
    return out


def _repo_path(value) -> Path:
    p = Path(str(value)).expanduser()
    return p if p.is_absolute() else REPO / p


# -- models --------------------------------------------------------------------------------------


def load_model(path: str):
    """A ProofNet from an export, a Lightning/ZeRO checkpoint or a run directory; one-line errors."""
    from model.export import load_pretrained

    p = Path(path)
    if (p / "proofnet_config.json").is_file() or (p / "config.json").is_file() and not (p / "checkpoints").is_dir():
        try:
            return load_pretrained(p)
        except (OSError, ValueError) as e:
            raise UserError(f"{p}: not a loadable export ({e})") from None
    from proofzero.export import resolve_checkpoint
    from train.checkpoint import CheckpointError, load_checkpoint

    try:
        return load_checkpoint(resolve_checkpoint(p)).model
    except CheckpointError as e:
        raise UserError(str(e)) from None


class Policies:
    """One model per checkpoint, loaded once, served by one batching server to all theorems in flight."""

    def __init__(self) -> None:
        self._servers: dict[tuple, object] = {}
        self._models: dict[tuple[str, str], object] = {}

    def policy_for(self, cfg: EvalConfig, backend: str = "coq"):
        if not cfg.uses_policy:
            return None
        if cfg.policy.kind == "scripted":
            return scripted_policies(cfg)
        if cfg.policy.kind == "candidates":
            return candidate_policies(cfg, backend)
        pc = cfg.policy
        candidates = pc.candidate_tactics(backend)
        key = (pc.checkpoint, pc.device, pc.decoder, pc.method, pc.temperature, pc.batch, pc.max_batch,
               pc.max_wait_ms, candidates)
        if key not in self._servers:
            self._servers[key] = self._network(cfg, candidates)
        return seeded_policies(cfg, self._servers[key])  # one seeded view per (theorem, attempt)

    def _network(self, cfg: EvalConfig, candidates: tuple[str, ...]):
        from model.inference import ProofNetInference
        from search.candidates import RankedCandidates
        from search.policy import NetworkPolicy

        pc = cfg.policy
        where = (pc.checkpoint, pc.device, pc.decoder)
        if where not in self._models:
            model = load_model(pc.checkpoint)
            log.info("model %s: %.2fM parameters on %s", pc.checkpoint, model.num_parameters() / 1e6, pc.device)
            self._models[where] = ProofNetInference(model, pc.device, decoder=pc.decoder)
        inference = self._models[where]
        policy = NetworkPolicy(inference, method=pc.method, temperature=pc.temperature)
        if candidates:  # below the batching server: the candidates of many searches are scored together
            policy = RankedCandidates(policy, candidates, inference.score)
        if not pc.batch:
            return policy
        from search.batching import BatchingPolicy

        return BatchingPolicy(policy, max_batch=pc.max_batch, max_wait_ms=pc.max_wait_ms)

    def close(self) -> None:
        for server in self._servers.values():
            close = getattr(server, "close", None)
            if close is not None:
                close()


def check_outputs(out: Path, labels: list[str]) -> None:
    """Everything `run` writes can be written: checked before any prover starts."""
    check_output_dir(out, "--out")
    for name in ("comparison.json", "comparison.txt", "proved_vs_budget.png"):
        check_output_file(out / name, "--out")
    for label in labels:
        check_output_dir(out / label, "--out")
        check_output_file(out / label / "results.json", "--out")
        check_output_file(out / label / "results.json.partial.jsonl", "--out")


def evaluate(suite, cfg: EvalConfig, policy_for, out_dir: Path, progress: bool = True) -> RunResult:
    """One prover over the suite; rows, trees and records under `out_dir`."""
    out_dir.mkdir(parents=True, exist_ok=True)
    artifacts = Artifacts(out_dir, cfg.trees, cfg.max_trees, cfg.records, source=suite.name)
    config = {**to_dict(cfg), "suite": suite.name}
    if cfg.runner == "ray":
        return _evaluate_on_ray(suite, cfg, out_dir, config, progress)
    with make_pools(cfg, max_idle=cfg.workers) as pools:
        prove_one = make_prove_one(cfg, policy_for, artifacts, pools)
        return run_suite(suite, prove_one, out_dir / "results.json", config, cfg.budget_text(), cfg.workers,
                         progress=progress)


@dataclass(frozen=True)
class NetworkPolicyFactory:
    """Loads the model inside the policy-server actor (picklable: a path and settings)."""

    checkpoint: str
    device: str = "cpu"
    method: str = "sample"
    temperature: float = 1.0
    candidates: tuple[str, ...] = ()  # ranked by the network at every expansion (search/candidates.py)
    decoder: str = "fast"

    def __call__(self):
        from model.inference import ProofNetInference
        from search.candidates import RankedCandidates
        from search.policy import NetworkPolicy

        inference = ProofNetInference(load_model(self.checkpoint), self.device, decoder=self.decoder)
        policy = NetworkPolicy(inference, method=self.method, temperature=self.temperature)
        return RankedCandidates(policy, self.candidates, inference.score) if self.candidates else policy


def _backend(suite) -> str:
    return "lean" if suite.format == "lean4" else "coq"


def _evaluate_on_ray(suite, cfg: EvalConfig, out_dir: Path, config: dict, progress: bool) -> RunResult:
    """Prover actors (each with its own Coq or Lean processes) over the suite; with a network policy, one
    policy-server actor holds the model and batches every actor's requests. A dead actor costs a retry."""
    try:
        from search.distributed import (
            PolicyServerConfig,
            RayPolicyServer,
            RayProverPool,
            ray_session,
        )
    except ImportError:
        raise UserError("runner=ray needs Ray: pip install -c constraints.txt -e '.[dist]'") from None
    pc = cfg.policy
    with contextlib.ExitStack() as stack:
        try:
            stack.enter_context(ray_session(cfg.ray))
        except (RuntimeError, ConnectionError) as e:  # no cluster at ray.address, or Ray would not start
            raise UserError(f"Ray: {str(e).splitlines()[0]}") from None
        policy = None
        if cfg.uses_policy and pc.kind == "network":
            factory = NetworkPolicyFactory(pc.checkpoint, pc.device, pc.method, pc.temperature,
                                           pc.candidate_tactics(_backend(suite)), pc.decoder)
            server_cfg = PolicyServerConfig(batching=pc.batch, max_batch=pc.max_batch, max_wait_ms=pc.max_wait_ms,
                                            # On CPU the server reserves no core: the provers' actors
                                            # would otherwise wait for one on a small machine.
                                            num_cpus=0.0, num_gpus=1.0 if pc.device.startswith("cuda") else 0.0)
            policy = stack.enter_context(RayPolicyServer(factory, server_cfg)).policy()
        factory = ProverFactory(cfg, str(out_dir), suite.name, policy, backend=_backend(suite))
        provers = stack.enter_context(RayProverPool(factory, cfg.ray))
        return run_suite(suite, provers, out_dir / "results.json", config, cfg.budget_text(),
                         workers=cfg.ray.num_actors, progress=progress)


def run(args: argparse.Namespace) -> int:
    suite, suite_overrides = load_suite_arg(args.suite)
    cfgs = load_configs(args, suite_overrides)
    if suite.format == "lean4":
        for c in cfgs:
            if c.prover == "automation":
                raise UserError(f"prover {c.label}: the automation baseline writes Coq scripts; "
                                "on a Lean suite use andor, htps or bestfirst")
    if suite.drift:
        log.warning("suite files differ from their manifest: %s", ", ".join(sorted(suite.drift)))
    out = Path(args.out or Path("runs") / "eval" / suite.name)
    check_outputs(out, [c.label for c in cfgs])
    parts = {cfg.label: limit_suite(suite, cfg.limit) for cfg in cfgs}
    if not all(len(part) for part in parts.values()):
        raise UserError(f"suite {args.suite} is empty")
    try:
        shard = Shard.parse(args.shard) if args.shard else None
    except ShardError as e:
        raise UserError(str(e)) from None
    if args.merge:
        return _merge(parts, cfgs, out)
    runs: dict[str, RunResult] = {}
    policies = Policies()
    try:
        # Every model is loaded (and a bad checkpoint refused) before the first prover starts.
        policy_for = {cfg.label: policies.policy_for(cfg, _backend(suite)) for cfg in cfgs}
        for cfg in cfgs:
            part, where = parts[cfg.label], out / cfg.label
            if shard is not None:
                part, where = shard.select(part), shard.out_dir(where)
                check_output_dir(where, "--out")
            log.info("%s on %s%s (%d statements): %s", cfg.label, part.name,
                     f", shard {shard.index}/{shard.count}" if shard else "", len(part), cfg.budget_text())
            try:
                runs[cfg.label] = evaluate(part, cfg, policy_for[cfg.label], where, progress=not args.no_progress)
            except RunStopped as e:  # a bug or a dead model server: not rows, a stopped run
                hint = "" if args.verbose else " (-v shows the traceback)"
                print(f"proofzero eval: error: {cfg.label}: {e}{hint}", file=sys.stderr)
                return 1
            print(format_summary(runs[cfg.label]) + "\n")
    finally:
        policies.close()
    if shard is not None:
        print(f"shard {shard.index}/{shard.count} done: {', '.join(str(shard.out_dir(out / c)) for c in runs)}; "
              "when every shard is, the same command with --merge writes the results")
        return 0
    return _report(runs, out)


def _merge(parts: dict[str, Suite], cfgs: list[EvalConfig], out: Path) -> int:
    """The finished shards of each prover as one run: results.json and the comparison, as unsharded."""
    runs: dict[str, RunResult] = {}
    for cfg in cfgs:
        config = {**to_dict(cfg), "suite": parts[cfg.label].name}
        try:
            runs[cfg.label] = merge(parts[cfg.label], out / cfg.label, config, cfg.budget_text())
        except ShardError as e:
            raise UserError(str(e)) from None
        atomic_write_json(out / cfg.label / "results.json", runs[cfg.label].to_json())
        print(format_summary(runs[cfg.label]) + "\n")
    return _report(runs, out)


def _report(runs: dict[str, RunResult], out: Path) -> int:
    paths = write_comparison(runs, out)
    print(format_comparison(runs))
    print(f"\nresults: {out}/<prover>/results.json   comparison: {paths['table']}"
          + (f"   plot: {paths['plot']}" if "plot" in paths else ""))
    trees = sorted(p for label in runs for p in (out / label / "trees").glob("*.html"))
    if trees:
        print(f"tree views: {len(trees)}, e.g. {trees[0]}")
    return 0

