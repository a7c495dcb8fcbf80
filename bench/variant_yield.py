"""Variant generator and statement filter yield on a suite, per strategy (bench/README.md).

    python bench/variant_yield.py --suite benchmarks/minif2f-rocq-valid --limit 60 --budget 4

For each statement (the first `--limit` by name hash; 0: all): one model-free AND-OR attempt at
`--budget` expansions (the candidate tactics; a failure leaves open goals -> the `lemma` strategy),
then every programmatic strategy (at most `--per-strategy` variants each, seeded), the statement filters
against the whole suite, and one attempt at the same budget on each kept variant. Prints, per strategy:
generated, kept, rejected by reason, and proved; writes everything to `--out/yield.json`.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import sys
import time
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from data.filters import FilterConfig, StatementFilter  # noqa: E402
from data.problems import name_bucket  # noqa: E402
from data.variants import STRATEGIES, generate, lemma_variants  # noqa: E402
from eval.attempts import backend_for, candidate_policies, make_pools, with_prelude  # noqa: E402
from eval.config import EvalConfig, PolicyConfig  # noqa: E402
from eval.games import play, with_budget  # noqa: E402
from formal.suite import load_suite  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--suite", default="benchmarks/minif2f-rocq-valid")
    p.add_argument("--limit", type=int, default=60)
    p.add_argument("--per-strategy", type=int, default=3)
    p.add_argument("--budget", type=int, default=4, help="expansions per attempt (originals and kept variants)")
    p.add_argument("--disprove-budget", type=int, default=0, help="the filters' low-budget search on negations")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="runs/bench-variants")
    a = p.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)

    suite = load_suite(REPO / a.suite if not Path(a.suite).is_absolute() else Path(a.suite))
    theorems = sorted(suite.theorems, key=lambda t: name_bucket(t.name, "variant-yield"))
    theorems = sorted(theorems[: a.limit] if a.limit else theorems, key=lambda t: t.name)
    # the model-free AND-OR search over the default candidate tactics
    cfg = dataclasses.replace(with_budget(EvalConfig(), a.budget), policy=PolicyConfig(kind="candidates", candidates="default"))
    t0 = time.time()
    with make_pools(cfg, max_idle=a.workers) as pools:
        policy_for = candidate_policies(cfg, "coq")

        def attempt(theorem, mode="prove"):
            return play(theorem, mode, a.budget, cfg, policy_for, pools, "yield", source="variant-yield")

        with ThreadPoolExecutor(a.workers) as ex:
            originals = dict(zip([t.name for t in theorems], ex.map(attempt, theorems)))
        print(f"originals: {sum(r.status == 'proved' for r in originals.values())}/{len(theorems)} proved at "
              f"{a.budget} expansions ({time.time() - t0:.0f} s)", flush=True)
        variants = []
        for t in theorems:
            rng = np.random.default_rng([a.seed, int(name_bucket(t.name, 'seed') * 2**32)])
            variants += generate(t, sorted(STRATEGIES), rng, 0, a.per_strategy)
            variants += lemma_variants(t, originals[t.name].open_goals[: a.per_strategy])
        b = backend_for(theorems[0], cfg, pools)
        f = StatementFilter(FilterConfig(disprove_budget=a.disprove_budget, workers=a.workers),
                            lambda t: b.open_session(with_prelude(t, cfg)),
                            lambda t, s: b.check(with_prelude(t, cfg), s),
                            lambda t, budget: play(t, "disprove", budget, cfg, policy_for, pools, "filter"))
        t1 = time.time()
        report = f.run([v.theorem for v in variants], pool=suite.theorems)
        print(f"filters: {report.counts()} ({report.tactics} tactic executions, {time.time() - t1:.0f} s)", flush=True)
        verdict = {r.name: r for r in report.results}
        kept = [v for v in variants if verdict[v.theorem.name].kept]
        t2 = time.time()
        with ThreadPoolExecutor(a.workers) as ex:
            proved = dict(zip([v.theorem.name for v in kept], ex.map(lambda v: attempt(v.theorem), kept)))
        print(f"kept variants: {sum(r.status == 'proved' for r in proved.values())}/{len(kept)} proved ({time.time() - t2:.0f} s)")

    table: dict[str, Counter] = defaultdict(Counter)
    for v in variants:
        row = table[v.strategy]
        row["generated"] += 1
        row[verdict[v.theorem.name].reason] += 1
        if v.theorem.name in proved and proved[v.theorem.name].status == "proved":
            row["proved"] += 1
    reasons = ["kept", "duplicate", "does_not_elaborate", "trivial", "contradictory_hypotheses", "refuted_by_automation",
               "disproved_by_search", "env_error"]
    head = f"{'strategy':<11} {'generated':>9} " + " ".join(f"{r[:12]:>12}" for r in reasons) + f" {'proved':>7}"
    print(head)
    for s in sorted(table):
        row = table[s]
        print(f"{s:<11} {row['generated']:>9} " + " ".join(f"{row[r]:>12}" for r in reasons) + f" {row['proved']:>7}")
    total = sum(table.values(), Counter())
    print(f"{'all':<11} {total['generated']:>9} " + " ".join(f"{total[r]:>12}" for r in reasons) + f" {total['proved']:>7}")
    (out / "yield.json").write_text(json.dumps({
        "command": " ".join(sys.argv), "statements": len(theorems), "budget": a.budget,
        "originals_proved": sorted(n for n, r in originals.items() if r.status == "proved"),
        "per_strategy": {s: dict(c) for s, c in table.items()}, "filter_tactics": report.tactics,
        "variants": [{**v.describe(), "reason": verdict[v.theorem.name].reason,
                      "proved": v.theorem.name in proved and proved[v.theorem.name].status == "proved"} for v in variants],
        "seconds": round(time.time() - t0, 1)}, indent=1))


if __name__ == "__main__":
    main()
