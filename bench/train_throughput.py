"""CPU training throughput: a plain PyTorch loop against the Lightning Trainer, side by side in one run.

Run: `.venv/bin/python bench/train_throughput.py [--presets tiny small] [--steps N] [--batch B]
[--data DATASET_DIR] [--json PATH]`.

Both sides train a freshly initialised `ProofNetModule` (same seed, so the same weights) on the same
stream of batches from the same `SFTDataModule`:
- plain: `training_step` (forward + loss), backward, gradient clipping, AdamW step, scheduler step;
- lightning: `train.trainer.build_trainer` as `proofzero train` builds it (one CPU device, 32-true,
  its checkpoint / metrics / CSV callbacks included), so the gap is what the Trainer costs per step.
With `--data` the batches are the real state-tactic rows of a `proofzero dataset` output; without it,
synthetic Coq-like states and tactics of realistic byte lengths (uniform in `--state-len`,
`--tactic-len`) go through the real `StateTacticDataset` (ByteTokenizer, padding, length bucketing).

Counted per step: tokens = non-pad encoder tokens + decoder target tokens (`training_step`'s
`tokens`, what `metrics.jsonl` reports as tokens/s), sequences, and wall time from the end of the last
warm-up step to the end of the last step (data loading included on both sides).
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import tempfile
import time
import warnings
from dataclasses import asdict, dataclass, field
from itertools import pairwise
from pathlib import Path

import lightning as L
import numpy as np
import torch

from model.config import ProofNetConfig
from train.config import DataConfig, TrainConfig, WandbConfig
from train.data import SFTDataModule, StateTacticDataset
from train.module import ProofNetModule
from train.trainer import build_trainer, resolve_model

log = logging.getLogger("train_throughput")

# (steps, batch) per preset: `small` (~300M parameters) takes 12-16 s a step at batch 2 on 2 quiet cores.
DEFAULTS = {"tiny": (10, 8), "small": (3, 2), "base": (2, 1), "3b": (1, 1)}
SIDES = ("plain", "lightning")

# Vocabulary of the synthetic states and tactics (only their lengths matter for throughput).
_TERMS = ("n", "m", "k", "x", "y", "l", "l'", "a", "b", "f", "g", "0", "1", "2", "S n", "nat", "Z", "R",
          "list nat", "Nat.add", "Nat.mul", "rev l", "length l", "In a l", "(n + m)", "(x * y)%R")
_OPS = ("=", "<=", "<", "+", "*", "->", "/\\", "\\/", "<>", "++")
_TACTICS = ("rewrite", "apply", "destruct", "induction", "exact", "unfold", "specialize", "simpl in",
            "assert", "eapply", "replace")


@dataclass
class Run:
    """One side's measured steps for one preset (sums over the steps after warm-up)."""

    preset: str
    side: str
    params: int
    batch: int
    steps: int = 0
    seconds: float = 0.0
    tokens: int = 0
    sequences: int = 0
    step_seconds: list[float] = field(default_factory=list)

    @property
    def tokens_per_s(self) -> float:
        return self.tokens / self.seconds

    @property
    def sequences_per_s(self) -> float:
        return self.sequences / self.seconds

    @property
    def s_per_step(self) -> float:
        return self.seconds / self.steps

    def add(self, marks: list[tuple[float, int, int]], warmup: int) -> None:
        """Marks are (time at the end of a step, its tokens, its sequences); the first `warmup` are skipped."""
        times = [m[0] for m in marks[warmup - 1 :]]
        measured = marks[warmup:]
        self.steps += len(measured)
        self.seconds += times[-1] - times[0]
        self.tokens += sum(m[1] for m in measured)
        self.sequences += sum(m[2] for m in measured)
        self.step_seconds += [b - a for a, b in pairwise(times)]


class StepClock(L.Callback):
    """Marks the end of every training step inside the Trainer, as the plain loop does by hand."""

    def __init__(self) -> None:
        self.marks: list[tuple[float, int, int]] = []

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        self.marks.append((time.perf_counter(), int(outputs["tokens"]), int(batch["input_ids"].shape[0])))


