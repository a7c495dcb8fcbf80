"""The matchmaker: which problem the next game is about, prove or disprove, and at what budget.

Semantics of the published pseudocode (ALGORITHMS.md, "Matchmaker weight"), decided in this order:
no attempts -> 1; any disproof -> 0 (retired); fewer than `trust_count` attempts -> 1; never proved
nor disproved -> `undecided_weight`; the last `trust_count_proved` attempts all proved (and there are
that many) -> `proved_weight`; otherwise 1. A statement that does not elaborate is retired too.
The budget grows by `growth` per failure among the last `window` attempts, from `start` up to `cap`.

State is an append-only log (`games.jsonl`, one fsync'd line per finished game, keyed by game id):
a game logged twice (a resumed round replaying a game whose line made it to disk) counts once.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

PROVE, DISPROVE = "prove", "disprove"
DECIDED = ("proved", "disproved")


@dataclass(frozen=True)
class BudgetConfig:
    """A problem's simulation budget (expansions of the prover): start * growth^failures, capped."""

    start: int = 250
    growth: float = 1.17
    cap: int = 16000
    window: int = 12  # failures counted among this many most recent attempts

    def __post_init__(self) -> None:
        if self.start < 1 or self.cap < self.start or self.growth < 1.0 or self.window < 1:
            raise ValueError("budget: start >= 1, cap >= start, growth >= 1 and window >= 1")

    @property
    def reachable(self) -> bool:
        """Whether `window` failures in a row reach the cap (else the budget tops out below it)."""
        return self.start * self.growth ** self.window >= self.cap

    @property
    def top(self) -> int:
        """The largest budget this config ever gives."""
        return min(self.cap, int(round(self.start * self.growth ** self.window)))

    def budget(self, recent_failures: int) -> int:
        return min(self.cap, int(round(self.start * self.growth ** min(recent_failures, self.window))))


@dataclass(frozen=True)
class MatchmakerConfig:
    trust_count: int = 8
    trust_count_proved: int = 12
    undecided_weight: float = 0.1
    proved_weight: float = 1e-3
    disprove_probability: float = 0.5

    def __post_init__(self) -> None:
        if self.trust_count < 1 or self.trust_count_proved < 1:
            raise ValueError("matchmaker.trust_count and trust_count_proved must be >= 1")
        if not 0.0 <= self.disprove_probability <= 1.0:
            raise ValueError("matchmaker.disprove_probability must be in [0, 1]")


@dataclass(frozen=True)
class Game:
    """One finished attempt at one problem, as the matchmaker remembers it."""

    id: str  # unique within a run, e.g. r0003-0017: round 3, the 18th game planned for it
    problem: str
    mode: str  # prove | disprove
    status: str  # proved | disproved | failed | env_error | invalid_statement
    budget: int  # simulations (expansions) the game was given
    expansions: int = 0
    tactics: int = 0  # tactic executions spent
    seconds: float = 0.0
    round: int = 0
    checkpoint: str = ""  # the published checkpoint the actor played with

    @property
    def decided(self) -> bool:
        return self.status in DECIDED

    @classmethod
    def from_json(cls, d: dict) -> Game:
        known = cls.__dataclass_fields__
        return cls(**{k: v for k, v in d.items() if k in known})


@dataclass(frozen=True)
class Pick:
    """The matchmaker's answer: play `mode` on `problem` with `budget` simulations."""

    id: str
    problem: str
    mode: str
    budget: int


@dataclass
class Matchmaker:
    problems: list[str]
    cfg: MatchmakerConfig = field(default_factory=MatchmakerConfig)
    budget_cfg: BudgetConfig = field(default_factory=BudgetConfig)
    path: Path | None = None  # games.jsonl; None: in memory only
    history: dict[str, list[Game]] = field(default_factory=dict)
    _ids: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        for p in self.problems:
            self.history.setdefault(p, [])
        if self.path is not None and self.path.exists():
            for g in read_games(self.path):
                self._remember(g)
            log.info("matchmaker: %d games over %d problems read from %s", len(self._ids),
                     sum(1 for h in self.history.values() if h), self.path)

    # -- the weights -----------------------------------------------------------------------------

    def weight(self, problem: str) -> float:
        games = self.history.get(problem, [])
        c = self.cfg
        if not games:
            return 1.0
        if any(g.status == "disproved" for g in games) or any(g.status == "invalid_statement" for g in games):
            return 0.0
        if len(games) < c.trust_count:
            return 1.0
        if not any(g.decided for g in games):
            return c.undecided_weight
        last = games[-c.trust_count_proved:]
        if len(last) == c.trust_count_proved and all(g.status == "proved" for g in last):
            return c.proved_weight
        return 1.0

    def budget(self, problem: str) -> int:
        recent = self.history.get(problem, [])[-self.budget_cfg.window:]
        return self.budget_cfg.budget(sum(1 for g in recent if not g.decided))

    def plan(self, n: int, rng: np.random.Generator, prefix: str) -> list[Pick]:
        """`n` picks sampled in proportion to weight, without repeating a problem while others are left
        (a round spreads over the pool), each prove or disprove with the configured probability."""
        names = [p for p in self.problems if self.weight(p) > 0]
        if not names or n <= 0:
            return []
        w = np.array([self.weight(p) for p in names], dtype=np.float64)
        order: list[str] = []
        while len(order) < n:
            take = min(n - len(order), len(names))
            idx = rng.choice(len(names), size=take, replace=False, p=w / w.sum())
            order += [names[i] for i in idx]
        picks = []
        for i, problem in enumerate(order):
            mode = DISPROVE if rng.random() < self.cfg.disprove_probability else PROVE
            picks.append(Pick(f"{prefix}-{i:04d}", problem, mode, self.budget(problem)))
        return picks

    # -- results ---------------------------------------------------------------------------------

    def record(self, game: Game) -> bool:
        """Remember a finished game (fsync'd to the log first); False if this id was already counted."""
        if game.id in self._ids:
            return False
        if self.path is not None:
            append_jsonl(self.path, [asdict(game)])
        self._remember(game)
        return True

    def _remember(self, game: Game) -> None:
        if game.id in self._ids:
            return
        self._ids.add(game.id)
        self.history.setdefault(game.problem, []).append(game)

    def played(self, game_id: str) -> bool:
        return game_id in self._ids

    @property
    def games(self) -> list[Game]:
        return [g for h in self.history.values() for g in h]

    def solved(self) -> set[str]:
        """Problems proved (or disproved) at least once."""
        return {p for p, h in self.history.items() if any(g.decided for g in h)}


def append_jsonl(path: Path, rows: Iterable[dict]) -> None:
    """Whole lines, flushed and fsync'd: a crash cuts at most the line being written."""
    text = "".join(json.dumps(r, sort_keys=True) + "\n" for r in rows)
    if not text:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())


def read_jsonl(path: Path) -> list[dict]:
    """Every intact line; a line cut by a crash (or not a JSON object) is skipped."""
    rows = []
    if not path.exists():
        return rows
    with path.open("rb") as f:
        for line in f:
            try:
                row = json.loads(line)
            except (json.JSONDecodeError, UnicodeDecodeError):
                continue
            if isinstance(row, dict):
                rows.append(row)
    return rows


def read_games(path: Path) -> list[Game]:
    out = []
    for row in read_jsonl(path):
        try:
            out.append(Game.from_json(row))
        except TypeError:
            continue
    return out

