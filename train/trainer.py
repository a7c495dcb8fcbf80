"""`train(cfg)`: a pretraining or SFT run from a TrainConfig, on one CPU or many GPU nodes.

RUN_DIR holds everything: `config.yaml` (resolved), `checkpoints/` (every N steps, the newest K kept,
plus `last.ckpt`), `metrics.jsonl` (the continuous curve), `csv/` and `wandb/` logs, and at the end
`summary.json` and `loss.png`. Rerunning the same command resumes from `checkpoints/last.ckpt` and
continues the same curve; the data stream restarts at the micro-batch the checkpoint reached.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import platform
import time
import warnings
from pathlib import Path

import lightning as L
import torch
import yaml
from lightning.fabric.plugins.environments import SLURMEnvironment
from lightning.pytorch.callbacks import (
    LearningRateMonitor,
    ModelCheckpoint,
    TQDMProgressBar,
)
from lightning.pytorch.loggers import CSVLogger, Logger
from lightning.pytorch.strategies import DDPStrategy, DeepSpeedStrategy, Strategy

from model.config import ProofNetConfig
from train import slurm
from train.callbacks import MetricsLog, SlurmRequeue, read_metrics
from train.checkpoint import check_resumable, load_checkpoint, weights_only_loads, zero_safe_globals
from train.config import TrainConfig
from train.data import make_datamodule
from train.module import ProofNetModule

log = logging.getLogger(__name__)

# Lightning's own use of a deprecated torch API (lightning/pytorch/utilities/_pytree.py): nothing a user can act on.
warnings.filterwarnings("ignore", message=r".*isinstance\(treespec, LeafSpec\)")
# On any machine with Slurm's client installed, Lightning advises `srun` for every run outside a job:
# a run outside a job is meant to be local (under srun, train/slurm.py sees the job).
warnings.filterwarnings("ignore", message=r"The `srun` command is available on your system but is not used")

LAST = "last.ckpt"


class TrainSetupError(ValueError):
    """A config that cannot run on this machine (reported as a user error)."""


def train(cfg: TrainConfig) -> dict | None:
    """Run (or resume) training; returns the summary on global rank 0, None on other ranks."""
    run_dir = Path(cfg.run_dir)
    (run_dir / "checkpoints").mkdir(parents=True, exist_ok=True)
    L.seed_everything(cfg.seed, workers=True, verbose=False)
    model_config, init = resolve_model(cfg)
    module = ProofNetModule.create(model_config, cfg)
    if init is not None:
        module.net.load_state_dict(init.state_dict())
    datamodule = make_datamodule(cfg, model_config)
    ckpt_path = resume_path(cfg, run_dir)
    if ckpt_path is not None:
        check_resumable(ckpt_path)  # intact, and no pickle that runs code (a CheckpointError if not)
    trainer = build_trainer(cfg, run_dir)
    if trainer.world_size > 1:
        log.info("rank %d of %d (node %d) on %s", trainer.global_rank, trainer.world_size, trainer.node_rank,
                 platform.node())
    if trainer.is_global_zero:
        _write_yaml(run_dir / "config.yaml", dataclasses.asdict(cfg))
    started = time.time()
    if ckpt_path is None and cfg.data.val_batches and not _has_val_row(run_dir, 0):
        trainer.validate(module, datamodule=datamodule, verbose=False)  # the curve's step-0 point
    elif ckpt_path is not None:
        log.info("resuming from %s", ckpt_path)
    # weights_only=True explicitly: Lightning's default (None) leaves it to torch, which an environment
    # variable (TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD) turns into a full unpickle.
    trainer.fit(module, datamodule=datamodule, ckpt_path=ckpt_path, weights_only=True)
    final = run_dir / "checkpoints" / LAST
    trainer.save_checkpoint(final, weights_only=False)  # the end state (optimizer too: resumable), whatever the interval
    if not trainer.is_global_zero:
        return None
    from train.report import plot_metrics, summarize

    summary = summarize(cfg, run_dir, model_config, trainer.global_step, time.time() - started,
                        final, datamodule.describe(), module.net.num_parameters(), trainer.world_size)
    plot_metrics(run_dir)
    return summary


def resolve_model(cfg: TrainConfig) -> tuple[ProofNetConfig, torch.nn.Module | None]:
    """The model config (preset or YAML + overrides, value_weight from the train config), and the
    network to start from when `init_from` is set (whose sizes then win)."""
    if cfg.init_from:
        init = _load_init(cfg.init_from)
        config = init.config.replace(value_weight=cfg.value_weight, **_non_size(cfg.model_overrides))
        return config, init
    overrides = {**cfg.model_overrides, "value_weight": cfg.value_weight}
    try:
        if Path(cfg.model).suffix in (".yaml", ".yml"):
            return ProofNetConfig.from_yaml(cfg.model, **overrides), None
        return ProofNetConfig.preset(cfg.model, **overrides), None
    except (ValueError, TypeError, FileNotFoundError) as e:
        raise TrainSetupError(f"model={cfg.model}: {e}") from None


# ProofNetConfig fields that do not change the weights' shapes: a run started from weights may set them.
NON_SIZE = ("dropout", "value_weight", "max_state_length", "max_tactic_length")


def _non_size(overrides: dict) -> dict:
    ignored = sorted(set(overrides) - set(NON_SIZE))
    if ignored:
        log.warning("init_from is set: the weights fix the network's sizes; ignoring model_overrides %s", ignored)
    return {k: v for k, v in overrides.items() if k in NON_SIZE}


def _load_init(path: str):
    from model.export import load_pretrained

    p = Path(path)
    try:
        if p.is_dir() and (p / "proofnet_config.json").is_file():
            return load_pretrained(p).train()
        return load_checkpoint(p).model.train()
    except ValueError as e:
        raise TrainSetupError(f"init_from={path}: {e}") from None


def resume_path(cfg: TrainConfig, run_dir: Path) -> str | None:
    if cfg.resume == "never":
        return None
    if cfg.resume == "auto":
        # Our last checkpoint, or the one Lightning writes on Slurm's pre-emption signal
        # (hpc_ckpt_N.ckpt in the run directory, before requeueing): whichever is newer.
        candidates = [p for p in [run_dir / "checkpoints" / LAST, *run_dir.glob("hpc_ckpt_*.ckpt")] if p.exists()]
        return str(max(candidates, key=lambda p: p.stat().st_mtime)) if candidates else None
    if not Path(cfg.resume).exists():
        raise TrainSetupError(f"resume={cfg.resume}: no such checkpoint")
    return cfg.resume


def build_trainer(cfg: TrainConfig, run_dir: Path) -> L.Trainer:
    accelerator = _accelerator(cfg)
    precision = cfg.precision
    if precision == "auto":
        precision = "bf16-mixed" if accelerator == "gpu" and torch.cuda.is_bf16_supported() else "32-true"
    if accelerator == "cpu" and precision not in ("32-true", "bf16-mixed"):
        raise TrainSetupError(f"precision={precision} needs a GPU; on CPU use 32-true")
    checkpoint = ModelCheckpoint(
        dirpath=run_dir / "checkpoints",
        filename="step{step:08d}",
        auto_insert_metric_name=False,
        every_n_train_steps=cfg.checkpoint_every_n_steps,
        save_top_k=cfg.keep_checkpoints,
        monitor="step",  # keep the newest K, whatever the losses
        mode="max",
        save_last=True,
    )
    callbacks = [checkpoint, MetricsLog(run_dir, cfg.log_every_n_steps), LearningRateMonitor("step")]
    if cfg.progress:
        callbacks.append(TQDMProgressBar(refresh_rate=max(1, cfg.log_every_n_steps // 2)))
    val = cfg.data.val_batches > 0
    plugins = []
    if slurm.in_slurm_job():  # ranks from Slurm's variables; requeue on its signal is ours (train/slurm.py)
        plugins.append(_slurm_environment(cfg))
        callbacks.append(SlurmRequeue(run_dir, (cfg.val_every_n_steps if val else 0, cfg.checkpoint_every_n_steps)))
    return L.Trainer(
        accelerator=accelerator,
        devices=_devices(cfg.devices),
        num_nodes=cfg.num_nodes,
        strategy=_strategy(cfg, accelerator),
        precision=precision,
        max_steps=cfg.max_steps,
        max_epochs=-1,  # the sampler is endless: steps, not epochs, end the run
        accumulate_grad_batches=cfg.accumulate_grad_batches,
        gradient_clip_val=cfg.optim.grad_clip or None,
        val_check_interval=cfg.val_every_n_steps * cfg.accumulate_grad_batches if val else None,
        check_val_every_n_epoch=None,
        limit_val_batches=cfg.data.val_batches if val else 0,
        num_sanity_val_steps=0,
        log_every_n_steps=cfg.log_every_n_steps,
        logger=_loggers(cfg, run_dir),
        callbacks=callbacks,
        enable_progress_bar=cfg.progress,
        enable_model_summary=False,
        use_distributed_sampler=False,  # ResumableBatchSampler shards by rank itself
        default_root_dir=run_dir,
        deterministic=False,
        plugins=plugins or None,
    )


def _slurm_environment(cfg: TrainConfig) -> SLURMEnvironment:
    """Lightning's view of the Slurm task, checked here so a mismatch is one line, not a traceback."""
    tasks, per_node = os.environ.get("SLURM_NTASKS", "1"), os.environ.get("SLURM_NTASKS_PER_NODE")
    if int(tasks) > 1 and "SLURM_STEP_ID" not in os.environ:  # the batch script itself: rank 0 would wait for the rest
        raise TrainSetupError(f"this Slurm job has {tasks} tasks, but this process is the batch script, not one of "
                              "them: start training with srun (as slurm/train.sbatch does)")
    if int(tasks) > 1 and per_node is None:
        raise TrainSetupError(f"this Slurm job has {tasks} tasks but no --ntasks-per-node, which Lightning needs "
                              "to place the ranks: submit with --ntasks-per-node=N (one task per device)")
    devices, nodes = _devices(cfg.devices), os.environ.get("SLURM_NNODES", "1")
    if per_node is not None and per_node.isdigit() and isinstance(devices, int) and devices != int(per_node):
        raise TrainSetupError(f"devices={cfg.devices} but the Slurm job runs {per_node} tasks per node: set "
                              f"devices={per_node} (the cluster/slurm-* profiles read it from Slurm)")
    if nodes.isdigit() and int(nodes) != cfg.num_nodes:
        raise TrainSetupError(f"num_nodes={cfg.num_nodes} but the Slurm job has {nodes} nodes: set num_nodes={nodes} "
                              "(the cluster/slurm-* profiles read it from Slurm)")
    return SLURMEnvironment(auto_requeue=False)


