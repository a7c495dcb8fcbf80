"""Policy/value decoding: the Hugging Face T5 path against model/decoding.py's, side by side in one run.

Run: `.venv/bin/python bench/inference.py [--preset tiny] [--states 32] [--k 8] [--tactic-len 24]
[--threads N] [--json FILE]`. Both sides are `ProofNetInference.policy_value` on the same batch of
states (encoder, value head and decode, everything a search's call pays for); only `decoder=` differs.
The model is freshly initialised (throughput does not depend on the weights) and eos is banned so that
every sample decodes exactly `--tactic-len` tokens on both sides. States are the bundled miniF2F
statements, as a search would see them. Runs alternate between the two sides; medians are reported.

Reported per side: tokens/s (samples x tactic length / wall time), states/s at the given K, and for the
new path its achieved GFLOP/s (model FLOPs, padding not counted: see `model_flops`) next to the dense
fp32 matmul rate measured on the same device and thread count, the physical limit. Where a GPU is
present the same comparison runs there too (a `cuda` line; `--no-gpu` to skip).
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # as `proofzero` sets it (proofzero/cli.py), before torch loads

import argparse
import json
import statistics
import time
from pathlib import Path

import torch

from formal.suite import load_suite
from model.config import ProofNetConfig
from model.decoding import T5Weights
from model.inference import ProofNetInference
from model.proofnet import ProofNet

SUITE = Path(__file__).resolve().parent.parent / "benchmarks" / "minif2f-rocq-valid"


def states(n: int) -> list[str]:
    thms = sorted(load_suite(SUITE).theorems, key=lambda t: t.name)[:n]
    return [f"{t.binders} ⊢ {t.statement}" if t.binders else f"⊢ {t.statement}" for t in thms]


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def matmul_gflops(device: torch.device, sizes=(512, 1024, 2048), repeat: int = 5) -> float:
    """The best dense fp32 n x n matmul rate over a few sizes: what the device can do at all."""
    best = 0.0
    for n in sizes:
        a, b = torch.randn(n, n, device=device), torch.randn(n, n, device=device)
        a @ b
        sync(device)
        times = []
        for _ in range(repeat):
            t0 = time.perf_counter()
            a @ b
            sync(device)
            times.append(time.perf_counter() - t0)
        best = max(best, 2 * n**3 / min(times) / 1e9)
    return best


def model_flops(w: T5Weights, state_lengths: list[int], k: int, tactic_len: int) -> float:
    """FLOPs (2 per multiply-add) the decode of k tactics of `tactic_len` tokens for each state needs:
    the encoder on each state's own tokens, each state's cross-attention keys and values once, and per
    decoded token the decoder's projections, self-attention over the tokens so far, cross-attention over
    the state's tokens and the LM head. Attention: 4 x heads x d_kv per (query, key) pair."""
    def dense(b) -> int:
        return sum(t.numel() for t in (b.qkv, b.self_out, b.wi, b.wo))

    att = 4 * w.inner
    total = 0.0
    for length in state_lengths:
        total += length * sum(2 * dense(b) + att * length for b in w.encoder)
        total += length * sum(2 * b.cross_kv.numel() for b in w.decoder)
        for t in range(tactic_len):
            per_token = sum(2 * (dense(b) + b.cross_q.numel() + b.cross_out.numel()) + att * (t + 1 + length)
                            for b in w.decoder)
            total += k * (per_token + 2 * w.lm_head.numel())
    return total


def build(preset: str, device: torch.device) -> ProofNet:
    torch.manual_seed(0)
    return ProofNet(ProofNetConfig.preset(preset)).to(device)


def without_eos(infer: ProofNetInference) -> ProofNetInference:
    """Never stop early: eos joins the banned tokens, so every sample and beam runs the full length."""
    banned = infer.banned(infer.model.t5.config.vocab_size).clone()
    banned[infer.tokenizer.eos_id] = True
    infer._banned = banned
    return infer


