"""Several finished `proofzero caseorrule run` directories side by side: accuracy outside and inside the
held-out squares, each square, and one heat map panel per run (random split first if a run has one).

    python bench/caseorrule_splits.py runs/caseorrule/addition_3hole_1411 runs/caseorrule/addition_3hole_2155 \
        runs/caseorrule/addition_3hole_2363 --figure docs/caseorrule_addition.png
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from data.caseorrule.squares import parse_squares
from data.caseorrule.tasks import get_task
from eval.caseorrule.figures import Panel, plot_heatmaps

SQUARES = Path(__file__).resolve().parent.parent / "benchmarks" / "case-or-rule" / "squares"


def predictions(arm_dir: Path) -> list[dict]:
    lines = (arm_dir / "predictions.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines[1:]]  # line 0: the step they were made at


def squares_of(split_name: str):
    """`3hole_1411_0-100` -> the squares file `addition_3hole_1411.txt` names."""
    matches = sorted(SQUARES.glob(f"*_{split_name.rsplit('_', 1)[0]}.txt"))
    return parse_squares(matches[0].read_text()) if matches else None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("runs", nargs="+", type=Path)
    ap.add_argument("--figure", type=Path, help="write the heat maps side by side here")
    args = ap.parse_args()
    panels, task = [], None
    print(f"{'run':<32} {'split':<34} {'outside':>8} {'inside':>8}  squares   (random split: train / test points)")
    for run in args.runs:
        summary = json.loads((run / "summary.json").read_text())
        task = get_task(summary["task"])
        for arm in sorted(summary["arms"], key=lambda a: a != "random"):
            info = summary["arms"][arm]
            regions = info["regions"]
            if arm == "random":
                outside, inside, per = regions["train"], regions["test"], ""
            else:
                outside, inside = regions["out_of_squares"], regions["in_squares"]
                per = ", ".join(f"{regions[k]['accuracy']:.1%}" for k in sorted(regions) if k.startswith("square_"))
            print(f"{run.name:<32} {info['split']:<34} {outside['accuracy']:>8.1%} {inside['accuracy']:>8.1%}  {per}")
            if args.figure and (arm != "random" or not panels):
                squares = None if arm == "random" else squares_of(info["split"])
                name = "random 70/30 split" if arm == "random" else f"{info['split']} ({run.name})"
                title = f"{name}\n{'test' if arm == 'random' else 'in squares'} {inside['accuracy']:.1%}"
                panels.append(Panel(title, predictions(run / arm), squares))
    if args.figure and task is not None:
        print(f"figure: {plot_heatmaps(task, panels, args.figure)}")


if __name__ == "__main__":
    main()
