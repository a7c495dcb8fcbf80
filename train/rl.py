"""The AlphaZero loop (ALGORITHMS.md, "The RL loop"): matchmaker -> actors -> checker -> replay -> learner.

Learner and actors share only checkpoints (the learner publishes, an actor plays each game with the
newest) and finished games (every game goes back to the matchmaker; only those whose root the trusted
checker verified go to replay). The loop knows no proof assistant: `play` (a game, from `eval/games.py`
in the CLI) and `evaluate` (the held-out pool, through `eval/`) are handed to it.

Two schedules, one code path:
- `rounds` (a laptop): collect `attempts_per_round` games, then learn `steps_per_round` steps
  (publishing every `publish_every`), then evaluate every `eval_every` rounds; each phase gets the
  whole machine.
- `async` (a cluster): actors play continuously in the background while the learner trains, once the
  replay holds `min_replay` transitions and never above `max_replay_ratio` samples per transition
  collected; a "round" is then `steps_per_round` learner steps.

Everything lives under `run_dir` and a rerun of the same command resumes: `games.jsonl` (matchmaker),
`replay.jsonl`, `proofs.jsonl` (every verified script), `learner/` (Lightning checkpoints), `published/` (exports + LATEST), `rounds.jsonl`
(one row per finished round), `state.json` and each round's plan. A round's games are planned once
(seeded) and identified by id, so a resumed round plays only the games not yet logged, and a game is
never counted twice.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from train.config import TrainConfig
from train.matchmaker import BudgetConfig, Game, Matchmaker, MatchmakerConfig, Pick, append_jsonl, read_jsonl
from train.replay import ReplayBuffer, ReplayConfig

log = logging.getLogger(__name__)

SCHEDULES = ("rounds", "async")


@dataclass(frozen=True)
class LoopConfig:
    schedule: str = "rounds"  # rounds | async
    rounds: int = 1  # rounds to run (async: learner rounds of steps_per_round steps)
    attempts_per_round: int = 32  # rounds: games per round
    steps_per_round: int = 50  # learner optimizer steps per round
    publish_every: int = 50  # learner steps between published checkpoints
    eval_every: int = 1  # held-out evaluation every N rounds (and once before the first); 0: never
    workers: int = 2  # games in flight (threads; each may call out to a Ray actor)
    min_replay: int = 1  # transitions in replay before the learner trains
    max_replay_ratio: float = 0.0  # async: learner samples per transition collected, at most (0: no cap)
    seed: int = 0
    budget: BudgetConfig = field(default_factory=BudgetConfig)
    matchmaker: MatchmakerConfig = field(default_factory=MatchmakerConfig)
    replay: ReplayConfig = field(default_factory=ReplayConfig)

    def __post_init__(self) -> None:
        if self.schedule not in SCHEDULES:
            raise ValueError(f"schedule must be one of {SCHEDULES}, got {self.schedule!r}")
        for name in ("rounds", "attempts_per_round", "steps_per_round", "publish_every", "workers", "min_replay"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.eval_every < 0 or self.max_replay_ratio < 0:
            raise ValueError("eval_every and max_replay_ratio must be >= 0")


class Outcome(Protocol):
    """What `play` returns (eval/games.py's GameResult)."""

    status: str
    expansions: int
    tactics: int
    seconds: float
    record: Any  # a TracedTheorem for a checker-verified proof or disproof, else None


Play = Callable[[Pick, Path | None], Outcome]  # (the pick, the checkpoint to play with) -> the game's outcome
Evaluate = Callable[[Path | None, int], dict]  # (checkpoint, round) -> {"proved", "total", "pass_rate", ...}


class LoopStopped(RuntimeError):
    """`play` raised (a bug or a dead model server, not an environment failure). Everything finished
    so far is on disk; rerunning the same command resumes."""


@dataclass
class RLLoop:
    cfg: LoopConfig
    learner: TrainConfig  # the learner's training config (run_dir, init_from, data.path, strategy ...)
    run_dir: Path
    problems: list[str]  # the RL pool's names
    play: Play
    evaluate: Evaluate | None = None
    init_checkpoint: Path | None = None  # what the actors play with before the first publish (the SFT model)
    progress: bool = True
    role: str = "all"  # all | learner | actors (async on a cluster: one process each, sharing run_dir)
    state: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.run_dir = Path(self.run_dir)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.matchmaker = Matchmaker(self.problems, self.cfg.matchmaker, self.cfg.budget, self.run_dir / "games.jsonl")
        self.replay = ReplayBuffer(self.run_dir / "replay.jsonl", self.cfg.replay)
        self.learner = dataclasses.replace(self.learner, stage="rl", run_dir=str(self.run_dir / "learner"),
                                           data=dataclasses.replace(self.learner.data,
                                                                    replay=str(self.run_dir / "replay.jsonl")))
        if self.role not in ("all", "learner", "actors"):
            raise ValueError(f"role must be all, learner or actors, got {self.role!r}")
        if self.role != "all" and self.cfg.schedule != "async":
            raise ValueError("role=learner|actors needs schedule=async")
        self.state = _read_json(self.run_dir / "state.json") or {"round": 0, "learner_step": 0}
        if not self.cfg.budget.reachable:
            log.warning("budget.cap %d is not reachable: %d failures x%.2f from %d top out at %d",
                        self.cfg.budget.cap, self.cfg.budget.window, self.cfg.budget.growth,
                        self.cfg.budget.start, self.cfg.budget.top)

    # -- checkpoints ------------------------------------------------------------------------------

    def checkpoint(self) -> Path | None:
        from train.learner import latest

        found = latest(self.run_dir)
        return found[1] if found is not None else self.init_checkpoint

    # -- one game ---------------------------------------------------------------------------------

    def _finish(self, pick: Pick, outcome: Outcome, round_: int, checkpoint: Path | None) -> Game:
        """Replay first (fsync'd), then the matchmaker: a crash between the two replays the game,
        whose replay line is then recognised by its id."""
        decided = outcome.status in ("proved", "disproved")
        if decided and outcome.record is not None:
            self.replay.add(pick.id, pick.problem, pick.mode, outcome.record)
        if decided and getattr(outcome, "proof", ""):  # the verified script itself, for a person (and TTRL)
            append_jsonl(self.run_dir / "proofs.jsonl", [{"game": pick.id, "problem": pick.problem, "mode": pick.mode,
                                                          "proof": outcome.proof}])
        game = Game(pick.id, pick.problem, pick.mode, outcome.status, pick.budget, int(outcome.expansions),
                    int(outcome.tactics), round(float(outcome.seconds), 2), round_,
                    checkpoint.name if checkpoint is not None else "")
        self.matchmaker.record(game)
        return game

    def _play_all(self, picks: list[Pick], round_: int, desc: str) -> list[Game]:
        from tqdm import tqdm

        todo = [p for p in picks if not self.matchmaker.played(p.id)]
        if len(todo) < len(picks):
            log.info("%s: %d of %d games already played (resuming)", desc, len(picks) - len(todo), len(picks))
        games: list[Game] = []
        bar = tqdm(total=len(picks), initial=len(picks) - len(todo), desc=desc, unit="game",
                   disable=not self.progress)
        with ThreadPoolExecutor(max_workers=self.cfg.workers) as pool:
            futures: dict[Future, tuple[Pick, Path | None]] = {}
            for p in todo:
                ck = self.checkpoint()  # the newest at the time the game starts
                futures[pool.submit(self.play, p, ck)] = (p, ck)
            error: BaseException | None = None
            for fut in _as_done(futures):
                pick, ck = futures[fut]
                try:
                    outcome = fut.result()
                except Exception as e:  # noqa: BLE001 -- not an environment failure: stop, resumable
                    if error is None:
                        error = e
                        for f in futures:
                            f.cancel()
                    continue
                games.append(self._finish(pick, outcome, round_, ck))
                bar.update()
                bar.set_postfix(proved=sum(g.decided for g in games), replay=len(self.replay))
        bar.close()
        if error is not None:
            raise LoopStopped(f"a game raised {type(error).__name__}: {str(error).splitlines()[0][:300] if str(error) else ''}"
                              " (games finished so far are kept; rerun the same command to resume)") from error
        return games

    # -- the rounds schedule ----------------------------------------------------------------------

    def plan(self, round_: int) -> list[Pick]:
        """The round's games, sampled once (seeded by the round) and kept on disk."""
        path = self.run_dir / "rounds" / f"round_{round_:04d}.plan.json"
        saved = _read_json(path)
        if saved is not None:
            return [Pick(**p) for p in saved["picks"]]
        rng = np.random.default_rng([self.cfg.seed, round_])
        picks = self.matchmaker.plan(self.cfg.attempts_per_round, rng, f"r{round_:04d}")
        _write_json(path, {"round": round_, "picks": [dataclasses.asdict(p) for p in picks]})
        return picks

    def learn(self, steps: int) -> dict:
        """`steps` more learner steps (resumable: the target is saved before training), publishing
        every `publish_every`; skipped while the replay is below `min_replay`."""
        from train.learner import learn, publish

        if len(self.replay) < self.cfg.min_replay:
            log.info("learner waits: %d transitions in replay, min_replay=%d", len(self.replay), self.cfg.min_replay)
            return {}
        target = self.state.get("learner_target") or self.state["learner_step"] + steps
        self.state["learner_target"] = target
        self._write_state()
        summary: dict = {}
        while self.state["learner_step"] < target:
            to = min(target, self.state["learner_step"] + self.cfg.publish_every)
            summary = learn(self.learner, to)
            ckpt = Path(self.learner.run_dir) / "checkpoints" / "last.ckpt"
            publish(self.run_dir, ckpt, to, {"replay": self.replay.stats(), "round": self.state["round"]})
            self.state["learner_step"] = to
            self._write_state()
        self.state.pop("learner_target", None)
        self._write_state()
        return summary

    def follow(self, poll_s: float = 1.0) -> None:
        """Learner rank > 0 (role=learner as several Slurm tasks, one per GPU): rank 0 alone runs the loop
        (replay, publishing, held-out evaluation, state.json); this rank joins each of its `learn` calls.
        The chunk's step target follows from rank 0's state.json as `learn` computes it; the ranks meet in
        the trainer's process group. Ends when rank 0 has finished its rounds."""
        from train.learner import learn

        done = self.state.get("learner_step", 0)
        while True:
            state = _read_json(self.run_dir / "state.json") or {}
            if state.get("round", 0) >= self.cfg.rounds:
                return
            target, step = state.get("learner_target"), state.get("learner_step", 0)
            if target and step < target:
                to = min(target, step + self.cfg.publish_every)
                if to > done:
                    learn(self.learner, to)
                    done = to
                    continue
            time.sleep(poll_s)

    def held_out(self, round_: int) -> dict | None:
        if self.evaluate is None or not self.cfg.eval_every:
            return None
        path = self.run_dir / "rounds" / f"heldout_{round_:04d}.json"
        done = _read_json(path)
        if done is not None:
            return done
        ck = self.checkpoint()
        row = {"round": round_, "checkpoint": ck.name if ck is not None else "", **self.evaluate(ck, round_)}
        _write_json(path, row)
        return row

    def run(self) -> dict:
        t_start = time.time()
        if self.cfg.eval_every and self.state["round"] == 0 and self.role != "actors":
            self.held_out(0)  # the start: the SFT checkpoint on the held-out pool
        if self.cfg.schedule == "async":
            self._run_async()
        else:
            while self.state["round"] < self.cfg.rounds:
                r = self.state["round"]
                t0 = time.time()
                solved_before = self._solved_before(r)
                self._play_all(self.plan(r), r, f"round {r + 1}/{self.cfg.rounds}")
                games = self._round_games(r)
                t_collect = time.time() - t0
                learned = self.learn(self.cfg.steps_per_round)
                t_learn = time.time() - t0 - t_collect
                heldout = self.held_out(r + 1) if self.cfg.eval_every and (r + 1) % self.cfg.eval_every == 0 else None
                self._end_round(r, games, solved_before, learned, heldout,
                                {"collect": t_collect, "learn": t_learn, "total": time.time() - t0})
        return self.summary(time.time() - t_start)

    def _round_games(self, round_: int) -> list[Game]:
        """Every game of the round, including those a previous launch played."""
        return [g for g in self.matchmaker.games if g.round == round_]

    def _solved_before(self, round_: int) -> set[str]:
        return {g.problem for g in self.matchmaker.games if g.decided and g.round < round_}

    def _end_round(self, r: int, games: list[Game], solved_before: set[str], learned: dict,
                   heldout: dict | None, seconds: dict) -> None:
        solved_now = {g.problem for g in games if g.decided}
        row = {
            "round": r + 1,
            "attempts": len(games),
            "prove_attempts": sum(g.mode == "prove" for g in games),
            "proved": sum(g.status == "proved" for g in games),
            "disproved": sum(g.status == "disproved" for g in games),
            "failed": sum(g.status == "failed" for g in games),
            "env_error": sum(g.status == "env_error" for g in games),
            "invalid_statement": sum(g.status == "invalid_statement" for g in games),
            "new_solved": len(solved_now - solved_before),
            "solved_total": len(self.matchmaker.solved()),
            "pool": len(self.problems),
            "tactics": sum(g.tactics for g in games),
            "expansions": sum(g.expansions for g in games),
            "replay": self.replay.stats(),
            "learner_step": self.state["learner_step"],
            "learner_loss": learned.get("train_loss_last"),
            "heldout": heldout,
            "seconds": {k: round(v, 1) for k, v in seconds.items()},
        }
        append_jsonl(self.run_dir / "rounds.jsonl", [row])
        self.state["round"] = r + 1
        self._write_state()
        log.info("round %d: %d games, %d proved, %d disproved, %d new solved, replay %d transitions, learner step %d%s",
                 r + 1, row["attempts"], row["proved"], row["disproved"], row["new_solved"],
                 row["replay"]["transitions"], row["learner_step"],
                 f", held-out {heldout['proved']}/{heldout['total']}" if heldout else "")

    # -- the async schedule -----------------------------------------------------------------------

    def _run_async(self) -> None:
        """Actors play (in a background thread, or as their own process with role=actors) planning
        small batches as they go, while the learner trains; a round ends every `steps_per_round`
        learner steps. A separate actors process stops when the learner's state.json says done."""
        stop = threading.Event()
        errors: list[BaseException] = []

        def actors() -> None:
            prefix, batch = f"a{time.time_ns():x}", 0  # unique per launch: games in flight at a kill are replayed fresh
            while not stop.is_set():
                if self.role == "actors":
                    self.state = _read_json(self.run_dir / "state.json") or self.state
                    if self.state.get("round", 0) >= self.cfg.rounds:
                        return
                rng = np.random.default_rng([self.cfg.seed, batch, time.time_ns() % 2**32])
                picks = self.matchmaker.plan(self.cfg.workers, rng, f"{prefix}-{batch:05d}")
                if not picks:
                    return
                r = self.state.get("round", 0)
                try:
                    self._play_all(picks, r, f"actors (round {r + 1})")
                except LoopStopped as e:
                    errors.append(e)
                    return
                batch += 1

        if self.role == "actors":
            actors()
            if errors:
                raise errors[0]
            return
        thread = threading.Thread(target=actors, name="rl-actors", daemon=True) if self.role == "all" else None
        if thread is not None:
            thread.start()
        try:
            while self.state["round"] < self.cfg.rounds:
                if errors:
                    raise errors[0]
                r = self.state["round"]
                t0 = time.time()
                solved_before = self._solved_before(r)
                learned = self._learn_when_ready(errors)
                heldout = self.held_out(r + 1) if self.cfg.eval_every and (r + 1) % self.cfg.eval_every == 0 else None
                if self.role == "learner":  # the actors' games are in their log, not in this process
                    self.matchmaker = Matchmaker(self.problems, self.cfg.matchmaker, self.cfg.budget,
                                                 self.run_dir / "games.jsonl")
                self._end_round(r, self._round_games(r), solved_before, learned, heldout, {"total": time.time() - t0})
        finally:
            stop.set()
            if thread is not None:
                thread.join()
        if errors:
            raise errors[0]

    def _learn_when_ready(self, errors: list) -> dict:
        """Wait for `min_replay` transitions and for the replay ratio to allow the round's steps."""
        need = self.state["learner_step"] + self.cfg.steps_per_round
        while not errors:
            if self.role == "learner":  # another process appends: read the file again
                self.replay = ReplayBuffer(self.run_dir / "replay.jsonl", self.cfg.replay)
            samples = need * self.learner.data.batch_size
            collected = self.replay.collected
            ratio_ok = not self.cfg.max_replay_ratio or samples <= self.cfg.max_replay_ratio * collected
            if len(self.replay) >= self.cfg.min_replay and ratio_ok:
                return self.learn(self.cfg.steps_per_round)
            time.sleep(1.0)
        return {}

    # -- the end ----------------------------------------------------------------------------------

    def rows(self) -> list[dict]:
        """One row per finished round (a row written twice by a killed launch counts once: the last)."""
        by_round = {r["round"]: r for r in read_jsonl(self.run_dir / "rounds.jsonl") if "round" in r}
        return [by_round[k] for k in sorted(by_round)]

    def summary(self, seconds: float) -> dict:
        from train.rl_report import write_report

        return write_report(self.run_dir, self, seconds)

    def _write_state(self) -> None:
        if self.role == "actors":
            return  # the learner owns state.json; actors own games.jsonl and replay.jsonl
        _write_json(self.run_dir / "state.json", self.state)


def _as_done(futures):
    """Futures as they finish (cancelled ones skipped)."""
    pending = set(futures)
    while pending:
        done, pending = wait(pending, return_when=FIRST_COMPLETED)
        for f in done:
            if not f.cancelled():
                yield f


def _read_json(path: Path) -> dict | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _write_json(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")  # two processes may write at once
    with tmp.open("w", encoding="utf-8") as f:
        json.dump(data, f, indent=1)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
