"""GPU training throughput and MFU under Lightning + DeepSpeed ZeRO-2 / ZeRO-3, and the ZeRO-3 export check.

First run on an H200 on 2026-12-04: figures in bench/README.md.

What it does, one configuration per subprocess (a fresh CUDA context and DeepSpeed engine each):
for each strategy (`deepspeed_stage_3`, then `deepspeed_stage_2`) and gradient checkpointing (off,
on), train the preset (default `base`) for `--warmup` + `--steps` steps through
`train.trainer.build_trainer` (as `proofzero train` does: bf16-mixed, AdamW, grad clipping, its
callbacks) on synthetic fixed-length batches (every state `--state-len` tokens, every tactic
`--tactic-len`, no padding, so every step does the same work), and report tokens/s and MFU.
After the first ZeRO-3 run it reads the live fp32 master weights out of the engine
(`deepspeed.utils.safe_get_full_fp32_param`), saves the run's `checkpoints/last.ckpt` (a ZeRO
checkpoint directory), runs `python -m proofzero.cli export RUN_DIR EXPORT` in a subprocess, loads the
export with `model.export.load_pretrained`, and compares policy logits and values on a probe batch
against the master weights: PASS when they agree to 1e-5.

MFU = model FLOPs per step / seconds per step / peak bf16 dense FLOP/s of the GPU. Model FLOPs per
sequence (state S tokens, tactic T tokens), forward + backward = 3 x forward, a multiply-add = 2 FLOPs:
    6 * (N_enc * S + (N_dec + N_head) * T + N_value)                         dense (Kaplan et al.)
  + 12 * H * d_kv * (L_enc * S^2 + L_dec * (T^2 + T * S))                   attention scores and mixing
N_enc / N_dec: non-embedding parameters of the encoder / decoder stack (an encoder-decoder's token
passes through one stack, so this is `6 * N * tokens` per stack; the decoder's cross-attention
projections are in N_dec); N_head = d_model * vocab (the tied LM head; the input embedding is a lookup,
no FLOPs); N_value: the value MLP, once per sequence; attention per PaLM (Chowdhery et al. 2022, app. B),
counting the full S x S and T x T score matrices as T5 computes them (no causal halving), with
encoder self-, decoder self- and cross-attention. Gradient-checkpointing recompute is not counted
(model FLOPs, not hardware FLOPs). The JSON also gives `mfu_6nt`, the cruder 6 * N_total * (S + T),
which overcounts (it runs every token through both stacks). Peak per GPU, bf16 dense, by
`torch.cuda.get_device_name()`: H100 SXM 989, H100 PCIe 756, H100 NVL 835, H200 989, A100 312 TFLOP/s,
or `--peak-tflops`. One GPU: ZeRO shards over one rank, so this measures ZeRO's overhead, not its savings.

HOW TO RUN (one command, ~7 min on a fresh nvidia-h100-x1 / nvidia-h200 machine of this workplace).
Its image has torch, lightning 2.6.6, transformers (5.17, not the pinned 5.24: if the model fails to
build there, carry transformers==5.24.0 too), numpy, pyyaml, safetensors, psutil, py-cpuinfo, msgpack, ninja, einops and tqdm, but no
deepspeed, hjson or pydantic: carry those as wheels (~5 MB). Once, here, in the repo root (DeepSpeed is
an sdist: build a pure-Python wheel; no CUDA op is needed, AdamW is torch's):
    echo /.whl/ >> .git/info/exclude
    DS_BUILD_OPS=0 .venv/bin/pip wheel --no-deps --no-build-isolation -c constraints.txt -w .whl deepspeed==0.19.8
    .venv/bin/pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
      --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 -d .whl -c constraints.txt \
      hjson==3.1.0 pydantic==2.14.4 pydantic_core==2.50.5 annotated-types==0.8.0 typing-inspection==0.4.5
(if pip finds no pydantic_core, add `--platform manylinux_2_N_x86_64` for N = 24, 27, 28, 31, 34).
Then the device call, carry [".whl"], timeout_s 480:
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site \
      .whl/*.whl && export PYTHONPATH=/tmp/site:$PWD PYTHONUNBUFFERED=1 DS_ACCELERATOR=cuda && set -o pipefail \
      && python3 bench/gpu_train.py --preset base 2>&1 | tee $OUT/gpu_train.log
Results: $OUT/gpu_train.json (else --json), written after every configuration; run dirs, checkpoints and
exports under --work-dir (/tmp, deleted after each configuration), never under $OUT. A configuration
that fails (OOM, error, timeout) is recorded and the next one runs; `--budget-s` (390) stops starting
new ones. A shorter rerun (~3 min): `--strategies deepspeed_stage_3 --checkpointing off`.
Check here first: `.venv/bin/python bench/gpu_train.py --cpu-dry-run`.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
import traceback
from dataclasses import asdict, dataclass
from itertools import pairwise
from pathlib import Path

import lightning as L
import torch
from torch.utils.data import DataLoader, Dataset

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # the repo need not be installed on the GPU machine

from model.config import ProofNetConfig
from model.export import load_pretrained
from model.proofnet import ProofNet, bin_centres
from model.tokenizer import ByteTokenizer
from train.config import DataConfig, TrainConfig, WandbConfig
from train.module import ProofNetModule
from train.trainer import LAST, build_trainer, resolve_model

PEAK_BF16_TFLOPS = (("h100 pcie", 756.0), ("h100 nvl", 835.0), ("h100", 989.0), ("h200", 989.0), ("a100", 312.0))
BATCH = {"tiny": 64, "small": 32, "base": 16, "3b": 8}  # sequences per step at 1024 + 128 tokens
EXPORT_ATOL = 1e-5


# --- FLOPs accounting -------------------------------------------------------------------------


@dataclass(frozen=True)
class FlopsModel:
    """What the MFU formula (module docstring) needs, read off a model built on the meta device."""

    params: int
    encoder_params: int  # non-embedding
    decoder_params: int  # non-embedding, cross-attention included
    head_params: int  # d_model * vocab
    value_params: int
    attn_width: int  # num_heads * d_kv
    encoder_layers: int
    decoder_layers: int

    @classmethod
    def of(cls, preset: str) -> FlopsModel:
        config = ProofNetConfig.preset(preset)
        with torch.device("meta"):  # sizes only: no memory, no initialisation
            net = ProofNet(config)
        stack = {"encoder": 0, "decoder": 0}
        for name, p in net.named_parameters():
            part = name.split(".")[1] if name.startswith("t5.") else ""
            if part in stack and "embed_tokens" not in name:
                stack[part] += p.numel()
        return cls(net.num_parameters(), stack["encoder"], stack["decoder"], net.t5.shared.weight.numel(),
                   sum(p.numel() for p in net.value_head.parameters()), config.num_heads * config.d_kv,
                   config.num_layers, config.num_decoder_layers)

    def per_sequence(self, s: int, t: int) -> float:
        dense = 6 * (self.encoder_params * s + (self.decoder_params + self.head_params) * t + self.value_params)
        attention = 12 * self.attn_width * (self.encoder_layers * s * s + self.decoder_layers * (t * t + t * s))
        return float(dense + attention)

    def per_sequence_6nt(self, s: int, t: int) -> float:
        return 6.0 * self.params * (s + t)


def peak_tflops(device_name: str) -> float | None:
    name = device_name.lower()
    for key, tflops in PEAK_BF16_TFLOPS:
        if all(word in name for word in key.split()):
            return tflops
    return None


# --- one configuration (the worker subprocess) ------------------------------------------------


@dataclass
class Spec:
    preset: str
    strategy: str  # a TrainConfig strategy
    checkpointing: bool
    batch: int
    state_len: int
    tactic_len: int
    warmup: int
    steps: int
    work_dir: str  # the run dir and the result file go here
    export_check: bool = False
    accelerator: str = "gpu"  # cpu: the dry run
    precision: str = "bf16-mixed"

    @property
    def name(self) -> str:
        return f"{self.preset}-{self.strategy.replace('deepspeed_', '')}-gc{'on' if self.checkpointing else 'off'}"

    @property
    def run_dir(self) -> Path:
        return Path(self.work_dir) / self.name

    @property
    def result_path(self) -> Path:
        return Path(self.work_dir) / f"{self.name}.json"


def worker(spec: Spec) -> dict:
    """Train one configuration as `proofzero train` would, time its steps, and run the export check."""
    cfg = TrainConfig(stage="sft", run_dir=str(spec.run_dir), model=spec.preset, max_steps=spec.warmup + spec.steps,
                      accelerator=spec.accelerator, devices="1", strategy=spec.strategy, precision=spec.precision,
                      gradient_checkpointing=spec.checkpointing, progress=False, checkpoint_every_n_steps=10**9,
                      resume="never", data=DataConfig(batch_size=spec.batch, val_batches=0),
                      wandb=WandbConfig(enabled=False))
    L.seed_everything(cfg.seed, verbose=False)
    model_config, _ = resolve_model(cfg)
    module = ProofNetModule.create(model_config, cfg)
    trainer = build_trainer(cfg, Path(cfg.run_dir))
    if not spec.export_check:  # its end-of-fit last.ckpt is untimed, but a ZeRO checkpoint costs minutes and GBs
        trainer.checkpoint_callback.save_last = False
    clock = StepClock(spec.accelerator == "gpu", keep_weights=spec.export_check)
    trainer.callbacks.append(clock)
    data = FixedLengthRows(cfg.max_steps * spec.batch, spec.state_len, spec.tactic_len)
    trainer.fit(module, train_dataloaders=DataLoader(data, batch_size=spec.batch))
    times = clock.times[spec.warmup - 1 :]
    seconds = times[-1] - times[0]
    tokens = spec.steps * spec.batch * (spec.state_len + spec.tactic_len)
    result = {"status": "ok", "s_per_step": seconds / spec.steps, "tokens_per_s": tokens / seconds,
              "sequences_per_s": spec.steps * spec.batch / seconds,
              "step_seconds": [b - a for a, b in pairwise(times)]}
    if torch.cuda.is_available():
        result["max_memory_gib"] = torch.cuda.max_memory_allocated() / 2**30
    if spec.export_check:
        try:
            trainer.save_checkpoint(spec.run_dir / "checkpoints" / LAST, weights_only=False)  # as train() ends a run
            result["export"] = export_check(clock.weights, model_config, spec.run_dir)
        except Exception as e:  # noqa: BLE001 - keep the throughput figures, report the failure
            traceback.print_exc()
            result["export"] = {"status": "FAIL", "why": f"{type(e).__name__}: {e}"}
    return result


class FixedLengthRows(Dataset):
    """Row i, generated from seed i: random byte ids, eos last, no padding. Batched by a plain
    DataLoader, whose batch sampler tells Lightning's DeepSpeed strategy the micro-batch size."""

    def __init__(self, n: int, state_len: int, tactic_len: int) -> None:
        self.n, self.state_len, self.tactic_len = n, state_len, tactic_len

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int) -> dict:
        tok = ByteTokenizer()
        g = torch.Generator().manual_seed(i)
        ids = torch.randint(tok.offset, tok.offset + 256, (self.state_len,), generator=g)
        labels = torch.randint(tok.offset, tok.offset + 256, (self.tactic_len,), generator=g)
        ids[-1] = labels[-1] = tok.eos_id
        return {"input_ids": ids, "attention_mask": torch.ones_like(ids), "labels": labels,
                "value_targets": -torch.randint(1, 30, (), generator=g).float()}


