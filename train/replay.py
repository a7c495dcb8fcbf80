"""The replay buffer: verified proofs and disproofs found by the actors, as learner transitions.

On disk it is one append-only file, `replay.jsonl`: each line a game id, the problem, and the
search record of its checker-verified proof (`data/experience.py`: one `TracedTheorem`, policy target
the proof's tactic, value target AlphaProof's recursion). Reading it back gives the buffer:
one entry per game id (a replayed game counts once), at most `max_proofs_per_problem` shortest proofs
per (problem, mode), then a FIFO window of the newest `capacity` transitions. The file is rewritten
(atomically) once it holds `compact_factor` times the window's transitions, so it does not grow without end.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path

from data.records import TracedTheorem, traced_theorem_from_json, traced_theorem_to_json
from train.matchmaker import append_jsonl, read_jsonl

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ReplayConfig:
    capacity: int = 100_000  # transitions (state, tactic, value target) kept, newest first
    max_proofs_per_problem: int = 4  # shortest proofs kept per problem and mode
    compact_factor: float = 2.0  # rewrite the file once it holds this many times the window's lines

    def __post_init__(self) -> None:
        if self.capacity < 1 or self.max_proofs_per_problem < 1 or self.compact_factor < 1:
            raise ValueError("replay.capacity and replay.max_proofs_per_problem must be >= 1, compact_factor >= 1")


@dataclass(frozen=True)
class Entry:
    game: str
    problem: str
    mode: str  # prove | disprove
    record: TracedTheorem
    seq: int  # order of arrival (line number among kept lines)

    @property
    def transitions(self) -> int:
        return len(self.record.traced_tactics)

    def to_json(self) -> dict:
        return {"game": self.game, "problem": self.problem, "mode": self.mode,
                "record": traced_theorem_to_json(self.record)}


@dataclass
class ReplayBuffer:
    path: Path
    cfg: ReplayConfig = field(default_factory=ReplayConfig)
    _entries: list[Entry] = field(default_factory=list)  # every valid line, in order, one per game
    _games: set[str] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.path = Path(self.path)
        for row in read_jsonl(self.path):
            try:
                entry = Entry(str(row["game"]), str(row["problem"]), str(row.get("mode", "prove")),
                              traced_theorem_from_json(row["record"]), len(self._entries))
            except (KeyError, TypeError, ValueError, AttributeError):
                continue  # not a replay line (a torn write, or written by something else)
            if entry.game not in self._games and entry.transitions:
                self._games.add(entry.game)
                self._entries.append(entry)

    def add(self, game: str, problem: str, mode: str, record: TracedTheorem) -> bool:
        """Append one verified proof (fsync'd); False if this game is already in."""
        with self._lock:
            if game in self._games or not record.traced_tactics:
                return False
            entry = Entry(game, problem, mode, record, len(self._entries))
            append_jsonl(self.path, [entry.to_json()])
            self._games.add(game)
            self._entries.append(entry)
            if sum(e.transitions for e in self._entries) > self.cfg.compact_factor * self.cfg.capacity:
                self._compact()
            return True

    def has(self, game: str) -> bool:
        return game in self._games

    def kept(self) -> list[Entry]:
        """The buffer's contents: shortest proofs per (problem, mode), then the newest `capacity` transitions."""
        best: dict[tuple[str, str], list[Entry]] = {}
        for e in self._entries:
            best.setdefault((e.problem, e.mode), []).append(e)
        survivors: list[Entry] = []
        for group in best.values():
            group.sort(key=lambda e: (e.transitions, -e.seq))  # shortest, then newest
            survivors += group[: self.cfg.max_proofs_per_problem]
        survivors.sort(key=lambda e: e.seq, reverse=True)
        out, total = [], 0
        for e in survivors:
            if total + e.transitions > self.cfg.capacity and out:
                break
            out.append(e)
            total += e.transitions
        return sorted(out, key=lambda e: e.seq)

    def transitions(self) -> list[dict]:
        """(state, tactic, value_target) rows of every kept proof, oldest first."""
        return [{"state": t.state_before, "tactic": t.tactic, "value_target": t.value_target,
                 "problem": e.problem, "game": e.game}
                for e in self.kept() for t in e.record.traced_tactics]

    def __len__(self) -> int:
        return sum(e.transitions for e in self.kept())

    @property
    def collected(self) -> int:
        """Transitions in every proof read or added (before the window): what the replay ratio counts."""
        return sum(e.transitions for e in self._entries)

    def stats(self) -> dict:
        kept = self.kept()
        return {"transitions": sum(e.transitions for e in kept), "proofs": len(kept),
                "problems": len({e.problem for e in kept}), "games_seen": len(self._games)}

    def _compact(self) -> None:
        """Rewrite the file with the kept entries only, atomically (a crash leaves the old file).
        Game ids of dropped entries stay known for this process; after a restart a dropped game
        could only come back by being replayed, and its proof would then compete again."""
        kept = self.kept()
        tmp = self.path.with_name(f".{self.path.name}.tmp")
        with tmp.open("w", encoding="utf-8") as f:
            for e in kept:
                f.write(json.dumps(e.to_json(), sort_keys=True) + "\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.path)
        self._entries = [Entry(e.game, e.problem, e.mode, e.record, i) for i, e in enumerate(kept)]
        log.info("replay: compacted to %d proofs", len(kept))
