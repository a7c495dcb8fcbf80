"""ProofNetConfig: the sizes of the proof network, with presets in `configs/model/*.yaml`."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import yaml

from model.tokenizer import ByteTokenizer

PRESET_DIR = Path(__file__).resolve().parent.parent / "configs" / "model"
PRESETS = ("tiny", "small", "base", "3b")


@dataclass(frozen=True)
class ProofNetConfig:
    # Transformer (T5 v1.1 / ByT5 layout: gated-GELU feed-forward, relative position buckets).
    d_model: int = 256
    d_kv: int = 64  # per-head width; heads * d_kv need not equal d_model (ByT5 does not)
    d_ff: int = 512
    num_layers: int = 4  # encoder
    num_decoder_layers: int = 2  # ByT5 puts most depth in the encoder (3:1)
    num_heads: int = 4
    feed_forward_proj: str = "gated-gelu"
    dropout: float = 0.1
    # Vocabulary: the byte tokenizer's (pad 0, eos 1, unk 2, bytes, sentinels).
    num_sentinels: int = 125
    # Lengths in tokens (bytes + eos).
    max_state_length: int = 1024
    max_tactic_length: int = 128
    # Value head: a categorical distribution over `value_bins` bins of the return (-steps).
    value_bins: int = 64
    value_min: float = -63.0  # returns below are clipped into the first bin
    value_max: float = 0.0  # returns above are clipped into the last; bin centres are evenly spaced
    value_hidden: int = 256  # width of the value MLP
    value_weight: float = 0.001  # total loss = policy + value_weight * value (ALGORITHMS.md)

    def __post_init__(self) -> None:
        for name in ("d_model", "d_kv", "d_ff", "num_layers", "num_decoder_layers", "num_heads",
                     "max_state_length", "max_tactic_length", "value_hidden"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.value_bins < 2:
            raise ValueError("value_bins must be >= 2")
        if not self.value_min < self.value_max:
            raise ValueError(f"value_min ({self.value_min}) must be < value_max ({self.value_max})")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError("dropout must be in [0, 1)")
        if self.value_weight < 0:
            raise ValueError("value_weight must be >= 0")

    @property
    def vocab_size(self) -> int:
        return self.tokenizer().vocab_size

    def tokenizer(self) -> ByteTokenizer:
        return ByteTokenizer(num_sentinels=self.num_sentinels)

    def replace(self, **changes) -> ProofNetConfig:
        return dataclasses.replace(self, **changes)

    @classmethod
    def from_yaml(cls, path: str | Path, **overrides) -> ProofNetConfig:
        """A config from a YAML mapping of field names (unknown keys are an error), then `overrides`."""
        try:
            data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as e:
            mark = getattr(e, "problem_mark", None)
            where = f":{mark.line + 1}:{mark.column + 1}" if mark is not None else ""
            raise ValueError(f"{path}{where}: not valid YAML ({getattr(e, 'problem', None) or e})") from None
        except (OSError, UnicodeDecodeError) as e:
            raise ValueError(f"{path}: not a readable YAML file ({getattr(e, 'strerror', None) or e})") from None
        if not isinstance(data, dict):
            raise ValueError(f"{path}: a model config is a mapping of field names to values, not a {type(data).__name__}")
        unknown = set(data) - {f.name for f in dataclasses.fields(cls)}
        if unknown:
            raise ValueError(f"{path}: unknown keys {sorted(unknown)}")
        return cls(**{**data, **overrides})

    @classmethod
    def preset(cls, name: str, **overrides) -> ProofNetConfig:
        """One of `PRESETS`, read from `configs/model/<name>.yaml`."""
        if name not in PRESETS:
            raise ValueError(f"unknown preset {name!r}; one of {PRESETS}")
        return cls.from_yaml(PRESET_DIR / f"{name}.yaml", **overrides)
