"""Coq session benchmarks: API overhead vs a raw Coq pipe, branch-switch cost, memory per process.

Run: `make bench` (or `.venv/bin/python bench/coq_session.py [--steps N] [--switches N] [--linear-only]`).
Each ratio is measured side by side in one run; record results with their command in bench/README.md.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import time
from pathlib import Path

from formal.coq import session as session_module
from formal.coq.process import CoqProcess
from formal.coq.session import CoqConfig, CoqSession
from formal.result import TacticError
from formal.theorem import Theorem

HEADER = "Require Import Arith Lia.\n"


def linear_script(steps: int) -> list[str]:
    """A long proof with no branching and a goal of constant size: cheap steps, so the per-tactic
    overhead dominates (each rewrite flips both sides between `n + m` and `m + n`), then one closing step."""
    flips = (steps - 2) // 2 * 2
    return ["intros n m", *["rewrite Nat.add_comm"] * flips, "reflexivity"]


LINEAR = Theorem("linear", "forall n m : nat, n + m = m + n", header=HEADER)


def _raw_pipe_once(prelude: list[str], tactics: list[str]) -> float:
    """Seconds coqtop spends on `tactics` when fed on a pipe: the file with them minus the file without.

    Both files end with `Abort.` (the session never runs `Qed` either), so the difference is the
    tactics alone, run as the same sentences the session sent, after the same prelude."""

    def run(sentences: list[str]) -> float:
        t0 = time.perf_counter()
        p = subprocess.run(["coqtop", "-q"], input="\n".join(sentences) + "\n", capture_output=True, text=True)
        dt = time.perf_counter() - t0
        if "Error" in p.stdout + p.stderr:
            raise RuntimeError(p.stdout[-500:] + p.stderr[-500:])
        return dt

    return run([*prelude, *tactics, "Abort."]) - run([*prelude, "Abort."])


class _Counting(CoqProcess):
    """A real coqidetop that counts the writes made to it: each is one round trip (calls written
    together are answered before the session reads on)."""

    writes = 0

    def _send(self, payload: bytes) -> None:
        type(self).writes += 1
        super()._send(payload)


def _session_once(script: list[str], counting: bool = False) -> tuple[float, list[str], list[str], int]:
    """Seconds for the script through `run_tactic`, and the document Coq held after it: the prelude
    and the sentences the tactics became (what the raw pipe then runs); with `counting`, the round
    trips the tactics took (an untimed run: the count costs time)."""
    proc_class = session_module.CoqProcess
    if counting:
        session_module.CoqProcess, _Counting.writes = _Counting, 0
    try:
        with CoqSession(LINEAR) as s:
            state, before = s.root, _Counting.writes
            t0 = time.perf_counter()
            for tactic in script:
                result = s.run_tactic(state, tactic)
                if not result.states:
                    break
                (state,) = result.states
            dt = time.perf_counter() - t0
            assert result.proved and s.stats.tactics == len(script), (result, s.stats)
            doc = [sentence for sentence, _ in s._proc.doc]
            prelude = len(s._prelude)
            return dt, doc[:prelude], doc[prelude:], _Counting.writes - before
    finally:
        session_module.CoqProcess = proc_class


def linear_ratio(script: list[str], repeat: int) -> dict:
    """Median seconds (raw pipe, session API), the two measured alternately to share the noise; the
    raw pipe runs the very sentences the session's first (untimed) run left in Coq's document."""
    _, prelude, sentences, trips = _session_once(script, counting=True)
    assert len(sentences) == len(script)
    raw, api = [], []
    for _ in range(repeat):
        raw.append(_raw_pipe_once(prelude, sentences))
        api.append(_session_once(script)[0])
    return {"raw": statistics.median(raw), "api": statistics.median(api), "trips": trips,
            "ratios": [r / a for r, a in zip(raw, api)], "sentence": sentences[1]}


def failing_rate(count: int) -> float:
    """Tactics per second through `run_tactic` when every one fails (as most sampled tactics do):
    `count` different lemma names that do not exist, all at the same state."""
    with CoqSession(LINEAR) as s:
        (state,) = s.run_tactic(s.root, "intros n m").states
        t0 = time.perf_counter()
        for k in range(count):
            result = s.run_tactic(state, f"apply no_such_lemma_{k}")
            assert isinstance(result, TacticError) and not result.rejected, result
        return count / (time.perf_counter() - t0)


def branch_switches(switches: int, seed: int) -> dict:
    """A random tree: each step picks any state seen so far and extends it."""
    rng = random.Random(seed)
    th = Theorem("tree", "forall n : nat, n = n /\\ n + 0 = n /\\ 0 + n = n", header=HEADER)
    with CoqSession(th, CoqConfig()) as s:
        seen = [s.root]
        (first,) = s.run_tactic(s.root, "intro n").states
        seen.append(first)
        for k in range(switches):
            state = rng.choice(seen[1:])
            tactic = rng.choice([f"pose proof (Nat.add_0_r {k}) as P{k}", "split", f"assert (Q{k} : {k} = {k}) by reflexivity"])
            r = s.run_tactic(state, tactic)
            seen.extend(getattr(r, "states", ()))
        st = s.stats
        return {
            "tactics": st.tactics,
            "switches": st.switches,
            "replayed_per_switch": st.replayed / max(1, st.switches),
            "ms_per_switch": st.switch_ms / max(1, st.switches),
            "states": len(seen),
        }


def memory_per_process() -> dict:
    out = {}
    for label, header in [("Arith+Lia", HEADER), ("Reals+Lra+Psatz", "Require Import Reals Lra Psatz.\nOpen Scope R_scope.")]:
        with CoqSession(Theorem("m", "True", header=header)) as s:
            status = Path(f"/proc/{s._proc.proc.pid}/status").read_text()
            rss = next(line for line in status.splitlines() if line.startswith("VmRSS"))
            out[label] = int(rss.split()[1]) / 1024
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=1000)
    ap.add_argument("--switches", type=int, default=200)
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--failing", type=int, default=300)
    ap.add_argument("--linear-only", action="store_true", help="only the API/raw ratio")
    args = ap.parse_args()
    script = linear_script(args.steps)
    load = os.getloadavg()[0]
    lin = linear_ratio(script, args.repeat)
    raw, api = lin["raw"], lin["api"]
    print(f"linear script, {len(script)} tactics (median of {args.repeat}, measured alternately; "
          f"both sides run the same sentences, e.g. {lin['sentence']!r}):")
    print(f"  raw coqtop pipe  {raw:7.3f}s  {len(script) / raw:8.0f} tactics/s")
    print(f"  session API      {api:7.3f}s  {len(script) / api:8.0f} tactics/s  "
          f"({lin['trips'] / len(script):.3f} round trips per tactic)")
    print(f"  ratio API/raw speed = {raw / api:.2f}  (target >= 0.8; per repetition "
          f"{' '.join(f'{r:.2f}' for r in lin['ratios'])}; load average {load:.2f} -> {os.getloadavg()[0]:.2f})")
    if args.linear_only:
        return
    print(f"failing tactics (`apply no_such_lemma_k`, k = 0..{args.failing - 1}, at one state): "
          f"{failing_rate(args.failing):.0f} tactics/s")
    sw = branch_switches(args.switches, seed=0)
    print(f"random tree, {sw['tactics']} tactics over {sw['states']} states:")
    print(f"  {sw['switches']} branch switches, {sw['replayed_per_switch']:.1f} tactics replayed and "
          f"{sw['ms_per_switch']:.1f} ms per switch")
    mem = memory_per_process()
    for label, mb in mem.items():
        print(f"memory per coqidetop process ({label} loaded): {mb:.0f} MiB RSS")


if __name__ == "__main__":
    main()
