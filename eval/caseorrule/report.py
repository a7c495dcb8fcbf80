"""The run's report: accuracy per region for every trained split, `summary.json`, the heat map, and the
table a person reads at the end."""

from __future__ import annotations

import json
import os
from pathlib import Path

from data.caseorrule.splits import Split
from data.caseorrule.tasks import Task
from eval.caseorrule.accuracy import RegionAccuracy, accuracy_by_distance, region_accuracies
from eval.caseorrule.figures import Panel, plot_curves, plot_distance, plot_heatmaps

SUMMARY = "summary.json"
HEATMAP = "heatmap.png"
DISTANCE = "distance.png"
CURVES = "curves.png"
_LABELS = {"train": "train points", "test": "test points", "out_of_squares": "outside the squares",
           "in_squares": "inside the squares"}


def report(task: Task, fmt: str, results: list[tuple[str, Split, list[dict], float | None]], run_dir: str | Path,
           val_rows: dict[str, list[dict]] | None = None) -> str:
    """`results`: (arm name, its split, its graded predictions, training seconds) per trained split;
    `val_rows`: each arm's validation rows (metrics.jsonl), drawn as learning curves."""
    run_dir = Path(run_dir)
    arms, panels, curves = {}, [], {}
    squares = next((split.squares for _, split, _, _ in results if split.squares is not None), None)
    for name, split, rows, seconds in results:
        regions = region_accuracies(task, rows, split.squares, _digits if name == "length" else None)
        arms[name] = {"split": split.name, "train_examples": len(split.train), "test_examples": len(split.test),
                      "train_seconds": seconds, "regions": {r.region: _row(r) for r in regions}}
        test = next(r for r in regions if r.region == "test")
        if name != "length":
            by_distance = accuracy_by_distance(task, rows)
            arms[name]["test_by_distance"] = {str(d): _row(r) for d, r in by_distance}
            curves[f"{name}: {split.name}"] = [(d, r.accuracy, r.total) for d, r in by_distance]
        if name != "length":  # operands of up to 12 digits: no grid to draw
            panels.append(Panel(f"{name}: {split.name}\ntest accuracy {test.accuracy:.1%}", rows, split.squares or squares))
    summary = {"task": task.name, "format": fmt, "arms": arms}
    val_rows = {name: rows for name, rows in (val_rows or {}).items() if rows}
    for name, rows in val_rows.items():
        arms[name]["test_during_training"] = [{k: r[k] for k in ("step", "loss", "answer_acc") if k in r} for r in rows]
    if val_rows:
        summary["curves_plot"] = str(plot_curves({f"{n}: {arms[n]['split']}": rows for n, rows in val_rows.items()}, run_dir / CURVES))
    if panels:
        summary["heatmap"] = str(plot_heatmaps(task, panels, run_dir / HEATMAP))
        summary["distance_plot"] = str(plot_distance(curves, run_dir / DISTANCE))
    tmp = run_dir / f".{SUMMARY}.tmp"
    tmp.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, run_dir / SUMMARY)
    return format_table(summary)


def _digits(row: dict) -> str:
    return f"{max(len(str(row['a'])), len(str(row['b']))):>2} digits"


def _row(r: RegionAccuracy) -> dict:
    row = {"correct": r.correct, "total": r.total, "accuracy": r.accuracy}
    if r.lines_ok is not None:
        row["scratchpad_lines_ok"] = r.lines_ok
    return row


def format_table(summary: dict) -> str:
    lines = [f"{summary['task']} ({summary['format']} format): greedy exact-match accuracy", ""]
    width = max(len(f"{name}: {arm['split']}") for name, arm in summary["arms"].items()) + 2
    lines.append(f"{'trained on':<{width}} {'region':<20} {'accuracy':>9} {'right / asked':>15}")
    for name, arm in summary["arms"].items():
        for region, acc in arm["regions"].items():
            if region in ("train", "test") and "in_squares" in arm["regions"]:
                continue  # the same points as outside / inside the squares
            label = _LABELS.get(region, region.replace("_", " "))
            extra = f"  (scratchpad lines ok {acc['scratchpad_lines_ok']:.1%})" if "scratchpad_lines_ok" in acc else ""
            lines.append(f"{name + ': ' + arm['split']:<{width}} {label:<20} {acc['accuracy']:>9.1%} "
                         f"{acc['correct']:>7} / {acc['total']:<6}{extra}")
        if "test_by_distance" in arm and len(arm["test_by_distance"]) > 1:
            parts = [f"{d}: {acc['accuracy']:.0%}" for d, acc in arm["test_by_distance"].items()]
            lines.append(f"{'':<{width}} test accuracy by distance to the nearest training point: {', '.join(parts)}")
    if "heatmap" in summary:
        lines += ["", f"heat map: {summary['heatmap']}", f"accuracy by distance: {summary['distance_plot']}"]
    if "curves_plot" in summary:
        lines.append(f"test side during training: {summary['curves_plot']}")
    return "\n".join(lines)
