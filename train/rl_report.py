"""The RL run's report: `summary.json`, a per-round table, and plots (held-out pass rate against round
and against tactic executions spent; problems of the RL pool solved over rounds)."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

log = logging.getLogger(__name__)

SUMMARY = "summary.json"
PLOT = "rl.png"


def write_report(run_dir: Path, loop, seconds: float) -> dict:
    rows = loop.rows()
    games = loop.matchmaker.games
    start = _read(run_dir / "rounds" / "heldout_0000.json")
    evals = [start] if start else []
    evals += [r["heldout"] for r in rows if r.get("heldout")]
    last_eval = evals[-1] if evals else None
    summary = {
        "run_dir": str(run_dir),
        "schedule": loop.cfg.schedule,
        "rounds": len(rows),
        "attempts": len(games),
        "proved": sum(g.status == "proved" for g in games),
        "disproved": sum(g.status == "disproved" for g in games),
        "failed": sum(g.status == "failed" for g in games),
        "env_error": sum(g.status == "env_error" for g in games),
        "solved": len(loop.matchmaker.solved()),
        "pool": len(loop.problems),
        "replay_size": len(loop.replay),
        "replay": loop.replay.stats(),
        "learner_step": loop.state.get("learner_step", 0),
        "tactics": sum(g.tactics for g in games),
        "expansions": sum(g.expansions for g in games),
        "seconds_this_launch": round(seconds, 1),
        "heldout_start": _brief(start),
        "heldout": _brief(last_eval),
        "heldout_pass_rate": last_eval.get("pass_rate") if last_eval else None,
        "heldout_curve": [_brief(e) for e in evals],
        "rows": str(run_dir / "rounds.jsonl"),
        "plot": str(run_dir / PLOT),
    }
    tmp = run_dir / f".{SUMMARY}.tmp"
    tmp.write_text(json.dumps(summary, indent=2) + "\n")
    os.replace(tmp, run_dir / SUMMARY)
    try:
        plot(run_dir, rows, evals)
    except Exception as e:  # noqa: BLE001 -- a plot is not worth losing the summary over
        log.warning("no plot: %s", e)
    return summary


def _brief(e: dict | None) -> dict | None:
    if not e:
        return None
    return {k: e.get(k) for k in ("round", "checkpoint", "proved", "total", "valid", "pass_rate", "tactics", "budget")}


def _read(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def format_table(summary: dict, rows: list[dict]) -> str:
    def pct(h):
        return f"{h['proved']}/{h['total']}" if h else "-"

    head = (f"{'round':>5} {'games':>6} {'proved':>6} {'disprv':>6} {'new':>4} {'solved':>6} {'replay':>7} "
            f"{'step':>6} {'loss':>7} {'held-out':>9} {'tactics':>8} {'secs':>6}")
    lines = [head]
    start = summary.get("heldout_start")
    if start:
        lines.append(f"{'start':>5} {'':>6} {'':>6} {'':>6} {'':>4} {'':>6} {'':>7} {'':>6} {'':>7} {pct(start):>9}")
    for r in rows:
        loss = r.get("learner_loss")
        lines.append(f"{r['round']:>5} {r['attempts']:>6} {r['proved']:>6} {r['disproved']:>6} {r['new_solved']:>4} "
                     f"{r['solved_total']:>6} {r['replay']['transitions']:>7} {r['learner_step']:>6} "
                     f"{'-' if loss is None else format(loss, '.3f'):>7} {pct(r.get('heldout')):>9} "
                     f"{r['tactics']:>8} {r['seconds'].get('total', 0):>6.0f}")
    s = summary
    lines += ["", f"{s['attempts']} games ({s['proved']} proved, {s['disproved']} disproved, {s['env_error']} env errors), "
                  f"{s['solved']}/{s['pool']} RL-pool problems solved, replay {s['replay_size']} transitions, "
                  f"learner step {s['learner_step']}, {s['tactics']} tactic executions"]
    if s.get("heldout"):
        h = s["heldout"]
        lines.append(f"held-out: {h['proved']}/{h['total']} proved at {h.get('budget') or 'the held-out budget'}"
                     + (f" (start: {s['heldout_start']['proved']}/{s['heldout_start']['total']})" if s.get("heldout_start") else ""))
    lines.append(f"summary: {s['run_dir']}/{SUMMARY}   rounds: {s['rows']}   plot: {s['plot']}")
    return "\n".join(lines)


def plot(run_dir: Path, rows: list[dict], evals: list[dict]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(14, 4))
    ax = axes[0]
    if evals:
        xs = [e["round"] for e in evals]
        ax.plot(xs, [100 * (e.get("pass_rate") or 0) for e in evals], marker="o")
    ax.set(xlabel="RL round (0: the start)", ylabel="held-out proved (%)", title="held-out pass rate")
    ax = axes[1]
    if evals:
        spent, total = {0: 0}, 0
        for r in rows:
            total += r["tactics"]
            spent[r["round"]] = total
        ax.plot([spent.get(e["round"], total) for e in evals], [100 * (e.get("pass_rate") or 0) for e in evals], marker="o")
    ax.set(xlabel="tactic executions spent by actors", ylabel="held-out proved (%)", title="against compute")
    ax = axes[2]
    if rows:
        ax.plot([0] + [r["round"] for r in rows], [0] + [r["solved_total"] for r in rows], marker="o", label="solved (cumulative)")
        ax.bar([r["round"] for r in rows], [r["new_solved"] for r in rows], alpha=0.4, label="new this round")
        ax.legend()
    ax.set(xlabel="RL round", ylabel="RL-pool problems", title="RL pool solved")
    fig.tight_layout()
    fig.savefig(run_dir / PLOT, dpi=100)
    plt.close(fig)
