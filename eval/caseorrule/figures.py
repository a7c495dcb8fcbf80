"""The accuracy heat map: one panel per trained split, every point of the (a, b) plane green where the
greedy answer is right and red where it is wrong, the held-out squares outlined."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from data.caseorrule.squares import Squares
from data.caseorrule.tasks import Task
from eval.caseorrule.accuracy import accuracy_grid


@dataclass(frozen=True)
class Panel:
    title: str
    rows: list[dict]
    squares: Squares | None = None


def plot_heatmaps(task: Task, panels: list[Panel], path: str | Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.colors import ListedColormap
    from matplotlib.patches import Rectangle

    path = Path(path)
    fig, axes = plt.subplots(1, len(panels), figsize=(5.2 * len(panels), 5), squeeze=False)
    cmap = ListedColormap(["#d62728", "#2ca02c"])
    cmap.set_bad("#dddddd")
    xlabel, ylabel = ("legs / 2", "heads") if task.name == "rabbits_and_chickens" else ("a", "b")
    for ax, panel in zip(axes[0], panels):
        ax.imshow(accuracy_grid(task, panel.rows), origin="lower", cmap=cmap, vmin=0, vmax=1, interpolation="nearest")
        if panel.squares is not None:
            for (cx, cy), k in zip(panel.squares.centres, panel.squares.halves):
                ax.add_patch(Rectangle((cx - k - 0.5, cy - k - 0.5), 2 * k + 1, 2 * k + 1, fill=False, edgecolor="black", linewidth=1.2))
        ax.set_title(panel.title, fontsize=10)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
    fig.suptitle(f"{task.name}: greedy answer right (green) / wrong (red)\nheld-out squares outlined", fontsize=10)
    return _save(fig, path)


def plot_distance(curves: dict[str, list[tuple[int, float, int]]], path: str | Path) -> Path:
    """Test accuracy against the distance to the nearest training point, one curve per trained split
    (`curves[name]` = [(distance, accuracy, points)])."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = Path(path)
    fig, ax = plt.subplots(figsize=(6, 4))
    for name, points in curves.items():
        ax.plot([d for d, _, _ in points], [100 * a for _, a, _ in points], marker="o", label=name)
    ax.set_xlabel("distance to the nearest training point (Chebyshev, grid steps)")
    ax.set_ylabel("test accuracy (%)")
    ax.set_ylim(-3, 103)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title("falling with the distance from seen cases: case-based; flat: rule-based", fontsize=10)
    return _save(fig, path)


def plot_curves(curves: dict[str, list[dict]], path: str | Path) -> Path:
    """The validation rows of each trained split's metrics.jsonl (its test side, teacher-forced): exact
    answers and loss against the training step."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = Path(path)
    fig, (acc, loss) = plt.subplots(1, 2, figsize=(10, 4))
    for name, rows in curves.items():
        steps = [r["step"] for r in rows]
        acc.plot(steps, [100 * r["answer_acc"] for r in rows], marker="o", label=name)
        loss.plot(steps, [r["loss"] for r in rows], marker="o", label=name)
    acc.set_ylabel("test answers exactly right, teacher-forced (%)")
    loss.set_ylabel("test loss (answer tokens)")
    for ax in (acc, loss):
        ax.set_xlabel("training step")
        ax.grid(alpha=0.3)
    acc.legend(fontsize=8)
    fig.suptitle("the test side of each split during training (for the squares split: the held-out squares)", fontsize=10)
    return _save(fig, path)


def _save(fig, path: Path) -> Path:
    """Written under a temporary name and renamed: a kill never leaves half a PNG."""
    import matplotlib.pyplot as plt

    fig.tight_layout()
    tmp = path.with_name(f".{path.name}.tmp.png")
    fig.savefig(tmp, dpi=110)
    plt.close(fig)
    os.replace(tmp, path)
    return path
