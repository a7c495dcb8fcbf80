"""`proofzero train pretrain|sft [CONFIG] [key=value ...]`: train the proof network.

CONFIG is a YAML under `configs/train/` (default: `<stage>.yaml`) or a path; `key=value` items
override it (`data.path=runs/demo/dataset max_steps=500 devices=2 strategy=ddp`); `--profile NAME` puts a
cluster profile (`configs/cluster/`) between the two. Rerunning the same command resumes from RUN_DIR's
last checkpoint. Multi-GPU / multi-node runs are the same command under `srun` (see `slurm/train.sbatch`):
Slurm's warning signal before the time limit saves a checkpoint and requeues the job (train/slurm.py).
"""

from __future__ import annotations

import argparse
import logging
import shutil
from pathlib import Path

from proofzero.cli import UserError
from proofzero.config import load_config, read_profile, resolve_config_path, split_overrides
from proofzero.outputs import check_output_dir

STAGES = ("pretrain", "sft")
TRAILING_POSITIONALS = "rest"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("stage", choices=STAGES, help="pretrain: span corruption + next-token on a corpus; sft: state -> tactic + value")
    p.add_argument("rest", nargs="*", metavar="CONFIG|key=value",
                   help="a config (path or name under configs/; default train/STAGE.yaml) and key=value overrides")
    p.add_argument("--profile", default=None, metavar="NAME",
                   help="a cluster profile on top of the config: local-cpu, slurm-cpu, slurm-gpu (configs/cluster/) or a path")


def run(args: argparse.Namespace) -> int:
    from train.slurm import catch_requeue_signal

    catch_requeue_signal()  # before torch loads: Slurm's warning signal must not end a task still starting
    configs, overrides = split_overrides(args.rest)
    if len(configs) > 1:
        raise UserError(f"one CONFIG at most, got {configs}")
    path = configs[0] if configs else f"train/{args.stage}.yaml"
    resolve_config_path(path)  # a clear error before torch loads
    profile = read_profile(args.profile, "train") if args.profile else None

    from train.checkpoint import CheckpointError
    from train.config import TrainConfig
    from train.data import DataError
    from train.report import format_summary
    from train.trainer import TrainSetupError, train

    for name in ("lightning", "lightning.pytorch", "lightning.fabric"):  # one log format: ours (root's handler)
        logging.getLogger(name).handlers.clear()
        logging.getLogger(name).propagate = True
    for name in ("lightning.pytorch", "lightning.fabric"):  # device/tip/rank lines, on every rank: say nothing
        logging.getLogger(name).setLevel(logging.WARNING)
    cfg = load_config(TrainConfig, path, [*overrides, f"stage={args.stage}"], profile)
    run_dir = Path(cfg.run_dir)
    check_output_dir(run_dir, "run_dir")
    fresh = not run_dir.exists()
    try:
        summary = train(cfg)
    except (DataError, TrainSetupError, CheckpointError) as e:
        # A run that could not start leaves no run directory behind (one that has checkpoints stays).
        if fresh and not any(run_dir.glob("checkpoints/*.ckpt")):
            shutil.rmtree(run_dir, ignore_errors=True)
        raise UserError(str(e)) from None
    if summary is not None:
        print(format_summary(summary))
    return 0
