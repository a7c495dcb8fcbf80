"""Hand-built traced theorems and shards for the data tests (no tracer involved)."""

from __future__ import annotations

import json
from pathlib import Path

from data.records import TracedTactic, TracedTheorem, traced_theorem_to_json
from formal.goal import Goal, Hypothesis


def theorem(
    name: str,
    file_path: str,
    tactics: list[tuple[str, str]],
    statement: str = ": True",
    complete: bool = True,
) -> TracedTheorem:
    """A linear proof: (state_before, tactic) pairs, each state one goal, value targets counting down."""
    n = len(tactics)
    traced = tuple(
        TracedTactic(
            tactic=tac,
            state_before=state,
            state_after=tactics[i + 1][0] if i + 1 < n else "no goals",
            goals_before=(Goal((Hypothesis(("n",), "nat"),), state),),
            goal_ids=(str(i + 1),),
            children=(str(i + 2),) if i + 1 < n else (),
            value_target=-(n - i),
            line=10 + i,
        )
        for i, (state, tac) in enumerate(tactics)
    )
    return TracedTheorem(
        full_name=name,
        file_path=file_path,
        start=(10, 1),
        end=(10 + n, 4),
        traced_tactics=traced,
        statement=statement,
        kind="Lemma",
        complete=complete,
        backend="coq",
    )


def library(files: int = 12, per_file: int = 5) -> list[TracedTheorem]:
    """`files` files of `per_file` theorems, three tactics each, every state distinct."""
    return [
        theorem(
            f"Lib.F{f}.t{k}",
            f"lib/F{f}.v",
            [(f"n : nat |- goal {f}.{k}.{j}", f"tac{j}.") for j in range(3)],
            statement=f"(n : nat) : n + {f} = {k} + n",
        )
        for f in range(files)
        for k in range(per_file)
    ]


def write_shard(path: Path, theorems: list[TracedTheorem]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as f:
        for t in theorems:
            f.write(json.dumps(traced_theorem_to_json(t), ensure_ascii=False) + "\n")
    return path