def compare(model: ProofNet, device: torch.device, xs: list[str], args) -> dict:
    sides = {name: without_eos(ProofNetInference(model, device, decoder=name)) for name in ("hf", "fast")}
    work = {}
    for method in args.methods:
        for name, infer in sides.items():
            def run(infer=infer, method=method):
                for i in range(0, len(xs), args.batch):
                    infer.policy_value(xs[i : i + args.batch], k=args.k, method=method,
                                       max_tactic_length=args.tactic_len,
                                       generator=torch.Generator(device).manual_seed(0))
                sync(device)
            work[method, name] = run
    times: dict = {key: [] for key in work}
    for fn in work.values():
        fn()  # warm-up
    for _ in range(args.repeat):  # alternate the sides, so that a noisy neighbour hits both
        for key, fn in work.items():
            t0 = time.perf_counter()
            fn()
            times[key].append(time.perf_counter() - t0)
    fast = sides["fast"]
    lengths = fast.encode_states(xs)[1].sum(-1).tolist()
    flops = model_flops(T5Weights.of(model.t5), lengths, args.k, args.tactic_len)
    tokens = len(xs) * args.k * args.tactic_len
    out = {"device": str(device), "threads": torch.get_num_threads(), "matmul_gflops": matmul_gflops(device),
           "model_gflop": flops / 1e9, "methods": {}}
    for method in args.methods:
        row = {}
        for name in sides:
            s = statistics.median(times[method, name])
            row[name] = {"seconds": s, "best_seconds": min(times[method, name]), "tokens_per_s": tokens / s,
                         "states_per_s": len(xs) / s, "gflops": flops / s / 1e9, "runs": times[method, name]}
        row["speedup"] = row["fast"]["tokens_per_s"] / row["hf"]["tokens_per_s"]
        out["methods"][method] = row
    return out


def report(r: dict, args, params: float) -> None:
    print(f"{r['device']}: preset {args.preset} ({params / 1e6:.1f}M params), {args.states} states in batches of "
          f"{args.batch}, K={args.k}, {args.tactic_len} tokens per tactic, {r['threads']} threads "
          f"(OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY')}), median of {args.repeat}; "
          f"{r['model_gflop']:.1f} GFLOP of model work per pass")
    print(f"  dense fp32 matmul peak {r['matmul_gflops']:8.1f} GFLOP/s")
    for method, row in r["methods"].items():
        for name, label in (("hf", "Hugging Face T5 (before)"), ("fast", "model/decoding.py (new)")):
            x = row[name]
            print(f"  {method:6} {label:26} {x['seconds']:7.3f}s (best {x['best_seconds']:.3f}s) "
                  f"{x['tokens_per_s']:9.0f} tokens/s {x['states_per_s']:7.1f} states/s {x['gflops']:7.1f} GFLOP/s "
                  f"({100 * x['gflops'] / r['matmul_gflops']:.0f}% of peak)")
        print(f"  {method:6} speed-up {row['speedup']:.1f}x")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--preset", default="tiny")
    ap.add_argument("--states", type=int, default=32)
    ap.add_argument("--batch", type=int, default=32, help="states per policy_value call")
    ap.add_argument("--k", type=int, default=8)
    ap.add_argument("--tactic-len", type=int, default=24)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--methods", nargs="+", default=["sample", "beam"], choices=["sample", "beam"])
    ap.add_argument("--threads", type=int, default=0, help="torch threads (default: torch's own choice)")
    ap.add_argument("--no-gpu", action="store_true", help="skip the cuda line even where a GPU is present")
    ap.add_argument("--json", default=None, metavar="FILE")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    xs = states(args.states)
    devices = [torch.device("cpu")]
    if torch.cuda.is_available() and not args.no_gpu:
        devices.append(torch.device("cuda"))
    results = []
    for device in devices:
        model = build(args.preset, device)
        r = compare(model, device, xs, args)
        report(r, args, model.num_parameters())
        results.append(r)
    if args.json:
        first = results[0]["methods"][args.methods[0]]
        summary = {"baseline_tokens_per_s": first["hf"]["tokens_per_s"], "new_tokens_per_s": first["fast"]["tokens_per_s"],
                   "speedup": first["speedup"], "matmul_gflops": results[0]["matmul_gflops"],
                   "new_gflops": first["fast"]["gflops"], "method": args.methods[0], "preset": args.preset,
                   "states": args.states, "batch": args.batch, "k": args.k, "tactic_len": args.tactic_len,
                   "results": results}
        Path(args.json).write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
