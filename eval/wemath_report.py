"""WE-Math results a person reads at a glance: the table (four dimensions in both settings, S1-S3, the
knowledge tree rolled up), the same as JSON, and one figure."""

from __future__ import annotations

import logging
from pathlib import Path

from eval.runner import atomic_write_json
from eval.wemath import ConceptScore, Dimensions, WeMathScore

log = logging.getLogger(__name__)

DIMENSIONS = ("IK", "IG", "CM", "RM")
NAMES = {"IK": "insufficient knowledge", "IG": "inadequate generalisation", "CM": "complete mastery", "RM": "rote memorisation"}
COLOURS = {"IK": "#d62728", "IG": "#ff7f0e", "CM": "#2ca02c", "RM": "#9467bd"}


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{100 * x:.2f}%"


def format_table(s: WeMathScore, leaves: bool = False) -> str:
    """The official columns (rates with counts in brackets), then S1-S3, then the knowledge tree down to
    the second level (`leaves`: down to every leaf)."""
    lines = [f"WE-Math {s.source}: {s.responses} responses, an answer letter found in {s.extracted}", ""]
    head = f"{'':<8}{'score':>9}" + "".join(f"{k:>16}" for k in DIMENSIONS)
    lines += [head, "-" * len(head)]
    for name, d in (("strict", s.strict), ("loose", s.loose)):
        lines.append(f"{name:<8}{_pct(d.score):>9}" + "".join(f"{_cell(d, k):>16}" for k in DIMENSIONS))
    lines.append(f"(IK, IG, CM: share of the {s.strict.total} composite problems; RM: share of CM + RM)")
    lines.append("")
    lines.append("   ".join(f"{label} {_pct(a.rate)} ({a.correct}/{a.total})" for label, a in
                            (("S1 one-step", s.s1), ("S2 two-step", s.s2), ("S3 three-step", s.s3))))
    lines += ["", "knowledge concepts: accuracy on the one-step sub-problems (a node: the mean of its leaves)"]
    for c in s.concepts:
        if c.depth > 2 and not leaves:
            continue
        indent = "  " * (c.depth - 1)
        label = f"{indent}{c.name}"
        count = f"n={c.total}" + (f", {c.leaves} leaves" if c.leaves > 1 else "")
        lines.append(f"{label:<72.72}{_pct(c.accuracy):>8}  ({count})")
    if not leaves:
        lines.append(f"({sum(1 for c in s.concepts if c.leaves == 1 and c.depth == len(c.path))} leaf concepts: --leaves lists them)")
    return "\n".join(lines)


def _cell(d: Dimensions, key: str) -> str:
    return f"{_pct(d.rates[key])} ({getattr(d, key)})"


def write_report(s: WeMathScore, out_dir: Path) -> dict[str, Path]:
    """score.json, score.txt (every leaf) and wemath.png under `out_dir`, each written atomically."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {"json": out_dir / "score.json", "table": out_dir / "score.txt"}
    atomic_write_json(paths["json"], s.to_dict())
    tmp = out_dir / ".score.txt.tmp"
    tmp.write_text(format_table(s, leaves=True) + "\n", encoding="utf-8")
    tmp.replace(paths["table"])
    plot = plot_score(s, out_dir / "wemath.png")
    if plot is not None:
        paths["plot"] = plot
    return paths


def plot_score(s: WeMathScore, out: Path) -> Path | None:
    """Left: the four cases in each setting (stacked over the composites) and S1-S3. Right: every
    second-level concept's accuracy as a bar, its leaves as dots, grouped and coloured by first level."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        log.warning("matplotlib is not installed: no plot")
        return None
    fig = plt.figure(figsize=(15, 7.5))
    grid = fig.add_gridspec(2, 2, width_ratios=(1, 1.5), height_ratios=(1, 1))
    ax_dims, ax_steps, ax_tree = fig.add_subplot(grid[0, 0]), fig.add_subplot(grid[1, 0]), fig.add_subplot(grid[:, 1])

    for row, (name, d) in enumerate((("strict", s.strict), ("loose", s.loose))):
        left = 0
        for key in DIMENSIONS:
            count = getattr(d, key)
            ax_dims.barh(row, count, left=left, color=COLOURS[key], label=f"{key}: {NAMES[key]}" if row == 0 else None)
            if count >= d.total * 0.06:
                ax_dims.text(left + count / 2, row, f"{key}\n{count}", ha="center", va="center", fontsize=8, color="white")
            left += count
        ax_dims.text(d.total * 1.01, row, f"score\n{_pct(d.score)}", va="center", fontsize=9)
    ax_dims.set_yticks([0, 1], ["strict", "loose"])
    ax_dims.invert_yaxis()
    ax_dims.set_xlim(0, s.strict.total * 1.18)
    ax_dims.set_xlabel(f"composite problems (of {s.strict.total})")
    ax_dims.legend(fontsize=7, loc="lower center", bbox_to_anchor=(0.45, 1.0), ncol=2, frameon=False)

    labels = ["S1\none-step", "S2\ntwo-step", "S3\nthree-step"]
    rates = [100 * (a.rate or 0) for a in (s.s1, s.s2, s.s3)]
    bars = ax_steps.bar(labels, rates, color=["#1f77b4", "#6baed6", "#9ecae1"])
    for bar, a in zip(bars, (s.s1, s.s2, s.s3)):
        ax_steps.text(bar.get_x() + bar.get_width() / 2, bar.get_height() + 1, f"{_pct(a.rate)}\n{a.correct}/{a.total}",
                      ha="center", va="bottom", fontsize=8)
    ax_steps.set_ylim(0, 118)
    ax_steps.set_ylabel("accuracy (%)")

    _plot_tree(ax_tree, s.concepts)
    fig.suptitle(f"WE-Math: {s.source}", fontsize=11)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp.png")
    fig.savefig(tmp, dpi=110)
    plt.close(fig)
    tmp.replace(out)
    return out


def _plot_tree(ax, concepts: tuple[ConceptScore, ...]) -> None:
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    firsts = [c for c in concepts if c.depth == 1]
    palette = plt.get_cmap("tab10")
    colour = {c.name: palette(k % 10) for k, c in enumerate(firsts)}
    seconds = [c for c in concepts if c.depth == 2]
    leaves = [c for c in concepts if c.leaves == 1 and c.depth == len(c.path)]
    y = {c.path: k for k, c in enumerate(seconds)}
    right = {c.path: 100 * (c.accuracy or 0) for c in seconds}
    for c in leaves:
        if c.accuracy is not None and c.path[:2] in y:
            ax.plot(100 * c.accuracy, y[c.path[:2]], "o", color=colour[c.path[0]], markersize=4.5,
                    markeredgecolor="black", markeredgewidth=0.4, zorder=3)
            right[c.path[:2]] = max(right[c.path[:2]], 100 * c.accuracy)
    for c in seconds:
        ax.barh(y[c.path], 100 * (c.accuracy or 0), color=colour[c.path[0]], alpha=0.6)
        ax.text(right[c.path] + 1.5, y[c.path], f"{_pct(c.accuracy)}  n={c.total}", va="center", fontsize=7.5)
    ax.set_yticks(range(len(seconds)), [c.name for c in seconds], fontsize=8)
    ax.invert_yaxis()
    ax.set_xlim(0, 112)
    ax.set_xlabel("accuracy on one-step sub-problems (%); bar: second-level concept (mean of its leaves); dot: a leaf")
    ax.legend(handles=[Patch(color=colour[c.name], alpha=0.6, label=c.name) for c in firsts], fontsize=7, loc="lower right")
    ax.set_title("knowledge concepts", fontsize=10)
