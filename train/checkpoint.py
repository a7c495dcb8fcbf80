"""Reading training checkpoints back: a Lightning `.ckpt` file or a DeepSpeed ZeRO checkpoint directory
(what Lightning writes under DeepSpeed: `<name>.ckpt/` with `latest` and `checkpoint/*_states.pt`).

ZeRO shards are consolidated to fp32 with DeepSpeed's own `zero_to_fp32` (CPU only, no GPU needed);
the Lightning hyper-parameters travel in the checkpoint's client state either way.

A checkpoint is a pickle, and a full unpickle runs whatever code it names. Every file is therefore
read with `torch.load(weights_only=True)`, which builds only tensors, containers and plain values, plus
the few DeepSpeed types its ZeRO optimizer states hold (`zero_safe_globals`), allowed for that load
alone. DeepSpeed's own readers ask for a full unpickle; `weights_only_loads` overrides them.
"""

from __future__ import annotations

import logging
import os
import pickle
import re
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import torch

from model.config import ProofNetConfig
from model.proofnet import ProofNet

log = logging.getLogger(__name__)

_PREFIXES = ("_forward_module.", "module.")  # DeepSpeed / DDP wrappers around the LightningModule


class CheckpointError(ValueError):
    """Not a readable ProofZero training checkpoint (one line, for the CLI)."""


@dataclass
class LoadedCheckpoint:
    model: ProofNet
    train_config: dict = field(default_factory=dict)  # TrainConfig as a dict ({} if absent)
    global_step: int = 0
    kind: str = "lightning"  # lightning | zero


def is_zero_checkpoint(path: Path) -> bool:
    return path.is_dir() and ((path / "latest").is_file() or any(path.glob("*/*mp_rank_*_model_states.pt")))


def load_checkpoint(path: str | Path) -> LoadedCheckpoint:
    """The ProofNet (eval mode, CPU, fp32) and training info of a checkpoint."""
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"{path}: no such checkpoint")
    if is_zero_checkpoint(path):
        check_zero_archives(path)
        state, meta, kind = _read_zero(path), _zero_client_state(path), "zero"
    elif path.is_file():
        check_archive(path)
        meta = safe_load(path)
        if not isinstance(meta, dict) or not isinstance(meta.get("state_dict"), dict):
            raise CheckpointError(f"{path}: not a Lightning checkpoint (no state_dict)")
        state, kind = meta["state_dict"], "lightning"
    else:
        raise CheckpointError(f"{path}: neither a Lightning .ckpt file nor a DeepSpeed ZeRO checkpoint directory")
    hparams = meta.get("hyper_parameters") or {}
    if not isinstance(hparams, dict) or "model_config" not in hparams:
        raise CheckpointError(f"{path}: no model_config in its hyper-parameters (not written by `proofzero train`)")
    try:
        config = ProofNetConfig(**hparams["model_config"])
    except (TypeError, ValueError) as e:
        raise CheckpointError(f"{path}: bad model_config ({e})") from None
    model = ProofNet(config)
    net_state = net_state_dict(state, path)
    try:
        missing, unexpected = model.load_state_dict(net_state, strict=False)
    except RuntimeError as e:  # a tensor of the wrong shape
        first = str(e).strip().splitlines()[-1].strip()
        raise CheckpointError(f"{path}: weights do not fit the model config ({first})") from None
    missing = [k for k in missing if not k.endswith("lm_head.weight") or "t5.shared.weight" not in net_state]
    if missing or unexpected:
        raise CheckpointError(f"{path}: weights do not fit the model config (missing {missing[:3]}, unexpected {unexpected[:3]})")
    train_config = hparams.get("train_config") or {}
    try:
        step = int(meta.get("global_step", 0))
    except (TypeError, ValueError):
        raise CheckpointError(f"{path}: global_step {meta.get('global_step')!r} is not a number") from None
    if not isinstance(train_config, dict):
        raise CheckpointError(f"{path}: its train_config is not a mapping")
    return LoadedCheckpoint(model.eval(), train_config, step, kind)


