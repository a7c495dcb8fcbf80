"""TrainConfig: everything `proofzero train pretrain|sft` (and the RL learner) reads, as OmegaConf-structured dataclasses.

One schema for both stages and every machine: a laptop run and a multi-node ZeRO-3 run differ only in
`strategy`, `devices`, `num_nodes`, `precision` and the model preset (see `configs/train/`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

STAGES = ("pretrain", "sft", "rl")
STRATEGIES = (
    "auto",  # one device, or DDP when devices > 1
    "ddp",
    "deepspeed_stage_2",
    "deepspeed_stage_2_offload",  # optimizer state on the CPU
    "deepspeed_stage_3",
    "deepspeed_stage_3_offload",  # parameters and optimizer state on the CPU
)
OBJECTIVES = ("span_corruption", "next_token", "mixed")
SCHEDULES = ("cosine", "linear", "constant")
PRECISIONS = ("auto", "32-true", "bf16-mixed", "bf16-true", "16-mixed")


@dataclass(frozen=True)
class DataConfig:
    path: str = ""  # SFT: a `proofzero dataset` output dir; pretrain: a `proofzero corpus` output dir
    scheme: str = "novel_files"  # SFT split scheme: random | novel_files
    batch_size: int = 16  # sequences per device per micro-batch
    val_batches: int = 20  # validation micro-batches per device (0: no validation)
    num_workers: int = 0
    # RL (stage rl): batches mix `sft_fraction` of SFT rows (from `path`) with replay transitions.
    replay: str = ""  # the RL run's replay.jsonl
    sft_fraction: float = 0.1
    # Pretraining objectives over the corpus's packed sequences.
    objective: str = "mixed"  # span_corruption | next_token | mixed (each sequence picks one)
    next_token_fraction: float = 0.5  # in `mixed`, the share of next-token sequences
    noise_density: float = 0.15  # T5 span corruption: fraction of tokens masked
    mean_span_length: float = 20.0  # ByT5's mean masked span for bytes (T5 uses 3 for subwords)

    def __post_init__(self) -> None:
        if self.batch_size < 1 or self.val_batches < 0 or self.num_workers < 0:
            raise ValueError("data.batch_size must be >= 1, data.val_batches and data.num_workers >= 0")
        if self.objective not in OBJECTIVES:
            raise ValueError(f"data.objective must be one of {OBJECTIVES}, got {self.objective!r}")
        if not 0.0 <= self.sft_fraction <= 1.0:
            raise ValueError("data.sft_fraction must be in [0, 1]")
        if not 0.0 <= self.next_token_fraction <= 1.0:
            raise ValueError("data.next_token_fraction must be in [0, 1]")
        if not 0.0 < self.noise_density < 1.0 or self.mean_span_length < 1.0:
            raise ValueError("data.noise_density must be in (0, 1) and data.mean_span_length >= 1")


@dataclass(frozen=True)
class OptimConfig:
    lr: float = 3e-4
    weight_decay: float = 0.01
    beta1: float = 0.9
    beta2: float = 0.999
    warmup_steps: int = 100  # linear warm-up from 0
    schedule: str = "cosine"  # after warm-up: cosine | linear decay to min_lr_ratio * lr, or constant
    min_lr_ratio: float = 0.1
    grad_clip: float = 1.0  # 0: no clipping

    def __post_init__(self) -> None:
        if self.lr <= 0 or self.weight_decay < 0 or self.warmup_steps < 0 or self.grad_clip < 0:
            raise ValueError("optim.lr must be > 0; weight_decay, warmup_steps, grad_clip >= 0")
        if self.schedule not in SCHEDULES:
            raise ValueError(f"optim.schedule must be one of {SCHEDULES}, got {self.schedule!r}")
        if not 0.0 <= self.min_lr_ratio <= 1.0:
            raise ValueError("optim.min_lr_ratio must be in [0, 1]")


@dataclass(frozen=True)
class WandbConfig:
    enabled: bool = True  # offline unless WANDB_MODE says otherwise; files under RUN_DIR/wandb
    project: str = "proofzero"
    entity: str = ""
    name: str = ""  # default: the run directory's name


@dataclass(frozen=True)
class TrainConfig:
    stage: str = "sft"
    run_dir: str = "runs/train"  # checkpoints, logs, metrics.jsonl, summary.json, loss.png; resumed from
    model: str = "tiny"  # a preset (tiny, small, base, 3b) or a ProofNetConfig YAML
    model_overrides: dict[str, Any] = field(default_factory=dict)  # ProofNetConfig fields
    init_from: str = ""  # start from an export dir or a checkpoint (SFT after pretraining)
    value_weight: float = 0.001  # SFT loss = tactic CE + value_weight * value CE (ALGORITHMS.md)
    data: DataConfig = field(default_factory=DataConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    max_steps: int = 1000  # optimizer steps
    accumulate_grad_batches: int = 1
    # Hardware profile: the same run on a laptop or a cluster.
    accelerator: str = "auto"  # auto | cpu | gpu
    devices: str = "auto"  # auto, a count, or a list like "0,1"
    num_nodes: int = 1
    strategy: str = "auto"
    precision: str = "auto"  # auto: bf16-mixed on GPUs that have bf16, else 32-true
    gradient_checkpointing: bool = False
    seed: int = 0
    log_every_n_steps: int = 10
    val_every_n_steps: int = 200
    checkpoint_every_n_steps: int = 200
    keep_checkpoints: int = 3  # the newest step checkpoints kept (plus `last`)
    resume: str = "auto"  # auto: from RUN_DIR's last checkpoint if any; never; or a checkpoint path
    progress: bool = True
    wandb: WandbConfig = field(default_factory=WandbConfig)

    def __post_init__(self) -> None:
        if self.stage not in STAGES:
            raise ValueError(f"stage must be one of {STAGES}, got {self.stage!r}")
        if self.strategy not in STRATEGIES:
            raise ValueError(f"strategy must be one of {STRATEGIES}, got {self.strategy!r}")
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {PRECISIONS}, got {self.precision!r}")
        for name in ("max_steps", "accumulate_grad_batches", "num_nodes", "log_every_n_steps",
                     "val_every_n_steps", "checkpoint_every_n_steps", "keep_checkpoints"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.value_weight < 0:
            raise ValueError("value_weight must be >= 0")
        if not self.run_dir:
            raise ValueError("run_dir must be set")

    @property
    def deepspeed(self) -> bool:
        return self.strategy.startswith("deepspeed")


def train_config_from_dict(d: dict) -> TrainConfig:
    """A TrainConfig from `dataclasses.asdict` output (checkpoint hyper-parameters)."""
    d = dict(d)
    d["data"] = DataConfig(**d.get("data", {}))
    d["optim"] = OptimConfig(**d.get("optim", {}))
    d["wandb"] = WandbConfig(**d.get("wandb", {}))
    return TrainConfig(**d)
