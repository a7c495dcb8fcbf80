"""The end of a run: `summary.json`, a table a person can read, and `loss.png` (the learning curves)."""

from __future__ import annotations

import logging
from pathlib import Path

from model.config import ProofNetConfig
from train.callbacks import METRICS, read_metrics
from train.config import TrainConfig

log = logging.getLogger(__name__)

PLOT = "loss.png"
SUMMARY = "summary.json"


def summarize(cfg: TrainConfig, run_dir: Path, model_config: ProofNetConfig, step: int, seconds: float,
              checkpoint: Path, data: dict, parameters: int, world_size: int = 1) -> dict:
    from train.trainer import write_json

    rows = read_metrics(run_dir / METRICS)
    train = [r for r in rows if r.get("kind") == "train"]
    val = [r for r in rows if r.get("kind") == "val"]
    speeds = [r["tokens_per_s"] for r in train if r.get("tokens_per_s")]
    summary = {
        "stage": cfg.stage,
        "run_dir": str(run_dir),
        "steps": step,
        "max_steps": cfg.max_steps,
        "parameters": parameters,
        "processes": world_size,  # training processes (ranks) of this launch
        "model": cfg.model if not cfg.init_from else f"init_from {cfg.init_from}",
        "data": data,
        "seconds_this_launch": round(seconds, 1),
        "tokens_per_s": round(sorted(speeds)[len(speeds) // 2], 1) if speeds else None,  # median
        "train_loss_first": train[0]["loss"] if train else None,
        "train_loss_last": train[-1]["loss"] if train else None,
        "val_first": _strip(val[0]) if val else None,
        "val_last": _strip(val[-1]) if val else None,
        "checkpoint": str(checkpoint),
        "metrics": str(run_dir / METRICS),
        "plot": str(run_dir / PLOT),
    }
    write_json(run_dir / SUMMARY, summary)
    return summary


def _strip(row: dict) -> dict:
    return {k: v for k, v in row.items() if k not in ("kind", "time")}


def format_summary(s: dict) -> str:
    def num(x, fmt=".4f"):
        return "-" if x is None else format(x, fmt)

    lines = [
        f"{s['stage']} run {s['run_dir']}: {s['steps']}/{s['max_steps']} steps, {s['parameters'] / 1e6:.2f}M parameters"
        + (f", {s['processes']} processes" if s.get("processes", 1) > 1 else ""),
        f"  train loss     {num(s['train_loss_first'])} -> {num(s['train_loss_last'])}",
    ]
    first, last = s.get("val_first") or {}, s.get("val_last") or {}
    for key in ("loss", "token_acc", "tactic_acc"):
        if key in last:
            lines.append(f"  val {key:<10} {num(first.get(key))} (step {first.get('step')}) -> {num(last[key])} (step {last['step']})")
    lines.append(f"  throughput     {num(s['tokens_per_s'], '.0f')} tokens/s (median), {s['seconds_this_launch']:.0f} s this launch")
    lines.append(f"  checkpoint     {s['checkpoint']}")
    lines.append(f"  curves         {s['metrics']}, {s['plot']}")
    return "\n".join(lines)


def plot_metrics(run_dir: Path) -> Path | None:
    """Train and validation loss against step (and tactic accuracy, when validated)."""
    rows = read_metrics(run_dir / METRICS)
    if not rows:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    train = [r for r in rows if r.get("kind") == "train" and r.get("loss") is not None]
    val = [r for r in rows if r.get("kind") == "val" and r.get("loss") is not None]
    acc = [r for r in val if r.get("tactic_acc") is not None]
    fig, axes = plt.subplots(1, 2 if acc else 1, figsize=(11 if acc else 6, 4), squeeze=False)
    ax = axes[0][0]
    ax.plot([r["step"] for r in train], [r["loss"] for r in train], label="train loss", lw=1)
    if val:
        ax.plot([r["step"] for r in val], [r["loss"] for r in val], "o-", label="val loss")
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("loss")
    ax.set_yscale("log")
    ax.legend()
    ax.grid(alpha=0.3)
    if acc:
        ax = axes[0][1]
        ax.plot([r["step"] for r in acc], [r["tactic_acc"] for r in acc], "o-", label="tactic accuracy (greedy)")
        ax.plot([r["step"] for r in acc], [r.get("token_acc") for r in acc], "s--", label="token accuracy")
        ax.set_xlabel("optimizer step")
        ax.set_ylim(0, 1)
        ax.legend()
        ax.grid(alpha=0.3)
    fig.suptitle(f"{run_dir.name}: learning curves")
    fig.tight_layout()
    out = run_dir / PLOT
    tmp = out.with_name(".loss.tmp.png")
    fig.savefig(tmp, dpi=100)
    plt.close(fig)
    tmp.replace(out)
    return out