class StepClock(L.Callback):
    """The wall time at the end of every training step (after the GPU has finished it), and at the end
    of training, before Lightning tears the strategy down, the fp32 master weights if asked."""

    def __init__(self, cuda: bool, keep_weights: bool = False) -> None:
        self.cuda, self.keep_weights = cuda, keep_weights
        self.times: list[float] = []
        self.weights: dict = {}

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if self.cuda:
            torch.cuda.synchronize()
        self.times.append(time.perf_counter())

    def on_train_end(self, trainer, pl_module) -> None:
        if self.keep_weights:
            self.weights = master_weights(pl_module)


def master_weights(module) -> dict:
    """The net's fp32 weights as the optimizer holds them: under DeepSpeed, gathered from the ZeRO
    partitions of the live engine (not from any file), so the export is checked against an
    independent copy."""
    state = {}
    for name, p in module.net.named_parameters():
        full = None
        if hasattr(p, "ds_id") or hasattr(p, "_hp_mapping"):
            from deepspeed.utils import safe_get_full_fp32_param

            full = safe_get_full_fp32_param(p)
        state[name] = (p if full is None else full).detach().float().cpu().clone()
    return state


def export_dir(run_dir: Path) -> Path:
    return run_dir.parent / f"{run_dir.name}-export"