class SyntheticSFTDataModule(SFTDataModule):
    """`SFTDataModule` over generated rows instead of a dataset on disk; everything after the rows
    (tokenizing, padding, bucketing, sampling) is the real code."""

    def __init__(self, cfg: TrainConfig, model_config: ProofNetConfig, *, rows: int,
                 state_len: tuple[int, int], tactic_len: tuple[int, int]) -> None:
        super().__init__(cfg, model_config)
        self.rows, self.state_len, self.tactic_len = rows, state_len, tactic_len

    def setup(self, stage: str | None = None) -> None:
        if self.train_set is None:
            import datasets

            self.train_set = StateTacticDataset(
                datasets.Dataset.from_dict(synthetic_rows(self.rows, self.state_len, self.tactic_len, self.cfg.seed)),
                self.model_config)

    def describe(self) -> dict:
        return {"kind": "synthetic", "rows": self.rows, "state_bytes": self.state_len, "tactic_bytes": self.tactic_len}


def synthetic_rows(n: int, state_len: tuple[int, int], tactic_len: tuple[int, int], seed: int) -> dict:
    rng = np.random.default_rng(seed)

    def text(n_bytes: int, head: str = "") -> str:
        words = [head] if head else []
        while len(" ".join(words)) < n_bytes:
            words += [rng.choice(_TERMS), rng.choice(_OPS)] if rng.random() < 0.8 else [f"\nH{rng.integers(9)} :"]
        return " ".join(words)[:n_bytes]  # ASCII: characters are bytes

    states = [text(int(rng.integers(state_len[0], state_len[1] + 1))) for _ in range(n)]
    tactics = [text(int(rng.integers(tactic_len[0], tactic_len[1] + 1)), rng.choice(_TACTICS)) for _ in range(n)]
    return {"state": states, "tactic": tactics, "value_target": [-float(rng.integers(1, 30)) for _ in range(n)]}


def train_config(preset: str, batch: int, steps: int, data: str, run_dir: str) -> TrainConfig:
    """`proofzero train sft`'s config on one CPU: no validation, no checkpoint inside the run, no W&B."""
    return TrainConfig(stage="sft", run_dir=run_dir, model=preset, max_steps=steps, accelerator="cpu",
                       devices="1", precision="32-true", progress=False, checkpoint_every_n_steps=10**9,
                       data=DataConfig(path=data, batch_size=batch, val_batches=0), wandb=WandbConfig(enabled=False))


def run_plain(module: ProofNetModule, datamodule: SFTDataModule, steps: int) -> list[tuple[float, int, int]]:
    """What Lightning's automatic optimisation does per step, written out."""
    opt_conf = module.configure_optimizers()
    optimizer, scheduler = opt_conf["optimizer"], opt_conf["lr_scheduler"]["scheduler"]
    clip = module.cfg.optim.grad_clip
    module.train()
    marks = []
    batches = iter(datamodule.train_dataloader())
    for i in range(steps):
        batch = next(batches)
        out = module.training_step(batch, i)
        optimizer.zero_grad(set_to_none=True)
        out["loss"].backward()
        if clip:
            torch.nn.utils.clip_grad_norm_(module.parameters(), clip)
        optimizer.step()
        scheduler.step()
        marks.append((time.perf_counter(), int(out["tokens"]), int(batch["input_ids"].shape[0])))
    return marks


def run_lightning(module: ProofNetModule, datamodule: SFTDataModule, cfg: TrainConfig) -> list[tuple[float, int, int]]:
    trainer = build_trainer(cfg, Path(cfg.run_dir))
    trainer.checkpoint_callback.save_last = False  # untimed anyway; for `small` a 3.6 GB write
    clock = StepClock()
    trainer.callbacks.append(clock)
    trainer.fit(module, datamodule=datamodule)
    return clock.marks


