"""Search records: a checker-verified proof found by a search, as training data (ALGORITHMS.md, RL targets).

A proof becomes one `TracedTheorem` in the shard format the tracer writes, so `proofzero dataset`
reads search records and traced libraries alike. For each tactic on the proof: the policy target is the
proof's tactic (one-hot, not visit counts) and the value target is AlphaProof's: 0 at a closed goal,
-1 + the child's target at an OR node, the min over subgoals at an AND node -- that is, minus the
tactics on the longest branch below the state, `-step.depth()`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path

from data.records import NO_GOALS, TracedTactic, TracedTheorem, traced_theorem_to_json
from formal.proof import ProofStep

SEARCH_URL = "search:"  # `url` prefix that marks a record as found by search (origin "search")


def proof_tactics(proof: ProofStep) -> list[TracedTactic]:
    """The proof's tactics in script order (depth first, goals in order), with the goal tree as ids."""
    out: list[TracedTactic] = []
    counter = iter(range(1 << 30))

    def visit(step: ProofStep, goal_id: str) -> None:
        if not step.state:
            raise ValueError(f"proof step {step.tactic!r} has no state: records need the states the search saw")
        kids = [f"g{next(counter)}" for _ in step.subproofs]
        after = "\n\n".join(s.state for s in step.subproofs) if step.subproofs else NO_GOALS
        out.append(TracedTactic(step.tactic, step.state, after, goal_ids=(goal_id,), children=tuple(kids),
                                value_target=-step.depth()))
        for sub, kid in zip(step.subproofs, kids):
            visit(sub, kid)

    visit(proof, f"g{next(counter)}")
    return out


def search_record(name: str, proof: ProofStep, *, statement: str = "", file_path: str = "",
                  backend: str = "coq", source: str = "") -> TracedTheorem:
    """One proved theorem as a traced theorem whose `url` says it came from a search over `source`."""
    return TracedTheorem(full_name=name, file_path=file_path or name, start=(0, 0), end=(0, 0),
                         traced_tactics=tuple(proof_tactics(proof)), statement=statement, kind="search",
                         complete=True, backend=backend, url=f"{SEARCH_URL}{source}")


def append_records(path: Path, records: Iterable[TracedTheorem]) -> None:
    """Append whole lines and fsync: a crash loses at most the record being written, never earlier ones."""
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = "".join(json.dumps(traced_theorem_to_json(r)) + "\n" for r in records)
    if not lines:
        return
    with path.open("a", encoding="utf-8") as f:
        f.write(lines)
        f.flush()
        os.fsync(f.fileno())