def export_check(reference: dict, model_config: ProofNetConfig, run_dir: Path) -> dict:
    """`proofzero export RUN_DIR` in a subprocess, then the export's logits and values against the
    reference weights' on a probe batch (both fp32 on the CPU)."""
    out = export_dir(run_dir)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "proofzero.cli", "export", str(run_dir), str(out)],
                          cwd=REPO, env=env, capture_output=True, text=True, check=False)
    export_s = time.perf_counter() - t0
    print(proc.stdout + proc.stderr, flush=True)
    if proc.returncode:
        return {"status": "FAIL", "why": f"proofzero export exited {proc.returncode}", "export_s": export_s}
    with torch.device("meta"):
        ref = ProofNet(model_config)
    ref.to_empty(device="cpu")
    # to_empty unties the shared embedding from the encoder's, decoder's and LM head's: fill each
    tied = {k: reference["t5.shared.weight"] for k in ref.state_dict() if k.endswith(("embed_tokens.weight", "lm_head.weight"))}
    ref.load_state_dict({**reference, **tied}, strict=True)
    ref.bin_centres = bin_centres(model_config)
    exported = load_pretrained(out)
    probe = next(iter(DataLoader(FixedLengthRows(4, 96, 24), batch_size=4)))
    with torch.no_grad():
        a = ref.eval()(probe["input_ids"], probe["attention_mask"], probe["labels"])
        b = exported(probe["input_ids"], probe["attention_mask"], probe["labels"])
    diff = max((a.logits - b.logits).abs().max().item(), (a.value - b.value).abs().max().item())
    status = "PASS" if diff <= EXPORT_ATOL else "FAIL"
    return {"status": status, "max_abs_diff": diff, "atol": EXPORT_ATOL, "export_s": export_s, "export_dir": str(out)}