def _accelerator(cfg: TrainConfig) -> str:
    if cfg.accelerator == "auto":
        return "gpu" if torch.cuda.is_available() else "cpu"
    if cfg.accelerator == "gpu" and not torch.cuda.is_available():
        raise TrainSetupError("accelerator=gpu but no CUDA device is visible")
    if cfg.accelerator not in ("cpu", "gpu"):
        raise TrainSetupError(f"accelerator must be auto, cpu or gpu, got {cfg.accelerator!r}")
    return cfg.accelerator


def _devices(devices: str) -> int | str:
    devices = str(devices).strip()
    if devices == "auto":
        return "auto" if torch.cuda.is_available() else 1
    if devices.isdigit():
        return int(devices)
    return devices  # "0,1" or "-1", as Lightning reads them


def _strategy(cfg: TrainConfig, accelerator: str) -> Strategy | str:
    if cfg.deepspeed:
        if accelerator != "gpu":
            raise TrainSetupError(f"strategy={cfg.strategy} needs GPUs (Lightning runs DeepSpeed on CUDA only); "
                                  "on CPU use strategy=ddp or auto")
        stage = 3 if "stage_3" in cfg.strategy else 2
        offload = cfg.strategy.endswith("_offload")
        return SafeDeepSpeedStrategy(stage=stage, offload_optimizer=offload,
                                     offload_parameters=offload and stage == 3, logging_level=logging.WARNING)
    if cfg.strategy == "ddp" or (cfg.strategy == "auto" and _several(cfg)):
        return DDPStrategy(process_group_backend="gloo" if accelerator == "cpu" else "nccl")
    return "auto"


