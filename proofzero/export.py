"""`proofzero export CHECKPOINT OUT_DIR [--push-to-hub REPO]`: a training checkpoint as a Hugging Face model.

CHECKPOINT is a Lightning `.ckpt` file, a DeepSpeed ZeRO checkpoint directory (what Lightning writes
under DeepSpeed, consolidated to fp32 here on the CPU), or a run directory (its `checkpoints/last.ckpt`).
OUT_DIR becomes a `save_pretrained` directory: the policy loads with plain `transformers`, policy +
value with `model.export.load_pretrained`. The model card states the data and the training config.
"""

from __future__ import annotations

import argparse
import logging
import os
from pathlib import Path

from proofzero.cli import UserError
from proofzero.outputs import check_output_dir

log = logging.getLogger(__name__)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("checkpoint", type=Path, help="a .ckpt file, a DeepSpeed ZeRO checkpoint directory, or a run directory")
    p.add_argument("out_dir", type=Path, help="the export directory (created; an earlier export there is replaced)")
    p.add_argument("--push-to-hub", metavar="REPO", default=None,
                   help="also upload the export to this Hugging Face repo (needs network: HF_HUB_OFFLINE=0 and a token)")
    p.add_argument("--private", action="store_true", help="with --push-to-hub: create the repo private")


def run(args: argparse.Namespace) -> int:
    path = resolve_checkpoint(args.checkpoint)
    check_output_dir(args.out_dir, "OUT_DIR")
    if args.out_dir.resolve() == path.resolve() or path.resolve() in args.out_dir.resolve().parents:
        raise UserError(f"OUT_DIR {args.out_dir} is inside the checkpoint {path}")

    import transformers

    from model.export import check_target, save_pretrained
    from train.checkpoint import CheckpointError, load_checkpoint

    transformers.utils.logging.disable_progress_bar()  # one line on stderr, even for an error
    try:
        check_target(args.out_dir)
    except ValueError as e:
        raise UserError(f"OUT_DIR {e}") from None
    try:
        loaded = load_checkpoint(path)
    except CheckpointError as e:
        raise UserError(str(e)) from None
    info = training_info(loaded, path)
    try:
        # Written beside OUT_DIR, read back and compared tensor by tensor, then renamed into place.
        out = save_pretrained(loaded.model, args.out_dir, training_info=info)
    except ValueError as e:
        raise UserError(str(e)) from None
    except OSError as e:
        raise UserError(f"cannot write {args.out_dir}: {e.strerror or e}") from None
    n = loaded.model.num_parameters()
    print(f"exported {path} ({loaded.kind}, step {loaded.global_step}, {n / 1e6:.2f}M parameters) -> {out}")
    if args.push_to_hub:
        url = push_to_hub(out, args.push_to_hub, private=args.private)
        print(f"pushed to {url}")
    return 0


def resolve_checkpoint(path: Path) -> Path:
    """A run directory stands for its last checkpoint."""
    last = path / "checkpoints" / "last.ckpt"
    if path.is_dir() and not (path / "latest").exists() and last.exists():
        return last
    if not path.exists():
        raise UserError(f"{path}: no such checkpoint")
    return path


def training_info(loaded, path: Path) -> dict:
    """What the model card says: the data, then the training config and where the weights came from."""
    cfg = dict(loaded.train_config)
    data = cfg.get("data", {})
    info = {"data": _data_description(cfg, data)} if cfg else {}
    info.update({"checkpoint": str(path.resolve()), "checkpoint_kind": loaded.kind, "global_step": loaded.global_step})
    if cfg:
        info["stage"] = cfg.get("stage")
        info["train_config"] = cfg
    return info


def _data_description(cfg: dict, data: dict) -> dict:
    import json

    desc = {"stage": cfg.get("stage"), "path": data.get("path")}
    if cfg.get("stage") == "sft":
        desc["scheme"] = data.get("scheme")
        summary = Path(data.get("path", "")) / "summary.json"
        if summary.is_file():
            splits = json.loads(summary.read_text(encoding="utf-8")).get("splits", {})
            desc["splits"] = splits.get(data.get("scheme"), splits)
    else:
        desc["objective"] = data.get("objective")
    return desc


def push_to_hub(out: Path, repo: str, *, private: bool) -> str:
    if os.environ.get("HF_HUB_OFFLINE", "0") not in ("0", "", "false", "False"):
        raise UserError(f"--push-to-hub needs the network, but HF_HUB_OFFLINE={os.environ['HF_HUB_OFFLINE']} "
                        f"(the export is written at {out}; rerun with HF_HUB_OFFLINE=0)")
    from huggingface_hub import HfApi
    from huggingface_hub.errors import HfHubHTTPError

    api = HfApi()
    try:
        api.create_repo(repo, private=private, exist_ok=True)
        commit = api.upload_folder(folder_path=str(out), repo_id=repo, commit_message="ProofZero export")
    except (HfHubHTTPError, OSError, ValueError) as e:
        raise UserError(f"--push-to-hub {repo}: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}") from None
    return getattr(commit, "commit_url", None) or f"https://huggingface.co/{repo}"
