"""The formal realisation's yield, per epoch: a table, JSON, and a stacked bar chart of outcomes."""

from __future__ import annotations

import json
import logging
from pathlib import Path

from data.filters import REASONS
from data.mathscale.formal import epoch_yield

log = logging.getLogger(__name__)

COLUMNS = ("kept", "no_template", "undecided", *(r for r in REASONS if r != "env_error"), "env_error")
COLOURS = ("#2ca02c", "#7f7f7f", "#bcbd22", "#1f77b4", "#8c564b", "#ff7f0e", "#d62728", "#9467bd", "#e377c2", "#17becf",
           "#000000")


def yield_table(results: dict[int, list[dict]]) -> dict:
    per_epoch = {e: epoch_yield(results[e]) for e in sorted(results)}
    total = {"walks": 0, "statements": 0, "as_generated": 0, "negated": 0, "outcomes": {}}
    for y in per_epoch.values():
        for k in ("walks", "statements", "as_generated", "negated"):
            total[k] += y[k]
        for k, v in y["outcomes"].items():
            total["outcomes"][k] = total["outcomes"].get(k, 0) + v
    kps: dict[str, int] = {}
    for records in results.values():
        for r in records:
            if r["outcome"] == "kept":
                for kp in r["kps"]:
                    kps[kp] = kps.get(kp, 0) + 1
    return {"epochs": per_epoch, "total": total, "kept_by_kp": dict(sorted(kps.items(), key=lambda kv: -kv[1]))}


def format_yield(table: dict) -> str:
    used = [c for c in COLUMNS if any(c in y["outcomes"] for y in [*table["epochs"].values(), table["total"]])]
    short = {"no_template": "no_tmpl", "does_not_elaborate": "no_elab", "contradictory_hypotheses": "contra",
             "refuted_by_automation": "refuted", "disproved_by_search": "disproved", "duplicate": "dup"}
    head = f"{'epoch':<7}{'walks':>6}{'stmts':>6}{'true':>6}{'neg':>6}" + "".join(f"{short.get(c, c):>10}" for c in used)
    lines = [head, "-" * len(head)]
    rows = [(str(e), y) for e, y in table["epochs"].items()] + [("all", table["total"])]
    for label, y in rows:
        lines.append(f"{label:<7}{y['walks']:>6}{y['statements']:>6}{y['as_generated']:>6}{y['negated']:>6}"
                     + "".join(f"{y['outcomes'].get(c, 0):>10}" for c in used))
    lines.append("stmts: walks with a template; true/neg: Coq proved the statement as generated / its negation "
                 "(then emitted); the rest: what became of each walk")
    if table["kept_by_kp"]:
        lines.append("kept statements per knowledge point: " + ", ".join(f"{k} {v}" for k, v in table["kept_by_kp"].items()))
    return "\n".join(lines)


def write_yield(results: dict[int, list[dict]], out: Path) -> dict[str, Path]:
    table = yield_table(results)
    paths = {"json": out / "yield.json", "table": out / "yield.txt"}
    for path, text in ((paths["json"], json.dumps(table, indent=1)), (paths["table"], format_yield(table))):
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_text(text + "\n", encoding="utf-8")
        tmp.replace(path)
    plot = _plot(table, out / "yield.png")
    if plot is not None:
        paths["plot"] = plot
    return paths


def _plot(table: dict, out: Path) -> Path | None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        log.warning("matplotlib is not installed: no plot")
        return None
    epochs = list(table["epochs"])
    fig, ax = plt.subplots(figsize=(max(7, 0.8 * len(epochs) + 5), 4))
    bottom = [0] * len(epochs)
    for column in (c for c in COLUMNS if c in table["total"]["outcomes"]):
        values = [table["epochs"][e]["outcomes"].get(column, 0) for e in epochs]
        ax.bar(range(len(epochs)), values, bottom=bottom, label=column, color=COLOURS[COLUMNS.index(column)])
        bottom = [b + v for b, v in zip(bottom, values)]
    ax.set_xticks(range(len(epochs)), [str(e) for e in epochs])
    ax.set_xlabel("epoch (one walk per topic)")
    ax.set_ylabel("walks")
    ax.set_title("MathScale formal realisation: what became of each walk", fontsize=10)
    ax.legend(fontsize=8, bbox_to_anchor=(1.01, 1), loc="upper left")
    fig.tight_layout()
    tmp = out.with_name(f".{out.name}.tmp.png")
    fig.savefig(tmp, dpi=110)
    plt.close(fig)
    tmp.replace(out)
    return out

