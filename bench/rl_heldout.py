"""The RL result on the held-out pool: automation, the model-free candidate search, the SFT start and the
RL checkpoint side by side, at the RL run's own held-out budget, with the compute each spent.

    .venv/bin/python bench/rl_heldout.py runs/rl-bench

The SFT and RL rows are the run's own held-out evaluations (`heldout/round_0000`: the start, and the
newest round's), made by `proofzero rl` at `heldout.budget`; this script adds the two model-free
baselines over exactly the same held-out names (`pools.json`) and budget, writes
RUN_DIR/compare/summary.json and prints a table, plus the RL-pool problems solved per round.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("run_dir")
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    run_dir = Path(args.run_dir)

    from data.problems import build_pools
    from eval.attempts import Artifacts, candidate_policies, make_pools, make_prove_one
    from eval.games import with_budget
    from eval.runner import run_suite, summary_numbers
    from proofzero.config import load_config
    from proofzero.prove import limit_suite
    from proofzero.rl import RLConfig

    raw = json.loads((run_dir / "config.json").read_text())
    cfg = load_config(RLConfig, None, _dotlist(raw))
    pools = build_pools(cfg.pool, root=REPO)
    suite = limit_suite(pools.heldout, cfg.heldout.limit)
    base = dataclasses.replace(with_budget(cfg.actors, cfg.heldout.budget), workers=args.workers,
                               records=False, trees="none", attempts=cfg.heldout.attempts)
    free = dataclasses.replace(base, name="candidates", policy=dataclasses.replace(base.policy, kind="candidates"))
    auto = dataclasses.replace(base, name="automation", prover="automation")
    rows = []
    for label, ecfg in (("automation", auto), ("model-free candidates", free)):
        out = run_dir / "compare" / label.replace(" ", "_")
        policy_for = candidate_policies(ecfg, "coq") if ecfg.uses_policy else None
        t0 = time.perf_counter()
        with make_pools(ecfg, max_idle=ecfg.workers) as env:
            prove_one = make_prove_one(ecfg, policy_for, Artifacts(out, "none", 0, records=False), env)
            res = run_suite(suite, prove_one, out / "results.json", dataclasses.asdict(ecfg), ecfg.budget_text(),
                            ecfg.workers, progress=False)
        n = summary_numbers(res)["all"]
        rows.append({"prover": label, "proved": n["proved"] + n["disproved"], "total": n["total"],
                     "budget": ecfg.budget_text(), "tactics": sum(r.tactics_used for r in res.rows),
                     "learner_steps": 0, "seconds": round(time.perf_counter() - t0, 1)})
    evals = sorted((run_dir / "rounds").glob("heldout_*.json"))
    first, last = (json.loads(evals[0].read_text()), json.loads(evals[-1].read_text())) if evals else (None, None)
    rounds = [json.loads(x) for x in (run_dir / "rounds.jsonl").read_text().splitlines()] if (run_dir / "rounds.jsonl").exists() else []
    by_round = {r["round"]: r for r in rounds}
    actor_tactics = sum(r["tactics"] for r in by_round.values() if r["round"] <= (last or {}).get("round", 0))
    for label, e in (("SFT start (+ candidates)", first), (f"RL after round {last['round'] if last else '?'} (+ candidates)", last)):
        if e:
            steps = by_round.get(e["round"], {}).get("learner_step", 0)
            rows.append({"prover": label, "proved": e["proved"], "total": e["total"], "budget": e["budget"],
                         "tactics": e["tactics"], "learner_steps": steps, "seconds": e.get("seconds"),
                         "checkpoint": e.get("checkpoint"),
                         "rl_actor_tactics": actor_tactics if e is last else 0})
    curve = [{"round": r["round"], "solved_total": r["solved_total"], "new_solved": r["new_solved"],
              "proved": r["proved"], "disproved": r["disproved"], "attempts": r["attempts"]} for r in by_round.values()]
    out = {"heldout_names": sorted(suite.files), "rl_pool": len(pools.rl), "rows": rows, "rl_pool_curve": curve}
    (run_dir / "compare").mkdir(parents=True, exist_ok=True)
    (run_dir / "compare" / "summary.json").write_text(json.dumps(out, indent=1) + "\n")
    print(f"held-out pool: {len(suite)} statements ({len(suite.invalid)} do not elaborate), RL pool {len(pools.rl)}")
    print(f"{'prover':<34} {'proved':>9} {'tactics':>9} {'steps':>6} {'secs':>7}  budget")
    for r in rows:
        print(f"{r['prover']:<34} {r['proved']:>4}/{r['total']:<4} {r['tactics']:>9} {r['learner_steps']:>6} "
              f"{r['seconds'] or 0:>7.0f}  {r['budget']}")
    print("\nRL pool, per round: " + ", ".join(f"r{c['round']}: {c['proved']}+{c['disproved']} decided of "
                                               f"{c['attempts']}, {c['solved_total']} solved" for c in curve))
    return 0


def _dotlist(d: dict, prefix: str = "") -> list[str]:
    """A config dict (config.json) back as key=value overrides."""
    out = []
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict) and v:
            out += _dotlist(v, key + ".")
        elif not isinstance(v, dict):
            out.append(f"{key}={json.dumps(v)}")
    return out


if __name__ == "__main__":
    raise SystemExit(main())