def measure(preset: str, side: str, args: argparse.Namespace, steps: int, batch: int, result: Run | None) -> Run:
    with tempfile.TemporaryDirectory(prefix="train-throughput-") as run_dir:
        cfg = train_config(preset, batch, args.warmup + steps, args.data or "", run_dir)
        L.seed_everything(cfg.seed, verbose=False)
        model_config, _ = resolve_model(cfg)
        module = ProofNetModule.create(model_config, cfg)
        if args.data:
            datamodule = SFTDataModule(cfg, model_config)
        else:
            datamodule = SyntheticSFTDataModule(cfg, model_config, rows=args.rows, state_len=tuple(args.state_len),
                                                tactic_len=tuple(args.tactic_len))
        datamodule.setup("fit")
        marks = run_plain(module, datamodule, cfg.max_steps) if side == "plain" else run_lightning(module, datamodule, cfg)
        result = result or Run(preset, side, module.net.num_parameters(), batch)
        result.add(marks, args.warmup)
        return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--presets", nargs="+", default=["tiny", "small"])
    ap.add_argument("--steps", type=int, default=None, help="measured steps per side (default per preset: tiny 10, small 3)")
    ap.add_argument("--batch", type=int, default=None, help="sequences per step (default per preset: tiny 8, small 2)")
    ap.add_argument("--warmup", type=int, default=1, help="steps run first and not counted")
    ap.add_argument("--repeat", type=int, default=1, help="runs per side, alternating which side goes first")
    ap.add_argument("--data", default=None, help="a `proofzero dataset` output dir (default: synthetic rows)")
    ap.add_argument("--state-len", type=int, nargs=2, default=[200, 500], metavar=("LO", "HI"), help="synthetic state bytes")
    ap.add_argument("--tactic-len", type=int, nargs=2, default=[10, 60], metavar=("LO", "HI"), help="synthetic tactic bytes")
    ap.add_argument("--rows", type=int, default=512, help="synthetic rows (the sampler buckets them by length)")
    ap.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = ap.parse_args()
    if args.warmup < 1:
        ap.error("--warmup must be >= 1: the clock starts at the end of the last warm-up step")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    for name in ("lightning.pytorch", "lightning.fabric"):
        logging.getLogger(name).setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", message=".*(self.log|does not have many workers|num_workers|LeafSpec).*")

    results: list[Run] = []
    for preset in args.presets:
        steps, batch = DEFAULTS.get(preset, (2, 1))
        steps, batch = args.steps or steps, args.batch or batch
        runs: dict[str, Run | None] = dict.fromkeys(SIDES)
        for r in range(args.repeat):
            for side in SIDES if r % 2 == 0 else SIDES[::-1]:
                t0 = time.perf_counter()
                runs[side] = measure(preset, side, args, steps, batch, runs[side])
                log.info("%s %s run %d: %.1f s wall", preset, side, r + 1, time.perf_counter() - t0)
        results += [runs[s] for s in SIDES]

    (s_lo, s_hi), (t_lo, t_hi) = args.state_len, args.tactic_len
    source = f"data {args.data}" if args.data else f"synthetic states {s_lo}-{s_hi} B, tactics {t_lo}-{t_hi} B"
    print(f"\n{torch.get_num_threads()} threads, torch {torch.__version__}, {source}, "
          f"warm-up {args.warmup} step(s) excluded, fp32")
    print(f"{'preset':<7} {'params':>8} {'side':<10} {'batch':>5} {'steps':>5} {'s/step':>8} {'median':>8} "
          f"{'seq/s':>7} {'tokens/s':>9}")
    for r in results:
        print(f"{r.preset:<7} {r.params / 1e6:>7.1f}M {r.side:<10} {r.batch:>5} {r.steps:>5} {r.s_per_step:>8.3f} "
              f"{statistics.median(r.step_seconds):>8.3f} {r.sequences_per_s:>7.2f} {r.tokens_per_s:>9.0f}")
    for preset in args.presets:
        plain, light = (next(r for r in results if r.preset == preset and r.side == s) for s in SIDES)
        print(f"{preset}: lightning / plain tokens/s = {light.tokens_per_s / plain.tokens_per_s:.2f}")
    if args.json:
        args.json.write_text(json.dumps({"args": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
                                         "threads": torch.get_num_threads(), "torch": torch.__version__,
                                         "results": [{**asdict(r), "tokens_per_s": r.tokens_per_s,
                                                      "sequences_per_s": r.sequences_per_s, "s_per_step": r.s_per_step}
                                                     for r in results]}, indent=2) + "\n")
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
