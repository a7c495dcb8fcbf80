"""Record types for traced proofs and the state-tactic pairs training reads, whatever their origin.

`TracedTheorem` follows the LeanDojo Benchmark schema (`full_name`, `file_path`, `start`, `end`,
`traced_tactics: [{tactic, state_before, state_after}]`) and adds structured extras (goals with
hypotheses, the proof tree's goal ids, value targets), so Coq traces and LeanDojo files are read
by the same training code.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from formal.goal import Goal, Hypothesis

NO_GOALS = "no goals"  # LeanDojo's state_after when a proof closes


@dataclass(frozen=True)
class TracedTactic:
    """One tactic of a traced proof.

    `goal_ids` are the proof assistant's ids of the goals the tactic acted on, `children` the ids of
    the goals it created from them: together they are the proof tree. `value_target` is minus the
    number of tactics on the longest branch below the acted goal, this tactic included (ALGORITHMS.md);
    None where the tree is unknown (LeanDojo files carry no tree).
    """

    tactic: str
    state_before: str
    state_after: str
    goals_before: tuple[Goal, ...] = ()
    goals_after: tuple[Goal, ...] = ()
    goal_ids: tuple[str, ...] = ()
    children: tuple[str, ...] = ()
    value_target: int | None = None
    line: int = 0


@dataclass(frozen=True)
class TracedTheorem:
    full_name: str
    file_path: str
    start: tuple[int, int]  # (line, column) of the declaration, 1-based
    end: tuple[int, int]  # (line, column) just past the proof's closing sentence
    traced_tactics: tuple[TracedTactic, ...]
    statement: str = ""
    kind: str = "Theorem"  # Lemma, Theorem, Instance, Next Obligation, ...
    complete: bool = True  # every tactic ran and the proof closed with Qed/Defined
    backend: str = "coq"
    url: str = ""  # the source root or repository the file comes from
    commit: str = ""  # a version: Coq's version for a Coq library


@dataclass(frozen=True)
class StateTactic:
    """The one record training reads: a state, the tactic taken there, and the value target."""

    state: str
    tactic: str
    value_target: int | None
    full_name: str
    file_path: str
    origin: str  # "coq-trace", "leandojo", "search" ...
    extras: dict = field(default_factory=dict)


def goal_to_json(goal: Goal) -> dict:
    return {
        "hypotheses": [{"names": list(h.names), "type": h.type, "body": h.body} for h in goal.hypotheses],
        "conclusion": goal.conclusion,
    }


def goal_from_json(d: dict) -> Goal:
    hyps = tuple(Hypothesis(tuple(h["names"]), h["type"], h.get("body")) for h in d["hypotheses"])
    return Goal(hyps, d["conclusion"])


def traced_tactic_to_json(t: TracedTactic) -> dict:
    return {
        "tactic": t.tactic,
        "state_before": t.state_before,
        "state_after": t.state_after,
        "goals_before": [goal_to_json(g) for g in t.goals_before],
        "goals_after": [goal_to_json(g) for g in t.goals_after],
        "goal_ids": list(t.goal_ids),
        "children": list(t.children),
        "value_target": t.value_target,
        "line": t.line,
    }


def traced_tactic_from_json(d: dict) -> TracedTactic:
    return TracedTactic(
        tactic=d["tactic"],
        state_before=d["state_before"],
        state_after=d["state_after"],
        goals_before=tuple(goal_from_json(g) for g in d.get("goals_before", ())),
        goals_after=tuple(goal_from_json(g) for g in d.get("goals_after", ())),
        goal_ids=tuple(d.get("goal_ids", ())),
        children=tuple(d.get("children", ())),
        value_target=d.get("value_target"),
        line=d.get("line", 0),
    )


def traced_theorem_to_json(t: TracedTheorem) -> dict:
    """One line of a JSONL shard: the LeanDojo Benchmark keys first, our extras after."""
    return {
        "url": t.url,
        "commit": t.commit,
        "file_path": t.file_path,
        "full_name": t.full_name,
        "start": list(t.start),
        "end": list(t.end),
        "traced_tactics": [traced_tactic_to_json(x) for x in t.traced_tactics],
        "statement": t.statement,
        "kind": t.kind,
        "complete": t.complete,
        "backend": t.backend,
    }


def traced_theorem_from_json(d: dict) -> TracedTheorem:
    """Reads our shards and LeanDojo Benchmark records alike (missing extras take defaults)."""
    return TracedTheorem(
        full_name=d["full_name"],
        file_path=d["file_path"],
        start=tuple(d.get("start", (0, 0))),
        end=tuple(d.get("end", (0, 0))),
        traced_tactics=tuple(traced_tactic_from_json(x) for x in d.get("traced_tactics", ())),
        statement=d.get("statement", ""),
        kind=d.get("kind", "theorem"),
        complete=d.get("complete", True),
        backend=d.get("backend", "lean"),
        url=d.get("url", ""),
        commit=d.get("commit", ""),
    )


def to_state_tactics(theorem: TracedTheorem, origin: str) -> list[StateTactic]:
    """The theorem's tactics as training records; the goal structure rides along in `extras`."""
    return [
        StateTactic(
            state=t.state_before,
            tactic=t.tactic,
            value_target=t.value_target,
            full_name=theorem.full_name,
            file_path=theorem.file_path,
            origin=origin,
            extras={
                "state_after": t.state_after,
                "goals_before": [goal_to_json(g) for g in t.goals_before],
                "goals_after": [goal_to_json(g) for g in t.goals_after],
                "goal_ids": list(t.goal_ids),
                "children": list(t.children),
                "line": t.line,
            },
        )
        for t in theorem.traced_tactics
    ]
