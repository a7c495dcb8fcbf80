"""Concurrent AND-OR searches sharing one proof network: each search calling the network itself (one call
at a time, behind a lock) against all of them going through one `BatchingPolicy`, side by side in one run.

Run: `.venv/bin/python bench/search_batching.py [--searches 8] [--expansions 20] [--k 4] [--rounds 1] [--threads 1]`
(`--quick`: 4 searches x 8 expansions). Each search is a thread with its own `CoqSession` on a statement
of the bundled suite (the first `--searches` that elaborate, by name); sessions are opened before the
clock starts. Budgets are counted, so both sides do the same number of expansions unless a search
proves its theorem first; expansions/s is the fair throughput figure, and the table states both.

The network is the tiny preset, freshly initialised and then fitted for `--fit-steps` steps (a few
seconds) to propose a handful of generic tactics (`intros`, `lia`, `auto`, ...) at any state. An
untrained network almost never ends a tactic within `max_tactic_length`, so it proposes nothing, Coq
never runs and the searches are dead on their first expansion; `--fit-steps 0` shows that case.
`bench/search_overhead.py` reuses this file's helpers.
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path

import torch

from formal.coq.session import CoqSession
from formal.suite import load_suite
from formal.theorem import Theorem
from model.config import ProofNetConfig
from model.inference import ProofNetInference
from model.proofnet import IGNORE, ProofNet
from search.andor import AndOrConfig, run_search
from search.batching import BatchingPolicy
from search.policy import Evaluation, NetworkPolicy, PolicyValue

SUITE = Path(__file__).resolve().parent.parent / "benchmarks" / "minif2f-rocq-valid"
PRELUDE = "From Coq Require Import Lia Lra Psatz."  # as `proofzero prove` puts before every statement
TACTICS = ("intros", "intro", "lia", "lra", "auto", "simpl", "split", "reflexivity", "ring", "easy", "subst",
           "assumption")


# -- shared with bench/search_overhead.py ----------------------------------------------------------

def suite_theorems(n: int) -> list[Theorem]:
    """The first n statements of the bundled suite (by name) that elaborate, with the prover's prelude."""
    suite = load_suite(SUITE)
    valid = sorted((t for t in suite.theorems if t.name not in suite.invalid), key=lambda t: t.name)
    return [dataclasses.replace(t, header=f"{PRELUDE}\n{t.header}") for t in valid[:n]]


def fitted_network(preset: str, steps: int, fit_states: Sequence[str], seed: int = 0) -> ProofNetInference:
    """A fresh network taught, in a few steps, to spread its samples over `TACTICS` whatever the state."""
    torch.manual_seed(seed)
    cfg = ProofNetConfig.preset(preset)
    model = ProofNet(cfg)
    if steps:
        tok = cfg.tokenizer()
        pairs = [(s[:48], t) for s in fit_states for t in TACTICS]
        enc = [tok.encode(s, add_eos=True) for s, _ in pairs]
        dec = [tok.encode(t, add_eos=True) for _, t in pairs]
        ids = torch.full((len(pairs), max(map(len, enc))), tok.pad_id)
        labels = torch.full((len(pairs), max(map(len, dec))), IGNORE)
        for i, (e, d) in enumerate(zip(enc, dec)):
            ids[i, : len(e)], labels[i, : len(d)] = torch.tensor(e), torch.tensor(d)
        opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
        model.train()
        for _ in range(steps):
            loss = model(ids, (ids != tok.pad_id).long(), labels).loss
            opt.zero_grad()
            loss.backward()
            opt.step()
    return ProofNetInference(model)


def open_sessions(theorems: Sequence[Theorem], workers: int = 4) -> list[CoqSession]:
    with ThreadPoolExecutor(workers) as pool:
        return list(pool.map(CoqSession, theorems))


def real_tactic_share(policy: PolicyValue, states: Sequence[str], k: int) -> float:
    """How many of the policy's suggestions are among `TACTICS` (a check that the fit took)."""
    out = [s.tactic.strip().rstrip(".") for e in policy.evaluate(list(states), k) for s in e.tactics]
    return sum(t in TACTICS for t in out) / max(1, len(out))


# -- the two sides ---------------------------------------------------------------------------------

@dataclass
class LockedPolicy:
    """The unbatched side: each search calls the network itself, one call at a time."""

    inner: PolicyValue
    calls: int = 0
    states: int = 0
    inner_s: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def evaluate(self, states: Sequence[str], k: int) -> list[Evaluation]:
        with self._lock:
            t0 = time.perf_counter()
            out = self.inner.evaluate(states, k)
            self.inner_s += time.perf_counter() - t0
            self.calls += 1
            self.states += len(states)
        return out


@dataclass
class SideResult:
    side: str
    wall_s: float
    model_s: float
    model_calls: int
    states: int
    expansions: int
    tactics: int
    proved: int

    @property
    def mean_batch(self) -> float:
        return self.states / self.model_calls if self.model_calls else 0.0

    @property
    def expansions_per_s(self) -> float:
        return self.expansions / self.wall_s


