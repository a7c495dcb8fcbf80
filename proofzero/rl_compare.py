"""`proofzero rl-compare RUN_DIR`: the RL run's result on its held-out pool, side by side.

Rows: the automation baseline and the model-free candidate search (played here, over exactly the
held-out names of `RUN_DIR/pools.json` at the run's `heldout.budget`), then the SFT start and the
newest RL checkpoint (the run's own held-out evaluations, `heldout/round_0000` and the last round's).
Each row says the compute it spent: tactic executions, learner steps, and seconds summed over the
theorems' attempts (wall time is about that divided by the workers). Written to
`RUN_DIR/compare/summary.json` and `compare.png`; a rerun resumes finished baseline rows.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

from proofzero.cli import UserError


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("run_dir", help="a `proofzero rl` run directory (with config.json and pools.json)")
    p.add_argument("--workers", type=int, default=2, help="theorems in flight for the baselines")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")


def run(args: argparse.Namespace) -> int:
    run_dir = Path(args.run_dir)
    if not (run_dir / "config.json").is_file():
        raise UserError(f"{run_dir}: not an RL run directory (no config.json; run `proofzero rl run_dir={run_dir}` first)")
    if args.workers < 1:
        raise UserError("--workers must be >= 1")
    result = compare(run_dir, args.workers, progress=not args.no_progress)
    print(format_comparison(result))
    return 0


def compare(run_dir: Path, workers: int = 2, progress: bool = False) -> dict:
    from data.mathscale.formal import MathScaleSourceError
    from data.problems import build_pools
    from data.shards import TraceInputError
    from eval.attempts import candidate_policies
    from eval.games import with_budget
    from eval.runner import summary_numbers
    from formal.suite import SuiteError
    from proofzero.config import load_config, to_dict
    from proofzero.eval import evaluate
    from proofzero.prove import limit_suite
    from proofzero.rl import REPO, RLConfig

    try:
        raw = json.loads((run_dir / "config.json").read_text(encoding="utf-8"))
        cfg = load_config(RLConfig, None, _dotlist(raw))
    except (OSError, ValueError, TypeError) as e:
        raise UserError(f"{run_dir}/config.json: {e}") from None
    try:
        pools = build_pools(cfg.pool, root=REPO)
    except (SuiteError, TraceInputError, MathScaleSourceError, OSError) as e:  # the suite, a pool.traced or pool.mathscale dir
        raise UserError(f"pool: {e}") from None
    recorded = json.loads((run_dir / "pools.json").read_text(encoding="utf-8")) if (run_dir / "pools.json").is_file() else {}
    if recorded.get("heldout") and sorted(recorded["heldout"]) != sorted(pools.heldout.files):
        raise UserError(f"{cfg.pool.suite} no longer splits into the run's held-out pool (pools.json): "
                        "the suite changed since the run")
    suite = limit_suite(pools.heldout, cfg.heldout.limit)
    base = dataclasses.replace(with_budget(cfg.actors, cfg.heldout.budget), workers=workers, runner="threads",
                               records=False, trees="none", attempts=cfg.heldout.attempts)
    baselines = (("automation", dataclasses.replace(base, name="automation", prover="automation")),
                 ("model-free candidates", dataclasses.replace(
                     base, name="candidates", policy=dataclasses.replace(base.policy, kind="candidates"))))
    rows = []
    for label, ecfg in baselines:
        out_dir = run_dir / "compare" / label.replace(" ", "_")
        done = _finished(out_dir / "results.json", {**to_dict(ecfg), "suite": suite.name}, suite)
        if done is None:
            policy_for = candidate_policies(ecfg, "coq") if ecfg.uses_policy else None
            res = evaluate(suite, ecfg, policy_for, out_dir, progress=progress)
            n = summary_numbers(res)["all"]
            done = {"proved": n["proved"] + n["disproved"], "total": n["total"],
                    "tactics": sum(r.tactics_used for r in res.rows),
                    "seconds": round(sum(r.seconds for r in res.rows), 1)}
        rows.append({"prover": label, **done, "budget": ecfg.budget_text(), "learner_steps": 0})
    evals = sorted((run_dir / "rounds").glob("heldout_*.json"))
    first = json.loads(evals[0].read_text()) if evals else None
    last = json.loads(evals[-1].read_text()) if len(evals) > 1 else None
    by_round = {r["round"]: r for r in _jsonl(run_dir / "rounds.jsonl")}
    for label, e in (("SFT start (+ candidates)", first),
                     (f"RL after round {last['round']} (+ candidates)" if last else "", last)):
        if not e:
            continue
        spent = by_round.get(e["round"], {})
        rows.append({"prover": label, "proved": e["proved"], "total": e["total"], "budget": e["budget"],
                     "tactics": e["tactics"], "learner_steps": spent.get("learner_step", 0),
                     "seconds": _attempt_seconds(e.get("results")), "checkpoint": e.get("checkpoint"),
                     "rl_actor_tactics": sum(r["tactics"] for k, r in by_round.items() if k <= e["round"])})
    curve = [{k: r[k] for k in ("round", "attempts", "proved", "disproved", "new_solved", "solved_total")}
             for _, r in sorted(by_round.items())]
    out = {"run_dir": str(run_dir), "heldout": len(suite), "heldout_invalid": len(suite.invalid),
           "heldout_names": sorted(suite.files), "rl_pool": len(pools.rl), "rows": rows, "rl_pool_curve": curve,
           "plot": str(run_dir / "compare" / "compare.png")}
    from train.rl import _write_json

    _write_json(run_dir / "compare" / "summary.json", out)
    _plot(out)
    return out


def format_comparison(out: dict) -> str:
    lines = [f"held-out pool: {out['heldout']} statements ({out['heldout_invalid']} do not elaborate), "
             f"RL pool {out['rl_pool']}",
             f"{'prover':<34} {'proved':>9} {'tactics':>9} {'steps':>6} {'secs*':>7}  budget"]
    for r in out["rows"]:
        lines.append(f"{r['prover']:<34} {r['proved']:>4}/{r['total']:<4} {r['tactics']:>9} {r['learner_steps']:>6} "
                     f"{r['seconds'] or 0:>7.0f}  {r['budget']}")
    if out["rl_pool_curve"]:
        lines.append("RL pool per round: " + ", ".join(
            f"r{c['round']} {c['proved'] + c['disproved']}/{c['attempts']} games won, {c['solved_total']} solved"
            for c in out["rl_pool_curve"]))
    lines.append("secs*: summed over the theorems' attempts (in parallel over the workers)")
    lines.append(f"comparison: {out['run_dir']}/compare/summary.json   plot: {out['plot']}")
    return "\n".join(lines)


def _plot(out: dict) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = out["rows"]
    fig, ax = plt.subplots(figsize=(7, 0.6 * len(rows) + 1.2))
    ys = range(len(rows))
    ax.barh(list(ys), [r["proved"] for r in rows], color=["#999", "#999", "#4c72b0", "#dd8452"][:len(rows)])
    for y, r in zip(ys, rows):
        ax.text(r["proved"], y, f" {r['proved']}/{r['total']}  ({r['tactics']} tactics)", va="center", fontsize=8)
    ax.set_yticks(list(ys), [r["prover"] for r in rows], fontsize=8)
    ax.invert_yaxis()
    ax.set(xlabel="held-out statements proved", title=f"held-out pool, {rows[0]['budget'] if rows else ''}"[:90])
    ax.set_xlim(0, max([r["total"] for r in rows] + [1]))
    fig.tight_layout()
    Path(out["plot"]).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out["plot"], dpi=100)
    plt.close(fig)


def _finished(path: Path, config: dict, suite) -> dict | None:
    """A baseline already evaluated with this config over exactly these statements (a finished
    evaluation keeps no partial rows to resume from, so without this a rerun would redo it)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        rows = data["results"]
        if (json.loads(json.dumps(config)) != data["config"] or data["suite_sha256"] != suite.sha256()
                or sorted(r["name"] for r in rows) != sorted(suite.files)):
            return None
        decided = sum(r["status"] in ("proved", "disproved") for r in rows)
        return {"proved": decided, "total": len(rows), "tactics": sum(int(r.get("tactics_used", 0)) for r in rows),
                "seconds": round(sum(float(r.get("seconds", 0.0)) for r in rows), 1)}
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _attempt_seconds(results: str | None) -> float | None:
    """Seconds summed over the theorems' attempts (a resumed evaluation counts each theorem once)."""
    try:
        rows = json.loads(Path(results).read_text(encoding="utf-8"))["results"]
        return round(sum(float(r.get("seconds", 0.0)) for r in rows), 1)
    except (TypeError, OSError, ValueError, KeyError):
        return None


def _jsonl(path: Path) -> list[dict]:
    """The run's round rows (torn lines of a killed run skipped by read_jsonl)."""
    from train.matchmaker import read_jsonl

    return [r for r in read_jsonl(path) if "round" in r]


def _dotlist(d: dict, prefix: str = "") -> list[str]:
    """A config dict (config.json) back as key=value overrides."""
    out = []
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict) and v:
            out += _dotlist(v, key + ".")
        elif not isinstance(v, dict):
            out.append(f"{key}={json.dumps(v)}")
    return out