class SafeDeepSpeedStrategy(DeepSpeedStrategy):
    """Lightning's DeepSpeed strategy, resuming weights-only: it hands the checkpoint to DeepSpeed's engine,
    whose reader calls torch.load(weights_only=False) and ignores the Trainer's weights_only."""

    def load_checkpoint(self, checkpoint_path, weights_only=None):
        with weights_only_loads(zero_safe_globals()):
            return super().load_checkpoint(checkpoint_path, weights_only=True)


def _several(cfg: TrainConfig) -> bool:
    d = str(cfg.devices)
    return cfg.num_nodes > 1 or (d.isdigit() and int(d) > 1) or ("," in d) or d == "-1"


def _loggers(cfg: TrainConfig, run_dir: Path) -> list[Logger]:
    loggers: list[Logger] = [CSVLogger(run_dir, name="csv")]
    if cfg.wandb.enabled:
        try:
            from lightning.pytorch.loggers import WandbLogger
        except ImportError:  # pragma: no cover - wandb is in the train extra
            log.warning("wandb is not installed; logging to CSV only")
            return loggers
        os.environ.setdefault("WANDB_MODE", "offline")
        os.environ.setdefault("WANDB_SILENT", "true")
        # One wandb run per run directory, on every rank and across resumes.
        run_id = hashlib.sha1(str(run_dir.resolve()).encode()).hexdigest()[:16]
        wandb = WandbLogger(save_dir=str(run_dir), project=cfg.wandb.project, entity=cfg.wandb.entity or None,
                            name=cfg.wandb.name or run_dir.name, id=run_id, resume="allow", config=dataclasses.asdict(cfg))
        # Lightning always passes `anonymous` (None by default), and wandb >= 0.2x warns that the setting has no
        # effect whatever its value: leave it out.
        wandb._wandb_init.pop("anonymous", None)
        loggers.append(wandb)
    return loggers


def _has_val_row(run_dir: Path, step: int) -> bool:
    return any(r.get("kind") == "val" and r["step"] == step for r in read_metrics(run_dir / "metrics.jsonl"))


def _write_yaml(path: Path, data: dict) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(yaml.safe_dump(data, sort_keys=False))
    os.replace(tmp, path)


def write_json(path: Path, data: dict) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n")
    os.replace(tmp, path)
