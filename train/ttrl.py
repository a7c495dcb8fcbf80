"""Test-time RL (ALGORITHMS.md, "TTRL"): one hard target, a specialist copy of the network, variants.

Each TTRL round: generate variants from the round's seed (the target first; then the most interesting
variant so far: kept, undecided, closest to the target), plus the open goals the last target attempt
left (lemmas); filter them against the pool; then one round of the RL loop (`train/rl.py`) on target +
kept variants, the specialist learning from every verified proof; every `target_every` rounds the
target is attempted at the eval budget. It stops when a checker-verified proof of the target exists
(from an attempt or from an RL game on it), when it is disproved, or when the budget is spent.

The loop knows no proof assistant: variant generation, filtering and the games are handed to it.
Everything lives under `run_dir` (the RL loop's files, plus `ttrl/gen_NNNN.json`, one per round's
variants with their filter verdicts, written before the round's games); a rerun resumes.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from data.filters import FilterReport
from data.variants import Variant, similarity
from formal.goal import Goal, Hypothesis
from formal.theorem import Theorem
from train.config import TrainConfig
from train.matchmaker import Pick, read_jsonl
from train.rl import LoopConfig, Play, RLLoop, _read_json, _write_json

log = logging.getLogger(__name__)

Generate = Callable[[Theorem, int, list[Goal]], list[Variant]]  # (seed, round, open goals) -> variants
Filter = Callable[[list[Theorem], list[Theorem]], FilterReport]  # (candidates, pool) -> verdicts


@dataclass(frozen=True)
class TargetConfig:
    budget: int = 16  # the eval budget: expansions of one target attempt
    attempts: int = 1  # attempts per check (pass@k)

    def __post_init__(self) -> None:
        if self.budget < 1 or self.attempts < 1:
            raise ValueError("target.budget and target.attempts must be >= 1")


@dataclass(frozen=True)
class TTRLSettings:
    target_every: int = 1  # attempt the target every N rounds (and once before the first)
    max_tactics: int = 0  # the TTRL budget in tactic executions (games, filters, target attempts), checked
    # between rounds (a round may overshoot it); 0: rounds only
    max_pool: int = 400  # variants kept in the pool at most (the newest beyond it are not added)
    target: TargetConfig = field(default_factory=TargetConfig)

    def __post_init__(self) -> None:
        if self.target_every < 1 or self.max_tactics < 0 or self.max_pool < 1:
            raise ValueError("target_every and max_pool must be >= 1, max_tactics >= 0")


def goal_to_json(goal: Goal) -> dict:
    return {"hypotheses": [[list(h.names), h.type, h.body] for h in goal.hypotheses], "conclusion": goal.conclusion}


def goal_from_json(d: dict) -> Goal:
    return Goal(tuple(Hypothesis(tuple(n), t, b) for n, t, b in d["hypotheses"]), d["conclusion"])


@dataclass
class TTRLLoop:
    loop: LoopConfig  # the RL loop's settings (rounds = the most TTRL rounds)
    ttrl: TTRLSettings
    learner: TrainConfig
    run_dir: Path
    target: Theorem
    generate: Generate
    filter: Filter
    play: Play
    init_checkpoint: Path | None = None
    progress: bool = True
    variants: dict[str, Variant] = field(default_factory=dict)  # kept ones, by name
    by_name: dict[str, Theorem] = field(default_factory=dict)  # what the games look up (target + kept)

    def __post_init__(self) -> None:
        self.run_dir = Path(self.run_dir)
        self.by_name[self.target.name] = self.target
        for r in range(self.loop.rounds):  # what earlier launches kept
            gen = _read_json(self._gen_path(r))
            if gen is not None:
                self._admit(gen)

    # -- files ------------------------------------------------------------------------------------

    def _gen_path(self, round_: int) -> Path:
        return self.run_dir / "ttrl" / f"gen_{round_:04d}.json"

    def generations(self) -> list[dict]:
        return [g for r in range(self.loop.rounds) if (g := _read_json(self._gen_path(r))) is not None]

    def attempts(self) -> list[dict]:
        """Every finished target attempt row (rounds/heldout_N.json), in round order."""
        out = []
        for path in sorted((self.run_dir / "rounds").glob("heldout_*.json")):
            row = _read_json(path)
            if row is not None:
                out.append(row)
        return out

    def _admit(self, gen: dict) -> None:
        for row in gen["variants"]:
            if row["reason"] == "kept" and len(self.variants) < self.ttrl.max_pool and row["name"] not in self.by_name:
                t = Theorem(row["name"], row["statement"], header=self.target.header, binders=row["binders"],
                            source=self.target.source, backend=self.target.backend)
                self.variants[t.name] = Variant(t, row["parent"], row["strategy"], row["round"], row["note"])
                self.by_name[t.name] = t

    # -- the target -------------------------------------------------------------------------------

    def attempt_target(self, checkpoint: Path | None, round_: int) -> dict:
        """The target at the eval budget (`target.attempts` tries): the RL loop's "held-out" evaluation."""
        cfg = self.ttrl.target
        row = {"proved": 0, "total": 1, "tactics": 0, "expansions": 0, "seconds": 0.0, "budget": cfg.budget,
               "proof": "", "open_goals": [], "status": ""}
        for k in range(cfg.attempts):
            out = self.play(Pick(f"target-{round_:04d}-{k}", self.target.name, "prove", cfg.budget), checkpoint)
            row["tactics"] += int(out.tactics)
            row["expansions"] += int(out.expansions)
            row["seconds"] = round(row["seconds"] + float(out.seconds), 2)
            row["status"] = out.status
            if out.status == "proved":
                row["proved"], row["proof"] = 1, getattr(out, "proof", "")
                break
            row["open_goals"] += [goal_to_json(g) for g in getattr(out, "open_goals", ())]
        row["pass_rate"] = float(row["proved"])
        return row

    def solved(self) -> dict | None:
        """The verified proof of the target, if any: {"how", "round", "proof"}; a disproof counts too."""
        for a in self.attempts():
            if a.get("proved") and a.get("proof"):
                return {"how": "target attempt", "round": a["round"], "mode": "prove", "proof": a["proof"]}
        rounds = {g["id"]: g.get("round", 0) for g in read_jsonl(self.run_dir / "games.jsonl") if "id" in g}
        for p in read_jsonl(self.run_dir / "proofs.jsonl"):
            if p.get("problem") == self.target.name and p.get("game") in rounds:
                return {"how": f"RL game {p['game']}", "round": rounds[p["game"]] + 1, "mode": p["mode"], "proof": p["proof"]}
        return None

    # -- variants ---------------------------------------------------------------------------------

    def decided(self) -> set[str]:
        return {g["problem"] for g in read_jsonl(self.run_dir / "games.jsonl") if g.get("status") in ("proved", "disproved")}

    def seed(self, round_: int) -> Theorem:
        """The most interesting variant: kept, not yet proved nor disproved, not a seed before, closest
        to the target (the pseudocode's choice); the target when there is none."""
        if round_ == 0:
            return self.target
        used = {g.get("seed") for g in self.generations()}
        decided = self.decided()
        options = [v.theorem for v in self.variants.values() if v.theorem.name not in decided | used
                   and v.strategy not in ("negation",)]
        if not options:
            return self.target
        return max(options, key=lambda t: (similarity(t, self.target), t.name))

    def generation(self, round_: int) -> dict:
        """The round's variants and their filter verdicts (made once; a rerun reads them back)."""
        saved = _read_json(self._gen_path(round_))
        if saved is not None:
            return saved
        t0 = time.time()
        seed = self.seed(round_)
        attempts = self.attempts()
        goals = [goal_from_json(g) for g in attempts[-1].get("open_goals", [])] if attempts else []
        judged = {v["name"] for g in self.generations() for v in g["variants"]}  # earlier rounds' verdicts stand
        made = [v for v in self.generate(seed, round_, goals) if v.theorem.name not in judged and v.theorem.name not in self.by_name]
        unique: dict[str, Variant] = {}
        for v in made:
            unique.setdefault(v.theorem.name, v)
        made = list(unique.values())
        report = self.filter([v.theorem for v in made], list(self.by_name.values()))
        verdicts = {r.name: r for r in report.results}
        from train.replay import ReplayBuffer

        replay = ReplayBuffer(self.run_dir / "replay.jsonl", self.loop.replay)
        rows = []
        for v in made:
            r = verdicts[v.theorem.name]
            if r.disproof is not None:  # disproof data: a verified proof of the negation
                replay.add(f"filter-{v.theorem.name}", v.theorem.name, "disprove", r.disproof)
            rows.append({**v.describe(), "reason": r.reason, "detail": r.detail, "tactics": r.tactics})
        gen = {"round": round_, "seed": seed.name, "generated": len(made), "counts": report.counts(),
               "tactics": report.tactics, "lemma_goals": len(goals), "variants": rows,
               "seconds": round(time.time() - t0, 1)}
        _write_json(self._gen_path(round_), gen)
        log.info("TTRL round %d: seed %s, %d variants, %s", round_ + 1, seed.name, len(made), report.counts())
        return gen

    # -- the loop ---------------------------------------------------------------------------------

    def rl_loop(self, rounds: int) -> RLLoop:
        cfg = dataclasses.replace(self.loop, rounds=rounds, eval_every=self.ttrl.target_every)
        return RLLoop(cfg, self.learner, self.run_dir, sorted(self.by_name), self.play, self.attempt_target,
                      init_checkpoint=self.init_checkpoint, progress=self.progress)

    def tactics_spent(self) -> int:
        games = sum(int(g.get("tactics", 0)) for g in _dedup(read_jsonl(self.run_dir / "games.jsonl")))
        return games + sum(g["tactics"] for g in self.generations()) + sum(a.get("tactics", 0) for a in self.attempts())

    def run(self) -> dict:
        t0 = time.time()
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.rl_loop(1).held_out(0)  # the start: does the network prove it already?
        stop = self._stop_reason()
        while stop is None:
            state = _read_json(self.run_dir / "state.json") or {"round": 0}
            r = state["round"]
            if r >= self.loop.rounds:
                stop = "rounds spent"
                break
            self._admit(self.generation(r))
            self.rl_loop(r + 1).run()
            stop = self._stop_reason()
        return self.summary(stop, time.time() - t0)

    def control(self, found: dict | None) -> dict | None:
        """Was it the learning? A target proved by the specialist's attempt in round r > 0: the same attempt
        (same game ids, hence the same sampling seeds, same budget) replayed with the start network. "failed"
        there means the proof came from what the specialist learned, not from that round's luck. A diagnostic,
        not TTRL compute: its tactics are reported apart (ttrl/control.json, made once)."""
        if found is None or found["how"] != "target attempt" or not found["round"]:
            return None
        path = self.run_dir / "ttrl" / "control.json"
        done = _read_json(path)
        if done is None:
            row = self.attempt_target(self.init_checkpoint, found["round"])
            done = {"round": found["round"], "network": str(self.init_checkpoint or "the start network"),
                    "status": row["status"], "tactics": row["tactics"], "expansions": row["expansions"]}
            _write_json(path, done)
        return done

    def _stop_reason(self) -> str | None:
        found = self.solved()
        if found is not None:
            return "proved" if found["mode"] == "prove" else "disproved"
        if self.ttrl.max_tactics and self.tactics_spent() >= self.ttrl.max_tactics:
            return "tactic budget spent"
        return None

    def summary(self, stop: str, seconds: float) -> dict:
        from train.ttrl_report import write_report

        return write_report(self, stop, seconds)


def _dedup(games: list[dict]) -> list[dict]:
    by_id = {g["id"]: g for g in games if "id" in g}
    return list(by_id.values())