def run_searches(sessions: list[CoqSession], policy: PolicyValue, config: AndOrConfig,
                 client: Callable[[], AbstractContextManager]) -> tuple[float, list]:
    """All searches at once, one thread each; (wall seconds, outcomes)."""
    outcomes: list = [None] * len(sessions)
    start = threading.Barrier(len(sessions) + 1)

    def search(i: int) -> None:
        with client():
            start.wait()
            try:
                outcomes[i] = run_search(sessions[i], policy, config)
            except Exception as e:  # noqa: BLE001 - re-raised below, in the main thread
                outcomes[i] = e

    threads = [threading.Thread(target=search, args=(i,)) for i in range(len(sessions))]
    for t in threads:
        t.start()
    start.wait()
    t0 = time.perf_counter()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    for o in outcomes:
        if isinstance(o, Exception):
            raise o
    return wall, outcomes


def run_side(side: str, theorems: list[Theorem], network: PolicyValue, config: AndOrConfig, args) -> SideResult:
    sessions = open_sessions(theorems)
    torch.manual_seed(args.seed)
    try:
        if side == "unbatched":
            policy = LockedPolicy(network)
            wall, outcomes = run_searches(sessions, policy, config, nullcontext)
            model_s, calls, states = policy.inner_s, policy.calls, policy.states
        else:
            with BatchingPolicy(network, args.max_batch, args.max_wait_ms) as policy:
                wall, outcomes = run_searches(sessions, policy, config, policy.client)
            stats = policy.stats
            model_s, calls, states = stats.inner_s, stats.batches, stats.states
    finally:
        for s in sessions:
            s.close()
    return SideResult(side, wall, model_s, calls, states, sum(o.expansions for o in outcomes),
                      sum(o.tactics for o in outcomes), sum(o.stopped_by == "proved" for o in outcomes))


# -- report ----------------------------------------------------------------------------------------

def print_table(results: list[SideResult]) -> None:
    print(f"{'side':<10} {'wall s':>8} {'model s':>8} {'calls':>6} {'batch':>6} {'exp':>5} {'exp/s':>7} "
          f"{'tactics':>8} {'proved':>6}")
    for r in results:
        print(f"{r.side:<10} {r.wall_s:8.2f} {r.model_s:8.2f} {r.model_calls:6d} {r.mean_batch:6.2f} "
              f"{r.expansions:5d} {r.expansions_per_s:7.2f} {r.tactics:8d} {r.proved:6d}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--searches", type=int, default=8, help="concurrent searches (threads), one theorem each")
    ap.add_argument("--expansions", type=int, default=20, help="budget per search")
    ap.add_argument("--k", type=int, default=4, help="tactics sampled per expansion")
    ap.add_argument("--rounds", type=int, default=1, help="each side this many times, alternating")
    ap.add_argument("--max-batch", type=int, default=32)
    ap.add_argument("--max-wait-ms", type=float, default=5.0)
    ap.add_argument("--preset", default="tiny")
    ap.add_argument("--fit-steps", type=int, default=30, help="0: the untrained network (proposes nothing)")
    ap.add_argument("--threads", type=int, default=1,
                    help="torch threads (on a shared 2-core machine, 2 threads oversubscribe: ~10x slower steps)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--quick", action="store_true", help="4 searches x 8 expansions")
    args = ap.parse_args()
    if args.quick:
        args.searches, args.expansions = 4, 8
    theorems = suite_theorems(args.searches)
    t0 = time.perf_counter()
    fit_states = [f"⊢ {t.statement}" for t in theorems]
    torch.set_num_threads(1)  # the fit is not measured; one thread is fastest on a busy machine
    network = NetworkPolicy(fitted_network(args.preset, args.fit_steps, fit_states[:2], args.seed))
    fit_s = time.perf_counter() - t0
    torch.set_num_threads(args.threads)
    config = AndOrConfig(k=args.k, max_expansions=args.expansions)
    print(f"{args.searches} searches x {args.expansions} expansions, k={args.k}, preset {args.preset} "
          f"fitted {args.fit_steps} steps ({fit_s:.1f}s; {real_tactic_share(network, fit_states[:4], args.k):.0%} "
          f"of its samples are real tactics), {torch.get_num_threads()} torch threads, "
          f"max_batch {args.max_batch}, max_wait {args.max_wait_ms} ms")
    results: list[SideResult] = []
    for r in range(args.rounds):
        for side in ("unbatched", "batched") if r % 2 == 0 else ("batched", "unbatched"):
            results.append(run_side(side, theorems, network, config, args))
    print_table(results)
    un = [r for r in results if r.side == "unbatched"]
    ba = [r for r in results if r.side == "batched"]
    wall = statistics.median(r.wall_s for r in un) / statistics.median(r.wall_s for r in ba)
    rate = statistics.median(r.expansions_per_s for r in ba) / statistics.median(r.expansions_per_s for r in un)
    print(f"speed-up (batched vs unbatched): wall {wall:.2f}x, expansions/s {rate:.2f}x")


if __name__ == "__main__":
    main()
