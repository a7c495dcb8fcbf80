"""Train the causal LM on one split and answer every question of the task's grid with it.

RUN_DIR (one per split) holds what `proofzero train` run directories hold: `config.yaml`, `checkpoints/`
(every N steps, the newest K, `last.ckpt`), `metrics.jsonl`, `csv/`; then `model/` (the trained LM and
its tokenizer, `save_pretrained`: loadable as `model.name=RUN_DIR/model`) and `predictions.jsonl` (one
row per question: its side of the split, the greedy answer, right or not). Rerunning resumes from the
last checkpoint; finished stages are skipped (predictions name the step they were made at).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import time
import warnings
from pathlib import Path

import lightning as L
import torch

from data.caseorrule.formats import check_format, is_correct, make_example
from data.caseorrule.scratchpad import grade_scratchpad
from data.caseorrule.splits import Split
from train.caseorrule.config import CausalLMConfig
from train.caseorrule.lm import context_length, encode_example, greedy_answers, target_length
from train.caseorrule.module import CausalLMModule, SplitDataModule
from train.checkpoint import check_resumable
from train.config import TrainConfig
from train.data import DataError
from train.learner import QUIET as LEARNER_QUIET
from train.trainer import LAST, _write_yaml, build_trainer, resume_path

log = logging.getLogger(__name__)

PREDICTIONS = "predictions.jsonl"
# Lightning's notices that say nothing here: a resumed run's checkpoint directory is not empty (it holds
# what it resumes from), and `srun` being installed on a machine where nobody launched through it.
QUIET = (*LEARNER_QUIET, r"The `srun` command is available on your system")


def train_on_split(task: str, fmt: str, split: Split, model_cfg: CausalLMConfig, cfg: TrainConfig) -> CausalLMModule | None:
    """Train (or resume, or find finished) on `split`; returns the module at its last step, in eval mode,
    on global rank 0 (None on the other ranks of a distributed run, whose part ends with training)."""
    check_format(task, fmt)
    run_dir = Path(cfg.run_dir)
    (run_dir / "checkpoints").mkdir(parents=True, exist_ok=True)
    L.seed_everything(cfg.seed, workers=True, verbose=False)
    module = CausalLMModule.create(model_cfg, cfg)
    tok = module.tokenizer
    train_rows = [encode_example(tok, make_example(task, r, fmt), model_cfg.loss_on) for r in split.train]
    val_rows = [encode_example(tok, make_example(task, r, fmt), model_cfg.loss_on) for r in split.test]
    limit = context_length(module.lm)
    longest = max(len(ids) for ids, _ in train_rows + val_rows)
    if limit is not None and longest > limit:
        raise DataError(f"the longest {fmt} example is {longest} tokens; the model holds {limit} (raise model.n_positions)")
    datamodule = SplitDataModule(cfg, train_rows, val_rows, tok.pad_token_id)
    ckpt_path = resume_path(cfg, run_dir)
    if ckpt_path is not None:
        check_resumable(ckpt_path)
        log.info("resuming from %s", ckpt_path)
    _write_yaml(run_dir / "config.yaml", {"task": task, "format": fmt, "split": split.name,
                                          "model": dataclasses.asdict(model_cfg), "train": dataclasses.asdict(cfg)})
    started = time.time()
    with warnings.catch_warnings():
        for message in QUIET:
            warnings.filterwarnings("ignore", message=message)
        trainer = build_trainer(cfg, run_dir)
        trainer.fit(module, datamodule=datamodule, ckpt_path=ckpt_path, weights_only=True)
    final = run_dir / "checkpoints" / LAST
    trainer.save_checkpoint(final)
    trainer.strategy.barrier()
    if not trainer.is_global_zero:
        return None
    if cfg.deepspeed:  # ZeRO shards the weights over the ranks: rank 0 reads them back whole
        module = _consolidated(final, model_cfg, cfg)
    module.trained_steps = trainer.global_step
    module.train_seconds = time.time() - started
    export = run_dir / "model"
    module.lm.save_pretrained(export)
    tok.save_pretrained(export)
    return module.eval()


def _consolidated(checkpoint: Path, model_cfg: CausalLMConfig, cfg: TrainConfig) -> CausalLMModule:
    """A fresh module with the weights of a DeepSpeed checkpoint directory, consolidated to fp32."""
    from train.checkpoint import CheckpointError, _read_zero

    state = {}
    for key, tensor in _read_zero(checkpoint).items():
        for prefix in ("_forward_module.", "module."):
            key = key.removeprefix(prefix)
        state[key] = tensor
    module = CausalLMModule.create(model_cfg, cfg)
    missing, unexpected = module.load_state_dict(state, strict=False)
    missing = [k for k in missing if not k.endswith("lm_head.weight")]  # tied to the input embeddings
    if missing or unexpected:
        raise CheckpointError(f"{checkpoint}: weights do not fit the model (missing {missing[:3]}, unexpected {unexpected[:3]})")
    return module.to("cuda" if torch.cuda.is_available() else "cpu")


def predict_split(module: CausalLMModule, task: str, fmt: str, split: Split, run_dir: str | Path,
                  batch_size: int = 512, progress: bool = True) -> list[dict]:
    """Greedy answers to every question of the split, graded; cached in RUN_DIR/predictions.jsonl for the step."""
    path = Path(run_dir) / PREDICTIONS
    step = getattr(module, "trained_steps", None)
    cached = _read_predictions(path, step, len(split.train) + len(split.test))
    if cached is not None:
        return cached
    records = [(r, "train") for r in split.train] + [(r, "test") for r in split.test]
    examples = [make_example(task, r, fmt) for r, _ in records]
    max_new = max(target_length(module.tokenizer, ex) for ex in examples) + 4
    bar = _bar(len(examples), f"answering {len(examples)} questions", progress)
    started = time.time()
    generated = greedy_answers(module.lm, module.tokenizer, [ex.prompt for ex in examples], max_new, batch_size,
                               progress=bar.update if bar is not None else None)
    if bar is not None:
        bar.close()
    log.info("answered %d questions in %.1f s", len(examples), time.time() - started)
    rows = []
    for (r, side), text in zip(records, generated):
        row = {"id": r["id"], "a": r.get("a"), "b": r.get("b"), "side": side, "generated": text,
               "correct": is_correct(fmt, r, text)}
        if fmt == "scratchpad":
            g = grade_scratchpad(task, r["a"], r["b"], text)
            row["lines_ok"] = g.steps_ok / len(g.lines)
        rows.append(row)
    tmp = path.with_name(f".{path.name}.tmp")
    with tmp.open("w", encoding="utf-8") as f:
        f.write(json.dumps({"step": step, "rows": len(rows)}) + "\n")
        f.writelines(json.dumps(row) + "\n" for row in rows)
    os.replace(tmp, path)
    return rows


def _read_predictions(path: Path, step: int | None, expected: int) -> list[dict] | None:
    if step is None or not path.is_file():
        return None
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
        head = json.loads(lines[0])
        rows = [json.loads(line) for line in lines[1:]]
    except (OSError, ValueError, IndexError):
        return None
    if not isinstance(head, dict) or head.get("step") != step or len(rows) != expected:
        return None
    return rows


def _bar(total: int, desc: str, enabled: bool):
    if not enabled:
        return None
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit="q", leave=False)