def check_archive(path: Path) -> None:
    """A checkpoint written as a zip archive (torch.save's format) has every member's CRC-32 checked:
    torch.load does not, and reads flipped bytes as different weights without a word.

    A member whose recorded CRC is 0 was written without checksums
    (`torch.serialization.set_crc32_options(False)`) and cannot be checked. Files that are not zip
    archives (torch's legacy format) are left to `torch.load`.
    """
    if not zipfile.is_zipfile(path):
        with path.open("rb") as f:
            if f.read(4) == b"PK\x03\x04":  # begins as a zip archive, but its directory at the end is gone
                raise CheckpointError(f"{path}: corrupted checkpoint (a zip archive without its end: truncated?)")
        return
    member = "?"
    try:
        with zipfile.ZipFile(path) as archive:
            for info in archive.infolist():
                member = info.filename
                if info.CRC == 0 and info.file_size:
                    continue
                with archive.open(info) as f:  # ZipExtFile checks the CRC once the member is read through
                    while f.read(1 << 24):
                        pass
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError, ValueError, NotImplementedError) as e:
        raise CheckpointError(f"{path}: corrupted checkpoint (archive member {member}: {e})") from None


def check_resumable(path: str | Path) -> None:
    """What `Trainer.fit(ckpt_path=...)` is about to read is intact and unpickles safely (CheckpointError
    if not): checked here first, because Lightning's own error for either is a traceback, and under
    DeepSpeed it reads the files with a full unpickle."""
    path = Path(path)
    if is_zero_checkpoint(path):
        check_zero_archives(path)
    elif path.is_file():
        check_archive(path)
        safe_load(path, mmap=zipfile.is_zipfile(path))
    else:
        raise CheckpointError(f"{path}: neither a Lightning .ckpt file nor a DeepSpeed ZeRO checkpoint directory")


def check_zero_archives(path: Path) -> None:
    """Every archive DeepSpeed will read has sound CRCs and unpickles with the ZeRO allowlist; DeepSpeed
    itself would unpickle them in full. Memory-mapped: the tensors' bytes are left unread."""
    allowed = zero_safe_globals()
    for archive in _zero_archives(path):
        check_archive(archive)
        safe_load(archive, allowed, mmap=zipfile.is_zipfile(archive))


def zero_safe_globals() -> list[type]:
    """The non-tensor types in DeepSpeed ZeRO checkpoints, found by loading ones DeepSpeed wrote (ZeRO-2
    and -3; fp32, bf16, fp16) with weights_only=True. All are in the optimizer states: the loss scaler
    (`LossScaler` in fp32/bf16, `DynamicLossScaler` in fp16), the stage (`ZeroStageEnum`) and ZeRO-2's
    parameter-slice map (`fragment_address`). Model states hold only tensors and plain values. Empty
    without deepspeed: its checkpoints cannot be read then anyway."""
    try:
        from deepspeed.runtime.fp16.loss_scaler import DynamicLossScaler, LossScaler
        from deepspeed.runtime.zero.config import ZeroStageEnum
        from deepspeed.utils.tensor_fragment import fragment_address
    except ImportError:
        return []
    return [LossScaler, DynamicLossScaler, ZeroStageEnum, fragment_address]


def safe_load(path: Path, allowed: list[type] | None = None, *, mmap: bool = False):
    """`torch.load` that builds no object outside torch's weights-only set and `allowed` (for this load
    only), so a pickle cannot run code; a CheckpointError naming what it tried to build if it does."""
    try:
        with torch.serialization.safe_globals(allowed or []):
            return torch.load(path, map_location="cpu", weights_only=True, mmap=mmap)
    except pickle.UnpicklingError as e:
        raise CheckpointError(refusal(path, e)) from None
    except Exception as e:  # noqa: BLE001 - any unreadable file is the same user error
        first = str(e).strip().splitlines()[0] if str(e).strip() else ""
        raise CheckpointError(f"{path}: cannot read it as a checkpoint ({type(e).__name__}: {first})") from None


@contextmanager
def weights_only_loads(allowed: list[type]) -> Iterator[None]:
    """Every `torch.load` inside runs weights-only with `allowed`, even one that passes
    weights_only=False, as DeepSpeed's zero_to_fp32 and checkpoint engine do. Torch reads the switch
    (an environment variable) at each call; it is process-wide while the block runs."""
    names = ("TORCH_FORCE_WEIGHTS_ONLY_LOAD", "TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD")
    saved = {name: os.environ.pop(name, None) for name in names}
    os.environ["TORCH_FORCE_WEIGHTS_ONLY_LOAD"] = "1"
    try:
        with torch.serialization.safe_globals(allowed):
            yield
    finally:
        for name, value in saved.items():
            os.environ.pop(name, None)
            if value is not None:
                os.environ[name] = value


