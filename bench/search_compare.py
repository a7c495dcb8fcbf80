"""Provers side by side at equal counted budgets, over several seeds: `proofzero eval` once per seed with
every prover at the same expansions x k (and the same tactic cap), then proved counts, the budget each
prover actually spent (expansions and tactic executions), attempts per hour and tactics per second.

    .venv/bin/python bench/search_compare.py --checkpoint runs/demo/model --limit 60 --seeds 0 1 2 \
        --provers andor bestfirst htps --expansions 16 --k 8 --max-tactics 400 --out /tmp/compare

`--candidates default` adds the candidate tactics to every network prover; trailing `key=value`
arguments go to every prover (`policy.decoder=hf` for the old decoding path; `policy.kind=candidates`
without `--checkpoint` for the model-free candidate search). A row per (prover, seed) goes to
OUT/summary.json and a table to stdout; the full eval outputs stay under OUT/seed<S>/.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _eval(args, seed: int, out: Path) -> float:
    cmd = [sys.executable, "-m", "proofzero.cli", "eval", "--no-progress", "--suite", args.suite,
           "--out", str(out), f"seed={seed}", f"limit={args.limit}", f"workers={args.workers}",
           "trees=none", "records=false"]
    if args.checkpoint:
        cmd += ["--checkpoint", args.checkpoint]
    for prover in args.provers:
        cmd += ["--prover", f"eval/{prover}", f"{prover}.max_expansions={args.expansions}", f"{prover}.k={args.k}"]
        if args.max_tactics and prover != "automation":
            cmd.append(f"{prover}.max_tactics={args.max_tactics}")
    if args.candidates:
        cmd.append(f"policy.candidates={args.candidates}")
    cmd += args.extra
    t0 = time.perf_counter()
    subprocess.run(cmd, cwd=REPO, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - t0


def _rows(args, seed: int, out: Path, wall: float) -> list[dict]:
    rows = []
    for prover in args.provers:
        data = json.loads((out / prover / "results.json").read_text())
        results = data["results"]
        attempted = [r for r in results if r["status"] != "invalid_statement"]
        seconds = sum(r["seconds"] for r in attempted)
        tactics = sum(r["tactics_used"] for r in attempted)
        rows.append({
            "prover": prover, "seed": seed, "budget": data["budget"],
            "proved": sum(r["status"] == "proved" for r in results),
            "env_error": sum(r["status"] == "env_error" for r in results),
            "attempted": len(attempted),
            "proved_names": sorted(r["name"] for r in results if r["status"] == "proved"),
            "expansions": sum(r["env"].get("expansions", 0) for r in attempted),
            "tactics": tactics,
            "prover_seconds": round(seconds, 1),
            "attempts_per_hour": round(3600 * len(attempted) / seconds, 1) if seconds else None,
            "tactics_per_s": round(tactics / seconds, 1) if seconds else None,
            "eval_wall_s": round(wall, 1),
        })
    return rows


def _table(rows: list[dict]) -> str:
    lines = ["| prover | proved (per seed) | mean | union | expansions spent | tactics spent | attempts/h | tactics/s |",
             "|---|---|---|---|---|---|---|---|"]
    for prover in dict.fromkeys(r["prover"] for r in rows):
        mine = [r for r in rows if r["prover"] == prover]
        union = set().union(*(r["proved_names"] for r in mine))
        per = " / ".join(str(r["proved"]) for r in mine)
        lines.append(
            f"| {prover} | {per} of {mine[0]['attempted']} | {statistics.mean(r['proved'] for r in mine):.1f} "
            f"| {len(union)} | {statistics.mean(r['expansions'] for r in mine):.0f} "
            f"| {statistics.mean(r['tactics'] for r in mine):.0f} "
            f"| {statistics.mean(r['attempts_per_hour'] or 0 for r in mine):.0f} "
            f"| {statistics.mean(r['tactics_per_s'] or 0 for r in mine):.1f} |")
    return "\n".join(lines)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--suite", default="benchmarks/minif2f-rocq-valid")
    p.add_argument("--checkpoint", default="")
    p.add_argument("--provers", nargs="+", default=["andor", "bestfirst", "htps"])
    p.add_argument("--seeds", nargs="+", type=int, default=[0])
    p.add_argument("--limit", type=int, default=60)
    p.add_argument("--expansions", type=int, default=16)
    p.add_argument("--k", type=int, default=8)
    p.add_argument("--max-tactics", type=int, default=0)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--candidates", default="")
    p.add_argument("--out", type=Path, default=Path("/tmp/search_compare"))
    p.add_argument("extra", nargs="*", help="more key=value overrides for every prover")
    args = p.parse_args()
    rows = []
    for seed in args.seeds:
        out = args.out / f"seed{seed}"
        wall = _eval(args, seed, out)
        rows += _rows(args, seed, out, wall)
        print(f"seed {seed}: {wall:.0f} s", file=sys.stderr)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "summary.json").write_text(json.dumps({"command": sys.argv, "rows": rows}, indent=1))
    print(f"budget: {rows[0]['budget']}")
    print(_table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
