"""LeanDojo Benchmark files as TracedTheorems, so Lean data trains the same model as Coq traces.

A benchmark file (`{random,novel_premises}/{train,val,test}.json`) is a JSON list of
`{url, commit, file_path, full_name, start, end, traced_tactics: [{tactic, annotated_tactic,
state_before, state_after}]}`. States are Lean's printed goals; there are no structured goals and no
proof tree, and `annotated_tactic` (premise marks for retrieval) is not kept: no consumer reads it yet.

Value targets. LeanDojo records no proof tree, and its tactic list leaves out bullets (`·`) and
tactics run on `no goals`, so a tactic's position in the list alone does not give the longest branch
below its goal. Two textual facts do, and only those are used (read from the end of the list):
- a tactic whose `state_before` has exactly one goal and whose `state_after` is `no goals` closed that
  goal by itself: the branch below it is this one tactic, target -1;
- a tactic whose `state_before` has exactly one goal and whose `state_after` is textually the next
  tactic's `state_before`, itself with a target v, turned its goal into that one goal: target v - 1.
Every other tactic (several goals before or after, a gap in the list) gets None.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from data.records import NO_GOALS, TracedTactic, TracedTheorem, traced_theorem_to_json

ORIGIN = "leandojo"


class LeanDojoFormatError(ValueError):
    """The file is not a LeanDojo Benchmark list; the message names the file and the record."""


def load_leandojo(path: str | Path) -> list[TracedTheorem]:
    """All theorems of one benchmark file (the files are single JSON lists, read whole as LeanDojo does)."""
    path = Path(path)
    try:
        records = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise LeanDojoFormatError(f"{path}: not readable as JSON ({e})") from None
    if not isinstance(records, list):
        raise LeanDojoFormatError(f"{path}: a LeanDojo Benchmark file is a JSON list of theorems")
    out = []
    for i, record in enumerate(records):
        try:
            out.append(leandojo_theorem(record))
        except (KeyError, TypeError, ValueError) as e:
            raise LeanDojoFormatError(f"{path}: record {i}: not a LeanDojo theorem ({e!r})") from None
    return out


def leandojo_theorem(record: dict) -> TracedTheorem:
    tactics = [
        TracedTactic(tactic=t["tactic"], state_before=t["state_before"], state_after=t["state_after"])
        for t in record["traced_tactics"]
    ]
    targets = chain_value_targets(tactics)
    return TracedTheorem(
        full_name=record["full_name"],
        file_path=record["file_path"],
        start=_position(record.get("start")),
        end=_position(record.get("end")),
        traced_tactics=tuple(dataclasses.replace(t, value_target=v) for t, v in zip(tactics, targets)),
        kind="theorem",
        complete=True,
        backend="lean",
        url=record.get("url", ""),
        commit=record.get("commit", ""),
    )


_SCHEMA_KEYS = ("url", "commit", "file_path", "full_name", "start", "end")
_TACTIC_KEYS = ("tactic", "state_before", "state_after")


def to_leandojo_json(theorem: TracedTheorem) -> dict:
    """The benchmark schema's fields of a theorem (what `leandojo_theorem` reads back): our shard
    record without the extras."""
    full = traced_theorem_to_json(theorem)
    out = {k: full[k] for k in _SCHEMA_KEYS}
    out["traced_tactics"] = [{k: t[k] for k in _TACTIC_KEYS} for t in full["traced_tactics"]]
    return out


def chain_value_targets(tactics: list[TracedTactic]) -> list[int | None]:
    """Targets where a single-goal chain ending in `no goals` is verified by the states; else None."""
    n = len(tactics)
    targets: list[int | None] = [None] * n
    for i in range(n - 1, -1, -1):
        t = tactics[i]
        if count_goals(t.state_before) != 1:
            continue
        after = t.state_after.strip()
        if after == NO_GOALS:
            targets[i] = -1
        elif i + 1 < n and targets[i + 1] is not None and after == tactics[i + 1].state_before.strip():
            targets[i] = targets[i + 1] - 1
    return targets


def count_goals(state: str) -> int:
    """Goals in a printed Lean state: each goal has one turnstile line."""
    if state.strip() == NO_GOALS:
        return 0
    return sum(1 for line in state.splitlines() if line.startswith("⊢"))


def _position(value: object) -> tuple[int, int]:
    """`[line, column]`; absent positions (some exports omit them) read as (0, 0)."""
    if value is None:
        return (0, 0)
    line, column = value  # type: ignore[misc]
    return (int(line), int(column))