# --- the driver -------------------------------------------------------------------------------


def run_configs(args: argparse.Namespace, specs: list[Spec], flops: FlopsModel, peak: float | None,
                results_path: Path, meta: dict) -> list[dict]:
    deadline = time.monotonic() + args.budget_s
    rows: list[dict] = []
    for i, spec in enumerate(specs):
        left = deadline - time.monotonic()
        row = {"config": spec.name, **asdict(spec)}
        if left < args.min_config_s:
            row["status"] = f"skipped: {left:.0f} s of --budget-s left"
        else:
            row.update(launch(spec, timeout=left))
            if not args.keep:  # checkpoints and exports of big presets fill the disk
                shutil.rmtree(spec.run_dir, ignore_errors=True)
                shutil.rmtree(export_dir(spec.run_dir), ignore_errors=True)
        if spec.export_check and "export" not in row:  # it never got that far (OOM, say): the next ZeRO-3 run checks
            later = next((s for s in specs[i + 1 :] if s.strategy == spec.strategy), None)
            if later is not None:
                later.export_check = True
        if row.get("status") == "ok":
            step_flops = spec.batch * flops.per_sequence(spec.state_len, spec.tactic_len)
            row["model_tflops_per_step"] = step_flops / 1e12
            row["achieved_tflops"] = step_flops / row["s_per_step"] / 1e12
            if peak:
                row["mfu"] = row["achieved_tflops"] / peak
                row["mfu_6nt"] = spec.batch * flops.per_sequence_6nt(spec.state_len, spec.tactic_len) / row["s_per_step"] / 1e12 / peak
        rows.append(row)
        print(summary_line(row), flush=True)
        results_path.write_text(json.dumps({**meta, "results": rows}, indent=2) + "\n")
    return rows


