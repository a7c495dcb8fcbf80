"""`proofzero geometry synth|eval|solve`: AlphaGeometry on newclid's DD+AR engine.

  synth --out DIR [--n N] [--workers W] [key=value ...]
      synthetic theorems (random premises -> closure -> traceback) and (problem, auxiliary construction)
      pairs, as a dataset `proofzero train sft geometry/proposer_tiny.yaml data.path=DIR/dataset` reads.
  eval FILE [--aux none|heuristic|model] [--checkpoint M] [key=value ...]
      one row per problem (solved / saturated / budget / timeout / build_error / engine_error) at a
      counted budget, a summary table, a figure per solved problem; resumable.
  solve FILE --problem NAME [--aux ...] [--checkpoint M] [--figure PNG] [key=value ...]
      one problem: its proof (numbered steps, auxiliary constructions marked) and its figure.
Configs: configs/geometry/{synth,eval}.yaml.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from dataclasses import replace
from pathlib import Path

from proofzero.cli import UserError
from proofzero.config import load_config, split_overrides, to_dict
from proofzero.outputs import check_output_dir, check_output_file

log = logging.getLogger(__name__)

TRAILING_POSITIONALS = "rest"


def add_arguments(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    s = sub.add_parser("synth", help="synthetic theorems and (problem, auxiliary construction) pairs")
    s.add_argument("--out", type=Path, required=True, help="output directory (a rerun resumes it)")
    s.add_argument("--n", type=int, default=None, help="random problems to draw (config: n)")
    s.add_argument("--workers", type=int, default=None, help="worker processes (config: workers)")
    s.add_argument("--config", default="geometry/synth.yaml", help="config (path or name under configs/)")
    s.add_argument("--no-progress", action="store_true")
    s.add_argument("rest", nargs="*", metavar="key=value")
    for name, help_ in (("eval", "solve rates on a problem file at a counted budget"),
                        ("solve", "one problem's proof and figure")):
        e = sub.add_parser(name, help=help_)
        e.add_argument("rest", nargs="*", metavar="FILE|key=value", help="a problem file, then key=value overrides")
        e.add_argument("--aux", choices=("none", "heuristic", "model"), default=None,
                       help="auxiliary constructions: none (DD+AR alone), heuristic (human-designed, breadth-first), "
                            "model (beam search over the proposer's)")
        e.add_argument("--checkpoint", default=None, help="the proposer (an export, a checkpoint or a run directory)")
        e.add_argument("--config", default="geometry/eval.yaml", help="config (path or name under configs/)")
        if name == "eval":
            e.add_argument("--no-progress", action="store_true")
        else:
            e.add_argument("--problem", required=True, help="the problem's name (or a unique suffix of it)")
            e.add_argument("--figure", type=Path, default=None, help="PNG to write (default: <problem>.png here)")


def run(args: argparse.Namespace) -> int:
    return {"synth": _synth, "eval": _eval, "solve": _solve}[args.action](args)


def _engine_ready() -> None:
    from formal.geometry.engine import EngineUnavailable, _backend

    try:
        _backend()
    except EngineUnavailable as e:
        raise UserError(str(e)) from None


# --- synth -----------------------------------------------------------------------------------


def _synth(args: argparse.Namespace) -> int:
    from data.geometry_synth import SynthConfig

    configs, overrides = split_overrides(args.rest)
    if configs:
        raise UserError(f"unexpected arguments {configs}; synth takes --out and key=value overrides")
    overrides += [f"n={args.n}"] if args.n is not None else []
    overrides += [f"workers={args.workers}"] if args.workers is not None else []
    cfg = load_config(SynthConfig, args.config, overrides)
    check_output_dir(args.out, "--out")
    _engine_ready()
    from data.geometry_corpus import synthesize

    progress = None
    if not args.no_progress:
        from functools import partial

        from tqdm import tqdm

        progress = partial(tqdm, desc="synthesizing", disable=None)
    try:
        s = synthesize(cfg, args.out, progress)
    except ValueError as e:
        raise UserError(str(e)) from None
    print(f"{s['problems']} random problems ({s['problems_failed']} failed to draw): {s['facts_derived']} facts derived, "
          f"{s['theorems_found']} theorems (proof >= {cfg.min_proof_steps} steps), {s['duplicates']} duplicates, "
          f"{s['decontaminated']} dropped as evaluation statements")
    print(f"kept {s['theorems']} theorems, {s['theorems_with_aux']} whose traced proof uses auxiliary points "
          f"({100 * s['aux_share']:.2f}%), {s['theorems_needing_aux']} of them unprovable by DD+AR without them "
          f"({100 * s['needed_share']:.3f}%); mean proof {s['mean_proof_length']} steps")
    print(f"{s['pairs']} training pairs ({s['pairs_from']}) {s['splits']}")
    print(f"yield: {s['theorems_per_cpu_hour']} theorems / CPU-hour, {s['aux_theorems_per_cpu_hour']} with auxiliary "
          f"points / CPU-hour ({s['cpu_seconds']} CPU s)")
    print(f"-> {args.out}/theorems.jsonl, pairs.jsonl, dataset/ (train: proofzero train sft geometry/proposer_tiny.yaml "
          f"data.path={args.out}/dataset)")
    return 0


# --- eval / solve ----------------------------------------------------------------------------


def _eval_config(args: argparse.Namespace):
    from eval.geometry import GeometryEvalConfig

    files, overrides = split_overrides(args.rest)
    if len(files) != 1:
        raise UserError(f"one problem FILE, got {files or 'none'}")
    if args.aux is not None:
        overrides.append(f"aux={args.aux}")
    if args.checkpoint is not None:
        overrides.append(f"model.checkpoint={args.checkpoint}")
    cfg = load_config(GeometryEvalConfig, args.config, overrides)
    if cfg.aux == "model" and not cfg.model.checkpoint:
        raise UserError("--aux model needs --checkpoint (a proposer export, checkpoint or run directory)")
    return Path(files[0]), cfg


def _problems(path: Path):
    from formal.geometry.syntax import SyntaxError_, read_problems

    try:
        return read_problems(path)
    except SyntaxError_ as e:
        raise UserError(str(e)) from None


def _proposer(cfg):
    if cfg.aux == "heuristic":
        from eval.geometry import HeuristicPolicy

        return HeuristicPolicy()
    if cfg.aux != "model":
        return None
    import transformers

    from model.inference import ProofNetInference
    from proofzero.eval import load_model

    transformers.utils.logging.disable_progress_bar()
    from search.policy import NetworkPolicy

    model = load_model(cfg.model.checkpoint)
    inference = ProofNetInference(model, cfg.model.device)
    return NetworkPolicy(inference, method=cfg.model.method, temperature=cfg.model.temperature, seed=cfg.seed)


def _eval(args: argparse.Namespace) -> int:
    from data.trace_run import atomic_write
    from eval.geometry import format_table, proof_to_json, row_to_json, select, solve, summarize

    path, cfg = _eval_config(args)
    problems = _problems(path)
    try:
        problems = select(problems, cfg)
    except ValueError as e:
        raise UserError(str(e)) from None
    run_dir = Path(cfg.run_dir or f"runs/geometry/{path.stem}-{cfg.aux}")
    check_output_dir(run_dir, "run_dir")
    _engine_ready()
    proposer = _proposer(cfg)
    config = {"file": str(path), **to_dict(cfg)}
    done = _resume(run_dir, config)
    rows_path, proofs_path = run_dir / "rows.jsonl", run_dir / "proofs.jsonl"
    figure_dir = run_dir / "figures" if cfg.figures else None
    todo = [p for p in problems if p.name not in done]
    bar = None
    if not args.no_progress:
        from tqdm import tqdm

        bar = tqdm(total=len(problems), initial=len(problems) - len(todo), unit="problem", desc=cfg.aux, disable=None)
    for problem in todo:
        result = solve(problem, cfg, proposer, figure_dir)
        if result.proof is not None:
            _append(proofs_path, proof_to_json(problem.name, result.proof))
        _append(rows_path, json.dumps(row_to_json(result.row), ensure_ascii=False))
        done[problem.name] = result.row
        if bar:
            bar.update(1)
            bar.set_postfix(solved=sum(r.status == "solved" for r in done.values()))
    if bar:
        bar.close()
    rows = [done[p.name] for p in problems]
    summary = summarize(rows, cfg, str(path))
    atomic_write(run_dir / "summary.json", json.dumps(summary, indent=1))
    print(format_table(summary, rows))
    print(f"-> {run_dir}/rows.jsonl, proofs.jsonl, summary.json{', figures/' if cfg.figures else ''}")
    return 0


def _resume(run_dir: Path, config: dict) -> dict:
    """Rows of an earlier run of the same config in run_dir (its problems are not solved again)."""
    from data.trace_run import atomic_write
    from eval.geometry import row_from_json

    path = run_dir / "config.json"
    if path.is_file():
        try:
            theirs = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            theirs = None
        mine = {k: v for k, v in config.items() if k not in ("limit", "problems")}
        if theirs is not None and {k: v for k, v in theirs.items() if k not in ("limit", "problems")} != mine:
            raise UserError(f"{run_dir} holds a run with another config; use another run_dir=")
    run_dir.mkdir(parents=True, exist_ok=True)
    atomic_write(path, json.dumps(config, indent=1))
    done = {}
    rows = run_dir / "rows.jsonl"
    if rows.is_file():
        for line in rows.read_text(encoding="utf-8").splitlines():
            try:
                row = row_from_json(json.loads(line))
            except (ValueError, TypeError):
                continue  # a line cut by a crash
            done[row.name] = row
    return done


def _append(path: Path, line: str) -> None:
    import os

    with path.open("a", encoding="utf-8") as f:
        f.write(line + "\n")
        f.flush()
        os.fsync(f.fileno())


def _solve(args: argparse.Namespace) -> int:
    from eval.geometry import safe_name, select, solve

    path, cfg = _eval_config(args)
    cfg = replace(cfg, problems=[args.problem], limit=0, figures=False)
    recheck_steps = cfg.recheck
    cfg = replace(cfg, recheck=False)  # re-checked below, for the rendering
    try:
        (problem,) = select(_problems(path), cfg)
    except ValueError as e:
        raise UserError(str(e)) from None
    figure = args.figure or Path(f"{safe_name(problem.name)}.png")
    check_output_file(figure, "--figure")
    _engine_ready()
    result = solve(problem, cfg, _proposer(cfg))
    row = result.row
    print(f"{problem.name}: {row.status} ({row.engine_runs} DD+AR runs, {row.seconds:.2f} s; budget: {row.budget})")
    if row.error:
        print(f"  {row.error}")
    if result.proof is None:
        return 1
    print(f"problem: {problem.text}")
    if row.aux:
        print("auxiliary constructions: " + "; ".join(row.aux))
    from formal.geometry.proof import recheck

    ok = recheck(result.proof, result.state.diagram, seed=cfg.seed + 1) if recheck_steps else None
    print(result.proof.render(ok))
    if ok is not None:
        print(f"{sum(ok)}/{len(ok)} steps hold numerically on a fresh drawing (seed {cfg.seed + 1})")
    from eval.geometry_figure import draw

    draw(result.state.diagram, figure, title=problem.name, goal=result.proof.goal)
    print(f"figure -> {figure}")
    sys.stdout.flush()
    return 0
