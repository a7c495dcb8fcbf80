"""Games on MathScale's kept statements with the model-free candidate search: do they run in the RL
loop's machinery, and how hard are they without a trained model?

    PYTHONPATH=$PWD .venv/bin/python bench/mathscale_games.py runs/mathscale-bench [--games 24] [--budget 16]

Builds the RL pool of configs/rl/laptop.yaml with `pool.mathscale=[DIR]` (as `proofzero rl` does), then
plays one AND-OR game per MathScale statement (the first N by name) with the default candidate tactics,
each claimed proof re-checked by the trusted checker. Prints one line per game and the counts.
"""

import argparse
import dataclasses
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from data.problems import build_pools
from eval.attempts import candidate_policies, make_pools
from eval.games import play
from proofzero.config import load_config
from proofzero.rl import REPO, RLConfig


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("dir", help="a `proofzero mathscale formal --out` directory")
    p.add_argument("--games", type=int, default=24)
    p.add_argument("--budget", type=int, default=16, help="expansions per game")
    args = p.parse_args()
    cfg = load_config(RLConfig, "rl/laptop.yaml", [f"pool.mathscale=[{args.dir}]"])
    pools = build_pools(cfg.pool, root=REPO)
    print(f"RL pool: {len(pools.rl)} statements from {pools.sources}")
    games = [t for t in pools.rl if t.name.startswith("mathscale")][: args.games]
    actors = dataclasses.replace(cfg.actors, prover="andor")
    counts = Counter()
    with make_pools(actors, max_idle=2) as coq:
        policy = candidate_policies(actors, "coq")
        for t in games:
            r = play(t, "prove", args.budget, actors, policy, coq, "bench")
            counts[r.status] += 1
            print(f"{t.name:<20} {r.status:<8} {r.tactics:>4} tactics {r.seconds:5.1f} s  {t.statement[:90]}")
    print(f"\n{len(games)} games at {args.budget} expansions (AND-OR, candidate tactics, no model): {dict(counts)}")


if __name__ == "__main__":
    main()
