"""TTRL on held-out statements that an RL checkpoint does not prove, against the same compute spent on
more search of the target (bench/README.md).

    python bench/ttrl_heldout.py --rl-run runs/demo/rl --targets 4 --out runs/bench-ttrl [ttrl key=value ...]

Targets: of the 3 x `--targets` shortest held-out statements of the RL run that elaborate, those its
newest checkpoint fails at the run's `heldout.budget` (network + candidates), the first `--targets`
(shortest first). Each gets `proofzero ttrl` (configs/ttrl/laptop.yaml + the overrides) from
the RL run's newest checkpoint; then, at equal tactic executions (the TTRL run's total: games, filters
and target attempts), one AND-OR search of the target with that checkpoint and one with the model-free
candidates (`andor.max_tactics` = that total, expansions unbounded). Every "proved" is the trusted
checker's verdict. Writes `--out/summary.json` and prints a table.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rl-run", default="runs/demo/rl")
    p.add_argument("--targets", type=int, default=4)
    p.add_argument("--out", default="runs/bench-ttrl")
    p.add_argument("overrides", nargs="*", help="ttrl key=value overrides")
    a = p.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s", datefmt="%H:%M:%S")
    for noisy in ("matplotlib", "lightning", "httpx", "urllib3", "filelock"):
        logging.getLogger(noisy).setLevel(logging.WARNING)

    from data.problems import build_pools
    from eval.attempts import candidate_policies, make_pools
    from eval.games import play, with_budget
    from proofzero.config import load_config
    from proofzero.eval import evaluate
    from proofzero.rl import CheckpointPolicies, RLConfig, _quiet_lightning
    from proofzero.rl_compare import _dotlist
    from proofzero.ttrl import TTRLConfig, _rl_run_checkpoint, specialise

    _quiet_lightning()
    rl_run = Path(a.rl_run)
    rl_cfg = load_config(RLConfig, None, _dotlist(json.loads((rl_run / "config.json").read_text())))
    pools = build_pools(rl_cfg.pool, root=REPO)
    checkpoint = _rl_run_checkpoint(rl_run)  # its newest published checkpoint, else the model it started from
    out = Path(a.out)
    by_name = {t.name: t for t in pools.heldout.theorems}
    budget = rl_cfg.heldout.budget
    quiet = dict(records=False, trees="none", workers=2, attempts=1)
    # Candidates: the shortest held-out statements that elaborate (short is no promise of easy, but the long
    # ones are competition problems far out of this model's reach); the automation baseline and the checkpoint
    # (network + candidates, at the run's held-out budget) are run on them, and the targets are those both fail.
    # (The candidate tactics contain the automation portfolio: what automation proves, the checkpoint proves too.)
    shortest = sorted((t for t in pools.heldout.theorems if t.name not in pools.heldout.invalid),
                      key=lambda t: (len(" ".join(t.proposition.split())), t.name))[: 3 * a.targets]
    sub = pools.heldout.subset(sorted(t.name for t in shortest), name=f"{pools.heldout.name}-shortest")
    auto = evaluate(sub, dataclasses.replace(with_budget(rl_cfg.actors, budget), prover="automation", **quiet),
                    None, out / "automation", progress=False)
    reachable = sorted(r.name for r in auto.rows if r.status.value == "proved")
    rl_eval = dataclasses.replace(with_budget(rl_cfg.actors, budget), **quiet)
    rl_eval = dataclasses.replace(rl_eval, policy=dataclasses.replace(rl_eval.policy, checkpoint=str(checkpoint)))
    policies = CheckpointPolicies(rl_eval, "coq")
    res = evaluate(sub, rl_eval, policies.get(checkpoint), out / "rl_checkpoint", progress=False)
    policies.close()
    failed = sorted((r.name for r in res.rows if r.status.value not in ("proved", "disproved", "invalid_statement")),
                    key=lambda n: [t.name for t in shortest].index(n))
    targets = failed[: a.targets]
    print(f"the {len(shortest)} shortest held-out statements: automation proves {len(reachable)}, the checkpoint "
          f"{checkpoint.name} fails {len(failed)} at {budget} expansions; targets: {targets}", flush=True)
    cfg = load_config(TTRLConfig, "ttrl/laptop.yaml", [f"run_dir={out}", *a.overrides])
    # the target attempts at the same eval budget that the RL checkpoint failed at
    cfg = dataclasses.replace(cfg, init_from=str(checkpoint), target=dataclasses.replace(cfg.target, budget=budget))
    results = []
    for name in targets:
        t0 = time.time()
        s = specialise(cfg, by_name[name], pools.suite.name, checkpoint, progress=False)
        results.append({"target": name, "ttrl": s["result"], "ttrl_tactics": s["tactics"], "learner_steps": s["learner_steps"],
                        "ttrl_seconds": round(time.time() - t0, 1), "rounds": s["rounds"],
                        "variants_kept": s["variants_kept"], "variants_decided": s["variants_decided"],
                        "found": s["found"]})
        print(f"{name}: TTRL {s['result']} ({s['tactics']} tactics, {s['learner_steps']} learner steps, "
              f"{time.time() - t0:.0f} s)", flush=True)

    base = dataclasses.replace(cfg.actors, andor=dataclasses.replace(cfg.actors.andor, max_expansions=10**6))
    network = CheckpointPolicies(base, "coq")
    with make_pools(base, max_idle=1) as env:
        for r in results:
            ecfg = dataclasses.replace(base, andor=dataclasses.replace(base.andor, max_tactics=r["ttrl_tactics"]))
            for label, policy_for in (("search", network.get(checkpoint)), ("candidates", candidate_policies(ecfg, "coq"))):
                c = ecfg if label == "search" else dataclasses.replace(ecfg, policy=dataclasses.replace(ecfg.policy, kind="candidates"))
                t0 = time.time()
                g = play(by_name[r["target"]], "prove", 10**6, c, policy_for, env, f"equal-{label}", source="bench")
                r[f"{label}_at_equal_tactics"] = g.status
                r[f"{label}_tactics"] = g.tactics
                r[f"{label}_seconds"] = round(time.time() - t0, 1)
            print(f"{r['target']}: at {r['ttrl_tactics']} tactics, more search {r['search_at_equal_tactics']}, "
                  f"candidates {r['candidates_at_equal_tactics']}", flush=True)
    network.close()
    summary = {"command": " ".join(sys.argv), "rl_run": str(rl_run), "checkpoint": str(checkpoint),
               "heldout_budget": budget, "candidates": [t.name for t in shortest], "automation_proved": reachable,
               "rl_failed": failed, "targets": results,
               "ttrl_proved": sum(r["ttrl"] == "proved" for r in results),
               "search_proved": sum(r["search_at_equal_tactics"] == "proved" for r in results),
               "candidates_proved": sum(r["candidates_at_equal_tactics"] == "proved" for r in results)}
    (out / "summary.json").write_text(json.dumps(summary, indent=1))
    print(f"\n{'target':<28} {'TTRL':>10} {'tactics':>8} {'steps':>6} {'secs':>6} {'more search':>12} {'candidates':>11}")
    for r in results:
        print(f"{r['target']:<28} {r['ttrl']:>10} {r['ttrl_tactics']:>8} {r['learner_steps']:>6} {r['ttrl_seconds']:>6.0f} "
              f"{r['search_at_equal_tactics']:>12} {r['candidates_at_equal_tactics']:>11}")
    print(f"proved: TTRL {summary['ttrl_proved']}, more search {summary['search_proved']}, "
          f"candidates {summary['candidates_proved']} of {len(results)} (equal tactic executions per target)")


if __name__ == "__main__":
    main()
