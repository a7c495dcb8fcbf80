"""Batched policy/value inference against one-state-at-a-time calls, side by side in one run.

Run: `.venv/bin/python bench/inference.py [--preset tiny] [--states 32] [--k 8] [--batch 32]`.
The model is freshly initialised (throughput does not depend on the weights); every sample decodes
exactly `--tactic-len` tokens in both modes (eos is masked), so the two sides do the same work per
sample. States are the bundled miniF2F statements, as a search would see them.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import torch

from formal.suite import load_suite
from model.config import ProofNetConfig
from model.inference import ProofNetInference
from model.proofnet import ProofNet

SUITE = Path(__file__).resolve().parent.parent / "benchmarks" / "minif2f-rocq-valid"


def states(n: int) -> list[str]:
    thms = sorted(load_suite(SUITE).theorems, key=lambda t: t.name)[:n]
    return [f"{t.binders} ⊢ {t.statement}" if t.binders else f"⊢ {t.statement}" for t in thms]


def timed(fn, repeat: int) -> float:
    runs = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - t0)
    return statistics.median(runs)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--preset", default="tiny")
    ap.add_argument("--states", type=int, default=32)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--k", type=int, default=8)
    ap.add_argument("--tactic-len", type=int, default=24)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    torch.manual_seed(0)
    torch.set_num_threads(max(1, torch.get_num_threads()))
    cfg = ProofNetConfig.preset(args.preset)
    model = ProofNet(cfg)
    # Never stop early: both modes decode the same number of tokens per sample.
    model.t5.lm_head.bias = None
    with torch.no_grad():
        model.t5.lm_head.weight[cfg.tokenizer().eos_id].zero_()
        model.t5.lm_head.weight[cfg.tokenizer().eos_id] -= 1e4
    infer = ProofNetInference(model)
    xs = states(args.states)

    def batched():
        for i in range(0, len(xs), args.batch):
            infer.policy_value(xs[i : i + args.batch], k=args.k, max_tactic_length=args.tactic_len)

    def single():
        for x in xs:
            infer.policy_value([x], k=args.k, max_tactic_length=args.tactic_len)

    batched()  # warm-up
    tb, ts = timed(batched, args.repeat), timed(single, args.repeat)
    print(f"preset {args.preset} ({model.num_parameters() / 1e6:.1f}M params), {len(xs)} states, K={args.k}, "
          f"{args.tactic_len} tokens per tactic, {torch.get_num_threads()} threads (median of {args.repeat})")
    print(f"  batched (batch {args.batch})  {tb:7.2f}s  {len(xs) / tb:8.1f} states/s")
    print(f"  one state at a time     {ts:7.2f}s  {len(xs) / ts:8.1f} states/s")
    print(f"  speed-up {ts / tb:.1f}x")


if __name__ == "__main__":
    main()
