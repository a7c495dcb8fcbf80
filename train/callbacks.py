"""MetricsLog: the run's one continuous learning curve, `RUN_DIR/metrics.jsonl` (rank 0 writes it);
SlurmRequeue: save and requeue on Slurm's warning signal.

Lightning's CSV logger starts a new version per launch; this file instead continues across resumes:
on (re)start, rows past the checkpoint's step are dropped (they belong to work the checkpoint lost),
so the curve reads as one run. Train rows hold the loss averaged over the step's micro-batches, the
learning rate and tokens/s (all ranks); validation rows the synced validation metrics.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
from pathlib import Path

import lightning as L
import torch
from lightning.pytorch.utilities.exceptions import SIGTERMException

from train import slurm

log = logging.getLogger(__name__)

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


class SlurmRequeue(L.Callback):
    """Slurm's warning signal (train/slurm.py) turned into a checkpoint and a requeue, at a step boundary.

    At each optimizer step the ranks agree whether any of them was signalled (one all-reduce of a flag,
    like Lightning's own SIGTERM check). If so they save one checkpoint together,
    `RUN_DIR/hpc_ckpt_STEP.ckpt` (written under a temporary name, then renamed: never half a checkpoint),
    global rank 0 runs `scontrol requeue`, and every rank waits for the SIGTERM with which Slurm ends
    this run, taking no further step: the requeued job resumes exactly there (`trainer.resume_path`), so
    metrics.jsonl reads as one run. Steps that validate or save a regular checkpoint hand the save to the
    next step, so the curve and checkpoints/ are those of an uninterrupted run. If Slurm refuses the
    requeue (a job submitted with --no-requeue), training goes on: the checkpoint is there for a resubmit.
    """

    def __init__(self, run_dir: Path, busy_every: tuple[int, ...] = (), wait_s: float = 120.0) -> None:
        self.run_dir = Path(run_dir)
        self.busy_every = tuple(n for n in busy_every if n > 0)  # steps that validate or checkpoint
        self.wait_s = wait_s
        self._step = -1

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        slurm.catch_requeue_signal()  # the CLI installs it at start-up; the RL learner's launches land here
        self._step = trainer.global_step

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        step = trainer.global_step
        if step == self._step:  # within gradient accumulation: not a step boundary
            return
        self._step = step
        if (trainer.max_steps > 0 and step >= trainer.max_steps) or any(step % n == 0 for n in self.busy_every):
            return  # the same decision on every rank, without a collective
        if not trainer.strategy.reduce_boolean_decision(slurm.signalled(), all=False):
            return
        path = self._save(trainer, step)
        requeued = trainer.strategy.broadcast(slurm.requeue() if trainer.is_global_zero else False, src=0)
        slurm.clear()
        if not requeued:
            log.warning("saved %s on Slurm's signal but could not requeue the job: training goes on "
                        "(resubmitting the same command resumes from it)", path)
            return
        log.info("step %d saved to %s; waiting for Slurm to stop this run", step, path)
        deadline = time.monotonic() + self.wait_s
        while time.monotonic() < deadline:
            if trainer.received_sigterm:
                raise SIGTERMException()
            time.sleep(0.2)
        log.warning("Slurm has not stopped the requeued run after %.0f s: training goes on", self.wait_s)

    def _save(self, trainer: L.Trainer, step: int) -> Path:
        final = self.run_dir / f"hpc_ckpt_{step}.ckpt"
        tmp = self.run_dir / f".hpc_ckpt_{step}.ckpt.tmp"
        trainer.save_checkpoint(tmp, weights_only=False)  # every rank takes part (DeepSpeed writes its shards), then a barrier
        if trainer.is_global_zero:
            _remove(final)
            os.replace(tmp, final)
            for old in self.run_dir.glob("hpc_ckpt_*.ckpt"):
                if old != final:
                    _remove(old)
        trainer.strategy.barrier("hpc_ckpt")
        return final


def _remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)