def launch(spec: Spec, timeout: float) -> dict:
    spec.result_path.unlink(missing_ok=True)
    t0 = time.perf_counter()
    try:
        proc = subprocess.run([sys.executable, __file__, "--worker", json.dumps(asdict(spec))], cwd=REPO,
                              timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return {"status": f"timeout after {timeout:.0f} s", "wall_s": time.perf_counter() - t0}
    wall = time.perf_counter() - t0
    if spec.result_path.is_file():
        return {**json.loads(spec.result_path.read_text()), "wall_s": wall}
    return {"status": f"crashed (exit {proc.returncode})", "wall_s": wall}


def summary_line(row: dict) -> str:
    if row.get("status") != "ok":
        return f"{row['config']:<22} {row['status']}"
    mfu = f"MFU {row['mfu']:.1%}" if "mfu" in row else "MFU n/a (unknown GPU: --peak-tflops)"
    mem = f", {row['max_memory_gib']:.1f} GiB" if "max_memory_gib" in row else ""
    line = (f"{row['config']:<22} {row['s_per_step']:.3f} s/step  {row['tokens_per_s']:,.0f} tokens/s  "
            f"{row['achieved_tflops']:.1f} TFLOP/s  {mfu}{mem}  (wall {row['wall_s']:.0f} s)")
    if "export" in row:
        e = row["export"]
        line += f"\n  export check: {e['status']} (max |diff| {e.get('max_abs_diff', 'n/a')}, {e.get('why', '')})"
    return line


def environment() -> dict:
    """Versions and the device, or what is missing (so a failed run says why at the top)."""
    info = {}
    for name in ("torch", "lightning", "deepspeed", "transformers"):
        try:
            info[name] = __import__(name).__version__
        except Exception as e:  # noqa: BLE001 - report any import failure, carry on
            info[name] = f"missing ({type(e).__name__}: {e})"
    info["device"] = torch.cuda.get_device_name() if torch.cuda.is_available() else "cpu"
    return info


def plan(args: argparse.Namespace, work: Path) -> list[Spec]:
    batch = args.batch or BATCH.get(args.preset, 8)
    specs = [Spec(args.preset, strategy, gc == "on", batch, args.state_len, args.tactic_len, args.warmup, args.steps,
                  str(work)) for strategy in args.strategies for gc in args.checkpointing]
    first_zero3 = next((s for s in specs if s.strategy == "deepspeed_stage_3"), None)
    if first_zero3 and not args.no_export_check:
        first_zero3.export_check = True
    return specs


def cpu_dry_run(args: argparse.Namespace, work: Path) -> int:
    """No CUDA: the plan and the FLOPs accounting for the chosen preset, then the worker's whole path
    (build_trainer, fixed-length batches, step clock, checkpoint, `proofzero export`, logit comparison)
    on the tiny preset with the CPU profile (32-true, no DeepSpeed: Lightning runs DeepSpeed on CUDA only)."""
    flops = FlopsModel.of(args.preset)
    print(f"preset {args.preset}: {flops}")
    for spec in plan(args, work):
        per_step = spec.batch * flops.per_sequence(spec.state_len, spec.tactic_len)
        naive = spec.batch * flops.per_sequence_6nt(spec.state_len, spec.tactic_len)
        print(f"  {spec.name}: batch {spec.batch} x ({spec.state_len} + {spec.tactic_len}) tokens, "
              f"{per_step / 1e12:.1f} model TFLOP/step (6NT: {naive / 1e12:.1f}); at 1 s/step on an H100 SXM: "
              f"MFU {per_step / 1e12 / 989:.1%}{'  [export check]' if spec.export_check else ''}")
    for name in ("NVIDIA H100 80GB HBM3", "NVIDIA H100 PCIe", "NVIDIA H200", "NVIDIA A100-SXM4-80GB", "Tesla T4"):
        print(f"  peak for {name!r}: {peak_tflops(name)}")
    spec = Spec("tiny", "auto", False, 4, 64, 16, 1, 2, str(work), export_check=True, accelerator="cpu",
                precision="32-true")
    row = {"config": "dry-run (tiny, cpu, 32-true)", **launch(spec, timeout=600)}
    if not args.keep:
        shutil.rmtree(spec.run_dir, ignore_errors=True)
        shutil.rmtree(export_dir(spec.run_dir), ignore_errors=True)
    if row.get("status") == "ok":
        row["achieved_tflops"] = spec.batch * FlopsModel.of("tiny").per_sequence(64, 16) / row["s_per_step"] / 1e12
    print(summary_line(row))
    return 0 if row.get("export", {}).get("status") == "PASS" else 1


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0], epilog="How to run: see the top of this file.")
    ap.add_argument("--preset", default="base", choices=("tiny", "small", "base", "3b"))
    ap.add_argument("--strategies", nargs="+", default=["deepspeed_stage_3", "deepspeed_stage_2"],
                    choices=("deepspeed_stage_2", "deepspeed_stage_3", "deepspeed_stage_2_offload", "deepspeed_stage_3_offload"))
    ap.add_argument("--checkpointing", nargs="+", default=["off", "on"], choices=("off", "on"), help="gradient checkpointing")
    ap.add_argument("--batch", type=int, default=None, help=f"sequences per step (default by preset: {BATCH})")
    ap.add_argument("--state-len", type=int, default=1024)
    ap.add_argument("--tactic-len", type=int, default=128)
    ap.add_argument("--warmup", type=int, default=3, help="steps not timed (the first includes DeepSpeed's setup)")
    ap.add_argument("--steps", type=int, default=10, help="timed steps")
    ap.add_argument("--peak-tflops", type=float, default=None, help="peak bf16 dense TFLOP/s per GPU (default: by device name)")
    ap.add_argument("--budget-s", type=float, default=390, help="stop starting configurations after this long")
    ap.add_argument("--min-config-s", type=float, default=60, help="do not start a configuration with less time left")
    ap.add_argument("--no-export-check", action="store_true")
    ap.add_argument("--keep", action="store_true", help="keep each configuration's run dir and export (deleted by default)")
    ap.add_argument("--work-dir", type=Path, default=Path("/tmp/gpu_train"), help="run dirs and checkpoints (large)")
    ap.add_argument("--json", type=Path, default=None, help="results (default: $OUT/gpu_train.json, else WORK_DIR/results.json)")
    ap.add_argument("--cpu-dry-run", action="store_true", help="no CUDA: plan, FLOPs accounting, and the worker path on tiny/CPU")
    ap.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        spec = Spec(**json.loads(args.worker))
        try:
            result = worker(spec)
        except Exception as e:  # noqa: BLE001 - one configuration's failure is a result, not the end
            traceback.print_exc()
            oom = "out of memory" in str(e).lower() or type(e).__name__ == "OutOfMemoryError"
            result = {"status": "oom" if oom else f"error: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"}
        spec.result_path.write_text(json.dumps(result))
        return 0
    if args.warmup < 1 or args.steps < 1:
        ap.error("--warmup and --steps must be >= 1")
    args.work_dir.mkdir(parents=True, exist_ok=True)
    if args.cpu_dry_run:
        return cpu_dry_run(args, args.work_dir)

    env = environment()
    print(json.dumps(env), flush=True)
    if env["device"] == "cpu" or env["deepspeed"].startswith("missing"):
        print("needs a CUDA GPU and deepspeed (see the top of this file for the wheels to carry); "
              "use --cpu-dry-run to check the script without one", file=sys.stderr)
        return 2
    peak = args.peak_tflops or peak_tflops(env["device"])
    flops = FlopsModel.of(args.preset)
    out = os.environ.get("OUT")
    results_path = args.json or (Path(out) / "gpu_train.json" if out else args.work_dir / "results.json")
    meta = {"environment": env, "peak_tflops": peak, "flops_model": asdict(flops), "argv": sys.argv[1:]}
    rows = run_configs(args, plan(args, args.work_dir), flops, peak, results_path, meta)
    print(f"wrote {results_path}")
    checks = [r["export"]["status"] for r in rows if "export" in r]
    print(f"ZeRO-3 export check: {checks[0] if checks else 'not run'}")
    return 0 if checks and checks[0] == "PASS" else 1


if __name__ == "__main__":
    sys.exit(main())
