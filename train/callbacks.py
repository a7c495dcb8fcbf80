"""MetricsLog: the run's one continuous learning curve, `RUN_DIR/metrics.jsonl` (rank 0 writes it).

Lightning's CSV logger starts a new version per launch; this file instead continues across resumes:
on (re)start, rows past the checkpoint's step are dropped (they belong to work the checkpoint lost),
so the curve reads as one run. Train rows hold the loss averaged over the step's micro-batches, the
learning rate and tokens/s (all ranks); validation rows the synced validation metrics.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import lightning as L
import torch

METRICS = "metrics.jsonl"


class MetricsLog(L.Callback):
    def __init__(self, run_dir: Path, every_n_steps: int) -> None:
        self.path = Path(run_dir) / METRICS
        self.every = every_n_steps
        self._sums: dict[str, float] = {}
        self._micro = 0
        self._tokens = 0.0
        self._clock = time.perf_counter()

    # -- resume: keep the curve up to the restored step --------------------------------------
    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.is_global_zero and self.path.is_file():
            rows = read_metrics(self.path)
            keep = [r for r in rows if r["step"] <= trainer.global_step]
            if len(keep) != len(rows):
                _rewrite(self.path, keep)
        self._clock = time.perf_counter()

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if not isinstance(outputs, dict):
            return
        for name in ("loss", "policy_loss", "value_loss"):
            if name in outputs:
                self._sums[name] = self._sums.get(name, 0.0) + float(torch.as_tensor(outputs[name]).detach())
        self._micro += 1
        self._tokens += float(outputs.get("tokens", 0))
        step_done = self._micro % trainer.accumulate_grad_batches == 0
        if not step_done or trainer.global_step % self.every:
            return
        elapsed = time.perf_counter() - self._clock
        row = {"kind": "train", "step": trainer.global_step}
        row.update({k: v / self._micro for k, v in self._sums.items()})
        row["lr"] = trainer.optimizers[0].param_groups[0]["lr"] if trainer.optimizers else None
        row["tokens_per_s"] = self._tokens * trainer.world_size / elapsed if elapsed > 0 else None
        row["time"] = time.time()
        self._sums, self._micro, self._tokens, self._clock = {}, 0, 0.0, time.perf_counter()
        if trainer.is_global_zero:
            _append(self.path, row)

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.sanity_checking or not trainer.is_global_zero:
            return
        row = {"kind": "val", "step": trainer.global_step, "time": time.time()}
        for key, value in trainer.callback_metrics.items():
            if key.startswith("val/"):
                row[key.removeprefix("val/")] = float(value.item() if isinstance(value, torch.Tensor) else value)
        if len(row) > 3:
            _append(self.path, row)


def read_metrics(path: str | Path) -> list[dict]:
    """The rows of a metrics.jsonl; a row repeated for the same (kind, step) keeps its last value."""
    rows: dict[tuple[str, int], dict] = {}
    path = Path(path)
    if not path.is_file():
        return []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            row = json.loads(line)
        except json.JSONDecodeError:  # a line cut by a crash mid-write
            continue
        rows[(row.get("kind", "train"), int(row["step"]))] = row
    return sorted(rows.values(), key=lambda r: (r["step"], r.get("kind") == "train"))


def _append(path: Path, row: dict) -> None:
    with path.open("a", encoding="utf-8") as f:
        f.write(json.dumps(row) + "\n")
        f.flush()


def _rewrite(path: Path, rows: list[dict]) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    os.replace(tmp, path)