def refusal(path: Path | str, error: Exception) -> str:
    """One line for what torch's weights-only unpickler would not load: a pickle that names a type or
    function outside the allowlist is refused as such; anything else (not a pickle at all, an opcode
    the weights-only unpickler does not run) cannot be read."""
    text = str(error)
    found = re.search(r"GLOBAL ([\w.]+)", text)
    if found:
        return (f"{path}: refused: its pickle names {found.group(1)}, which no ProofZero checkpoint holds "
                f"(unpickling it could run code)")
    detail = text.split("WeightsUnpickler error:", 1)[-1]
    lines = [ln.strip() for ln in detail.splitlines()
             if ln.strip() and not ln.startswith(("Weights only", "Check the", "Please file"))]
    return f"{path}: cannot read it as a checkpoint (UnpicklingError: {lines[0] if lines else 'not a pickle'})"


def _zero_archives(path: Path) -> list[Path]:
    """The `*.pt` archives of the tag that `latest` names (every tag's when there is no `latest`): the
    model and optimizer states DeepSpeed consolidates, each read through once for its CRCs."""
    latest = path / "latest"
    tag = latest.read_text(encoding="utf-8", errors="replace").strip() if latest.is_file() else ""
    root = path / tag if tag and (path / tag).is_dir() else path
    return sorted(p for p in root.rglob("*.pt") if p.is_file())


def net_state_dict(state: dict, path: Path | None = None) -> dict[str, torch.Tensor]:
    """`net.*` weights of a module state dict, wrapper prefixes removed, as fp32 on the CPU."""
    out = {}
    for key, tensor in state.items():
        key = str(key)
        for prefix in _PREFIXES:
            key = key.removeprefix(prefix)
        if key.startswith("net."):
            if not isinstance(tensor, torch.Tensor):
                raise CheckpointError(f"{path or 'checkpoint'}: {key} is a {type(tensor).__name__}, not a tensor")
            out[key.removeprefix("net.")] = tensor.detach().to("cpu", torch.float32)
    return out


def _read_zero(path: Path) -> dict[str, torch.Tensor]:
    try:
        from deepspeed.utils.zero_to_fp32 import (
            get_fp32_state_dict_from_zero_checkpoint,
        )
    except ImportError:
        raise CheckpointError(f"{path}: a ZeRO checkpoint; reading it needs deepspeed (pip install the train extra)") from None
    try:
        with weights_only_loads(zero_safe_globals()):  # zero_to_fp32 asks torch.load for a full unpickle
            state = get_fp32_state_dict_from_zero_checkpoint(str(path))
    except pickle.UnpicklingError as e:
        raise CheckpointError(refusal(path, e)) from None
    except Exception as e:  # noqa: BLE001 - any unreadable shard is the same user error
        first = str(e).strip().splitlines()[0] if str(e).strip() else ""
        raise CheckpointError(f"{path}: cannot consolidate the ZeRO checkpoint ({type(e).__name__}: {first})") from None
    if not isinstance(state, dict):
        raise CheckpointError(f"{path}: the ZeRO checkpoint holds no state dict")
    return state


def _zero_client_state(path: Path) -> dict:
    """The client state (hyper-parameters, global_step) saved beside rank 0's model states."""
    latest = path / "latest"
    tag = latest.read_text(encoding="utf-8", errors="replace").strip() if latest.is_file() else None
    # ZeRO-1/2 write mp_rank_00_model_states.pt; ZeRO-3 one zero_pp_rank_R_mp_rank_00_model_states.pt per rank.
    names = ("mp_rank_00_model_states.pt", "zero_pp_rank_0_mp_rank_00_model_states.pt")
    candidates = [path / tag / n for n in names if tag and (path / tag / n).is_file()]
    candidates = candidates or sorted(p for n in names for p in path.glob(f"*/{n}"))
    if not candidates:
        raise CheckpointError(f"{path}: no rank-0 model states (mp_rank_00_model_states.pt) in the ZeRO checkpoint")
    meta = safe_load(candidates[0], zero_safe_globals())
    if not isinstance(meta, dict):
        raise CheckpointError(f"{candidates[0]}: not a DeepSpeed model-states file")
    return {k: v for k, v in meta.items() if k != "module"}
