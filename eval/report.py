"""Side-by-side reports of several provers on one suite: a table, a per-theorem matrix, and a plot of
theorems proved against the budget spent (so a pass rate is never read without its budget)."""

from __future__ import annotations

import logging
from pathlib import Path

from eval.runner import RunResult, atomic_write_json, summary_numbers
from search.attempt import Status

log = logging.getLogger(__name__)


def _proved(run: RunResult) -> list:
    return [r for r in run.rows if r.status in (Status.PROVED, Status.DISPROVED)]


def comparison(runs: dict[str, RunResult]) -> dict:
    """JSON-ready: per prover its counts and budget, and per theorem who proved it."""
    provers = {}
    for label, run in runs.items():
        nums = summary_numbers(run)["all"]
        proved = _proved(run)
        provers[label] = {
            "budget": run.budget,
            **{k: nums[k] for k in ("total", "proved", "failed", "env_error", "invalid_statement")},
            "pass_rate": nums["pass_rate"],
            "pass_rate_valid": nums["pass_rate_valid"],
            "mean_expansions_proved": _mean(r.env.get("expansions", 0) for r in proved),
            "mean_tactics_proved": _mean(r.tactics_used for r in proved),
            "seconds": round(run.seconds, 1),
        }
    names = sorted({r.name for run in runs.values() for r in run.rows})
    status = {label: {r.name: r.status.value for r in run.rows} for label, run in runs.items()}
    suites = {run.suite.sha256() for run in runs.values()}
    return {
        "suite": next(iter(runs.values())).suite.name if runs else "",
        "suite_sha256": suites.pop() if len(suites) == 1 else sorted(suites),
        "provers": provers,
        "theorems": {n: {label: status[label].get(n) for label in runs} for n in names},
    }


def _mean(xs) -> float | None:
    xs = list(xs)
    return round(sum(xs) / len(xs), 1) if xs else None


def format_comparison(runs: dict[str, RunResult]) -> str:
    """The table a person reads first: one row per prover, its budget stated."""
    comp = comparison(runs)
    head = f"{'prover':<14}{'proved':>8}{'failed':>8}{'env_err':>8}{'invalid':>8}{'pass':>8}{'time':>8}  budget"
    lines = [f"suite {comp['suite']}  (sha256 {str(comp['suite_sha256'])[:12]})", "", head, "-" * len(head)]
    for label, p in comp["provers"].items():
        rate = "n/a" if p["pass_rate"] is None else f"{100 * p['pass_rate']:.1f}%"
        lines.append(f"{label:<14}{p['proved']:>8}{p['failed']:>8}{p['env_error']:>8}{p['invalid_statement']:>8}"
                     f"{rate:>8}{p['seconds']:>7.0f}s  {p['budget']}")
    if len(runs) > 1:
        proved = {label: {r.name for r in _proved(run)} for label, run in runs.items()}
        for label, mine in proved.items():
            others = set().union(*(v for k, v in proved.items() if k != label))
            only = sorted(mine - others)
            if only:
                lines.append(f"only {label}: {', '.join(only[:10])}{' ...' if len(only) > 10 else ''}")
    return "\n".join(lines)


def plot_proved_vs_budget(runs: dict[str, RunResult], out: Path) -> Path | None:
    """Cumulative theorems proved against the budget each proof used: expansions and tactic executions."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        log.warning("matplotlib is not installed: no plot")
        return None
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for ax, key, xlabel in ((axes[0], "expansions", "expansions (model calls)"),
                            (axes[1], "tactics", "tactic executions")):
        for label, run in runs.items():
            used = sorted(r.tactics_used if key == "tactics" else r.env.get("expansions", 0) for r in _proved(run))
            if key == "expansions" and not any(r.env.get("expansions") for r in run.rows):
                continue  # no model: nothing to draw against expansions
            xs = [0, *used]
            ax.step(xs, range(len(xs)), where="post", label=f"{label} ({len(used)}/{len(run.rows)})")
        ax.set_xlabel(xlabel)
        ax.set_ylabel("theorems proved")
        ax.grid(alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=8)
        else:  # automation alone: no model calls to count
            ax.text(0.5, 0.5, "no model calls", ha="center", va="center", transform=ax.transAxes)
    name = next(iter(runs.values())).suite.name if runs else ""
    fig.suptitle(f"{name}: theorems proved vs budget spent")
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp.png")
    fig.savefig(tmp, dpi=110)
    plt.close(fig)
    tmp.replace(out)
    return out


def write_comparison(runs: dict[str, RunResult], out_dir: Path) -> dict[str, Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {"json": out_dir / "comparison.json", "table": out_dir / "comparison.txt"}
    atomic_write_json(paths["json"], comparison(runs))
    tmp = out_dir / ".comparison.txt.tmp"
    tmp.write_text(format_comparison(runs) + "\n", encoding="utf-8")
    tmp.replace(paths["table"])
    plot = plot_proved_vs_budget(runs, out_dir / "proved_vs_budget.png")
    if plot is not None:
        paths["plot"] = plot
    return paths
