"""What the programmatic variant strategies write on a suite, without a proof assistant (bench/README.md).

    python bench/variant_counts.py benchmarks/minif2f-rocq-valid ../shared/benchmarks/minif2f-lean4/MiniF2F/Valid

Per suite: how many statements the textual parse reads (`data/statement.py`), and per strategy how many
statements get at least one variant and how many variants in all (every variant, no sampling). Nothing
here is judged: whether a variant elaborates, or is worth keeping, is the filters' business
(`bench/variant_yield.py` measures that, with Coq).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from data.statement import parse  # noqa: E402
from data.variants import STRATEGIES, generate  # noqa: E402
from formal.suite import load_suite  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("suites", nargs="+")
    a = p.parse_args()
    strategies = sorted(set(STRATEGIES) - {"negation"})
    print(f"| suite | backend | statements | parsed | {' | '.join(strategies)} | seconds |")
    print(f"|---|---|---:|---:|{'---:|' * len(strategies)}---:|")
    for path in a.suites:
        suite = load_suite(Path(path))
        t0 = time.perf_counter()
        theorems = sorted(suite.theorems, key=lambda t: t.name)
        parsed = sum(parse(t) is not None for t in theorems)
        cells = []
        for name in strategies:
            made = [len(generate(t, [name], np.random.default_rng(0))) for t in theorems]
            cells.append(f"{sum(m > 0 for m in made)} / {sum(made)}")
        backend = theorems[0].backend if theorems else "?"
        print(f"| {suite.name} | {backend} | {len(theorems)} | {parsed} | {' | '.join(cells)} | {time.perf_counter() - t0:.1f} |")


if __name__ == "__main__":
    main()
