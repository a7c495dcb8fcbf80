"""TTRL on targets a network does not prove at the eval budget, against the same compute spent on more
search of the target (bench/README.md, "TTRL").

    python bench/ttrl_heldout.py --rl-run runs/demo/rl --targets 4 --out runs/bench-ttrl [--checkpoint M] [ttrl key=value ...]
    python bench/ttrl_heldout.py --suite benchmarks/ttrl-example --checkpoint M --budget 3 --seeds 0 1 2 --out DIR [...]

Targets. With `--rl-run`: of the 3 x `--targets` shortest held-out statements of the RL run that elaborate,
those its newest checkpoint (or `--checkpoint`) fails at the run's `heldout.budget` (network +
candidates), the first `--targets` (shortest first). With `--suite`: every theorem of the suite (or
`--theorem` names), at `--budget` expansions; TTRL's own first target attempt (round 0, the start
network) says whether the network proves it already.

Each target gets `proofzero ttrl` (configs/ttrl/laptop.yaml + the overrides, `seed` = each of `--seeds`)
from that checkpoint; then, at equal tactic executions (the TTRL run's total: games, filters and target
attempts), one AND-OR search of the target with the start network and one with the model-free
candidates (`andor.max_tactics` = that total, expansions unbounded, the seed in the game id). A target
that TTRL proves by a specialist's attempt is also attempted by the start network with the same seeds
and budget (the summary's `start_network_same_attempt`): "failed" there means the learning made the
difference. Every "proved" is the trusted checker's verdict. Writes `--out/summary.json`, prints a table.
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


def heldout_targets(a, out: Path) -> tuple[dict, list[str], Path, int, dict]:
    """(theorems by name, targets, checkpoint, eval budget, what the selection saw) from an RL run."""
    from data.problems import build_pools
    from eval.games import with_budget
    from proofzero.config import load_config
    from proofzero.eval import evaluate
    from proofzero.rl import CheckpointPolicies, RLConfig
    from proofzero.rl_compare import _dotlist
    from proofzero.ttrl import _rl_run_checkpoint

    rl_run = Path(a.rl_run)
    rl_cfg = load_config(RLConfig, None, _dotlist(json.loads((rl_run / "config.json").read_text())))
    pools = build_pools(rl_cfg.pool, root=REPO)
    # its newest published checkpoint, else the model it started from (or the model given)
    checkpoint = Path(a.checkpoint) if a.checkpoint else _rl_run_checkpoint(rl_run)
    budget = rl_cfg.heldout.budget
    quiet = dict(records=False, trees="none", workers=2, attempts=1)
    # The shortest held-out statements that elaborate (short is no promise of easy, but the long ones are
    # competition problems far out of this model's reach); the automation baseline and the checkpoint
    # (network + candidates, at the run's held-out budget) run on them; the targets are those both fail.
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
    order = [t.name for t in shortest]
    failed = sorted((r.name for r in res.rows if r.status.value not in ("proved", "disproved", "invalid_statement")),
                    key=order.index)
    print(f"the {len(shortest)} shortest held-out statements: automation proves {len(reachable)}, the checkpoint "
          f"{checkpoint.name} fails {len(failed)} at {budget} expansions; targets: {failed[: a.targets]}", flush=True)
    seen = {"rl_run": str(rl_run), "candidates": order, "automation_proved": reachable, "rl_failed": failed}
    return {t.name: t for t in pools.heldout.theorems}, failed[: a.targets], checkpoint, budget, seen


def suite_targets(a) -> tuple[dict, list[str], Path, int, dict]:
    from formal.suite import load_suite

    if not a.checkpoint or not a.budget:
        sys.exit("--suite needs --checkpoint and --budget")
    suite = load_suite(a.suite)
    by_name = {t.name: t for t in suite.theorems}
    names = a.theorem or sorted(n for n in by_name if n not in suite.invalid)
    unknown = [n for n in names if n not in by_name]
    if unknown:
        sys.exit(f"no theorem {unknown} in {a.suite}")
    return by_name, names, Path(a.checkpoint), a.budget, {"suite": str(a.suite)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rl-run", default="runs/demo/rl")
    p.add_argument("--targets", type=int, default=4)
    p.add_argument("--suite", default=None, help="targets from this suite instead of an RL run's held-out pool")
    p.add_argument("--theorem", nargs="*", default=None, help="with --suite: these targets only")
    p.add_argument("--budget", type=int, default=0, help="with --suite: the eval budget (expansions per target attempt)")
    p.add_argument("--checkpoint", default=None, help="start from this model instead of the RL run's newest checkpoint")
    p.add_argument("--seeds", type=int, nargs="+", default=[0], help="one TTRL run per target and seed")
    p.add_argument("--out", default="runs/bench-ttrl")
    p.add_argument("overrides", nargs="*", help="ttrl key=value overrides")
    a = p.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s", datefmt="%H:%M:%S")
    for noisy in ("matplotlib", "lightning", "httpx", "urllib3", "filelock"):
        logging.getLogger(noisy).setLevel(logging.WARNING)

    import transformers

    from eval.attempts import candidate_policies, make_pools
    from eval.games import play
    from proofzero.config import load_config
    from proofzero.rl import CheckpointPolicies, _quiet_lightning
    from proofzero.ttrl import TTRLConfig, specialise

    _quiet_lightning()
    transformers.utils.logging.disable_progress_bar()
    out = Path(a.out)
    by_name, targets, checkpoint, budget, seen = suite_targets(a) if a.suite else heldout_targets(a, out)
    source = Path(a.suite).name if a.suite else "minif2f-rocq-valid"
    results = []
    for seed in a.seeds:
        cfg = load_config(TTRLConfig, "ttrl/laptop.yaml", [f"run_dir={out / f'seed{seed}'}", f"seed={seed}", *a.overrides])
        # the target attempts at the eval budget that the start network is measured at
        cfg = dataclasses.replace(cfg, init_from=str(checkpoint), target=dataclasses.replace(cfg.target, budget=budget))
        for name in targets:
            t0 = time.time()
            s = specialise(cfg, by_name[name], source, checkpoint, progress=False)
            control = s.get("start_network_same_attempt") or {}
            results.append({"target": name, "seed": seed, "ttrl": s["result"], "ttrl_tactics": s["tactics"],
                            "learner_steps": s["learner_steps"], "ttrl_seconds": round(time.time() - t0, 1),
                            "rounds": s["rounds"], "variants_kept": s["variants_kept"], "variants_decided": s["variants_decided"],
                            "how": (s["found"] or {}).get("how", ""), "round_proved": (s["found"] or {}).get("round"),
                            "start_network_same_attempt": control.get("status", ""), "found": s["found"]})
            print(f"seed {seed} {name}: TTRL {s['result']} ({s['tactics']} tactics, {s['learner_steps']} learner steps, "
                  f"{time.time() - t0:.0f} s)", flush=True)

    base = dataclasses.replace(cfg.actors, andor=dataclasses.replace(cfg.actors.andor, max_expansions=10**6))
    network = CheckpointPolicies(base, "coq")
    with make_pools(base, max_idle=1) as env:
        for r in results:
            ecfg = dataclasses.replace(base, andor=dataclasses.replace(base.andor, max_tactics=r["ttrl_tactics"]))
            for label, policy_for in (("search", network.get(checkpoint)), ("candidates", candidate_policies(ecfg, "coq"))):
                c = ecfg if label == "search" else dataclasses.replace(ecfg, policy=dataclasses.replace(ecfg.policy, kind="candidates"))
                t0 = time.time()
                g = play(by_name[r["target"]], "prove", 10**6, c, policy_for, env, f"equal-{label}-s{r['seed']}", source="bench")
                r[f"{label}_at_equal_tactics"] = g.status
                r[f"{label}_tactics"] = g.tactics
                r[f"{label}_seconds"] = round(time.time() - t0, 1)
            print(f"seed {r['seed']} {r['target']}: at {r['ttrl_tactics']} tactics, more search {r['search_at_equal_tactics']} "
                  f"({r['search_tactics']}), candidates {r['candidates_at_equal_tactics']} ({r['candidates_tactics']})", flush=True)
    network.close()
    learned = [r for r in results if r["ttrl"] == "proved" and r["start_network_same_attempt"] == "failed"]
    summary = {"command": " ".join(sys.argv), "checkpoint": str(checkpoint), "eval_budget": budget, **seen,
               "targets": results, "runs": len(results),
               "start_network_proved": sum(r["how"] == "target attempt" and r["round_proved"] == 0 for r in results),
               "ttrl_proved": sum(r["ttrl"] == "proved" for r in results),
               "proved_after_learning": len(learned),
               "search_proved": sum(r["search_at_equal_tactics"] == "proved" for r in results),
               "candidates_proved": sum(r["candidates_at_equal_tactics"] == "proved" for r in results)}
    (out / "summary.json").write_text(json.dumps(summary, indent=1))
    print(f"\n{'target':<28} {'seed':>4} {'TTRL':>10} {'how':>24} {'start, same attempt':>20} {'tactics':>8} {'steps':>6} "
          f"{'secs':>6} {'more search':>12} {'candidates':>11}")
    for r in results:
        how = f"{r['how']} r{r['round_proved']}" if r["how"] else "-"
        print(f"{r['target'][:28]:<28} {r['seed']:>4} {r['ttrl']:>10} {how[:24]:>24} {r['start_network_same_attempt'] or '-':>20} "
              f"{r['ttrl_tactics']:>8} {r['learner_steps']:>6} {r['ttrl_seconds']:>6.0f} {r['search_at_equal_tactics']:>12} "
              f"{r['candidates_at_equal_tactics']:>11}")
    print(f"of {len(results)} runs ({len(targets)} targets x {len(a.seeds)} seeds): the start network proves "
          f"{summary['start_network_proved']} at {budget} expansions; TTRL proves {summary['ttrl_proved']}, "
          f"{summary['proved_after_learning']} of them only after learning (the start network fails the same attempt); "
          f"at equal tactic executions more search proves {summary['search_proved']}, candidates {summary['candidates_proved']}")


if __name__ == "__main__":
    main()
