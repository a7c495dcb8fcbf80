"""`proofzero geometry synth`'s run: chunks of random problems (in worker processes, resumable), then
the corpus: deduplicated, decontaminated against the evaluation problems, with its yield statistics.

    OUT/shards/chunk-NNNNN.json   one per chunk of problems (atomic; a rerun skips finished ones)
    OUT/theorems.jsonl            every kept theorem (statement, auxiliary clauses, goal, proof length)
    OUT/pairs.jsonl               (problem text, next auxiliary clause) training pairs
    OUT/dataset/random/           the pairs as a state -> tactic DatasetDict (train/val/test): what
                                  `proofzero train sft` reads (state = problem, tactic = construction)
    OUT/summary.json              counts, yield per CPU-hour, the share needing auxiliary points
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

from data.geometry_synth import SynthConfig, Theorem, read_shard, run_chunk, shard_path
from data.trace_run import atomic_write

log = logging.getLogger(__name__)

CONFIG = "config.json"


def synthesize(cfg: SynthConfig, out: str | Path, progress: Callable | None = None) -> dict:
    """Run (or finish) the chunks, then build the corpus; returns the summary."""
    out = Path(out)
    _check_config(cfg, out)
    chunks = range((cfg.n + cfg.chunk - 1) // cfg.chunk)
    todo = [c for c in chunks if read_shard(shard_path(out, c)) is None]
    if len(todo) < len(chunks):
        log.info("resuming: %d of %d chunks already done", len(chunks) - len(todo), len(chunks))
    bar = progress(total=len(chunks), initial=len(chunks) - len(todo), unit="chunk") if progress else None
    jobs = [(c, cfg, str(out)) for c in todo]
    if cfg.workers == 1:
        for job in jobs:
            run_chunk(job)
            bar and bar.update(1)
    else:
        import multiprocessing as mp

        with mp.get_context("spawn").Pool(cfg.workers) as pool:
            for _ in pool.imap_unordered(run_chunk, jobs):
                bar and bar.update(1)
    if bar:
        bar.close()
    return build_corpus(cfg, out)


def _check_config(cfg: SynthConfig, out: Path) -> None:
    """A rerun must be the same run (its shards are reused); `n` may grow, nothing else may change."""
    path = out / CONFIG
    mine = {k: v for k, v in asdict(cfg).items() if k not in ("n", "workers")}
    if path.is_file():
        try:
            theirs = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            theirs = None
        if theirs is not None and {k: v for k, v in theirs.items() if k not in ("n", "workers")} != mine:
            raise ValueError(f"{out} holds a run with another config ({path}); use another --out or the same settings")
    out.mkdir(parents=True, exist_ok=True)
    atomic_write(path, json.dumps(asdict(cfg), indent=1))


def eval_keys(paths: list[str]) -> set[str]:
    """The alphabetized statements of evaluation problems (constructions), which synthetic data must not hold."""
    from formal.geometry.syntax import CONSTRUCTIONS, GeometryProblem, alphabetize, read_problems

    keys = set()
    for path in paths:
        for p in read_problems(path):
            if isinstance(p, GeometryProblem) and p.kind == CONSTRUCTIONS:
                named, _ = alphabetize(p)
                keys.add(_key(GeometryProblem("", CONSTRUCTIONS, (*named.setup, *named.aux), (), named.goals, "").text))
    return keys


def _key(statement: str) -> str:
    return " ".join(statement.split())


def build_corpus(cfg: SynthConfig, out: Path) -> dict:
    totals: dict[str, float] = {}
    kept: dict[str, Theorem] = {}
    duplicates = 0
    chunks = range((cfg.n + cfg.chunk - 1) // cfg.chunk)
    for c in chunks:
        shard = read_shard(shard_path(out, c))
        if shard is None:
            raise ValueError(f"chunk {c} is missing (the run was interrupted): run the same command again")
        stats, theorems = shard
        for k, v in stats.items():
            totals[k] = totals.get(k, 0) + v
        for t in theorems:
            key = _key(t.statement) + " | " + "; ".join(t.aux)
            if key in kept:
                duplicates += 1
            else:
                kept[key] = t
    banned = eval_keys(cfg.decontaminate)
    theorems = [t for t in kept.values() if _key(t.statement) not in banned]
    contaminated = len(kept) - len(theorems)
    with_aux = [t for t in theorems if t.aux]
    needed = [t for t in with_aux if t.needed]
    pairs = [(s, a, t) for t in (needed if cfg.pairs_from == "needed" else with_aux) for s, a in t.pairs()]
    atomic_write(out / "theorems.jsonl", "".join(json.dumps(asdict(t)) + "\n" for t in theorems))
    atomic_write(out / "pairs.jsonl", "".join(json.dumps({"state": s, "tactic": a, "problem": t.problem}) + "\n"
                                              for s, a, t in pairs))
    splits = write_dataset(pairs, out / "dataset", cfg)
    cpu_hours = totals.get("cpu_seconds", 0) / 3600
    summary = {
        "problems": int(totals.get("problems", 0)),
        "problems_failed": int(totals.get("build_failed", 0) + totals.get("engine_failed", 0)),
        "clauses_dropped": int(totals.get("clauses_dropped", 0)),
        "facts_derived": int(totals.get("facts", 0)),
        "theorems_found": int(totals.get("theorems", 0)),
        "duplicates": duplicates,
        "decontaminated": contaminated,
        "theorems": len(theorems),
        "theorems_with_aux": len(with_aux),
        "aux_share": round(len(with_aux) / len(theorems), 4) if theorems else 0.0,
        "theorems_needing_aux": len(needed),  # DD+AR alone saturates on the statement
        "needed_share": round(len(needed) / len(theorems), 5) if theorems else 0.0,
        "pairs": len(pairs),
        "pairs_from": cfg.pairs_from,
        "splits": splits,
        "mean_proof_length": round(sum(t.proof_length for t in theorems) / len(theorems), 2) if theorems else 0.0,
        "cpu_seconds": round(totals.get("cpu_seconds", 0), 1),
        "worker_wall_seconds": round(totals.get("wall_seconds", 0), 1),
        "theorems_per_cpu_hour": round(len(theorems) / cpu_hours) if cpu_hours else 0,
        "aux_theorems_per_cpu_hour": round(len(with_aux) / cpu_hours) if cpu_hours else 0,
        "decontaminated_against": cfg.decontaminate,
    }
    atomic_write(out / "summary.json", json.dumps(summary, indent=1))
    return summary


def write_dataset(pairs: list[tuple[str, str, Theorem]], out: Path, cfg: SynthConfig) -> dict[str, int]:
    """The pairs as `proofzero dataset`'s layout (OUT/random/{train,val,test}), split by random problem
    (every pair of one problem in one split), so `proofzero train sft data.scheme=random` reads it."""
    import shutil

    import datasets
    from datasets import Dataset, DatasetDict, Features, Value

    datasets.disable_progress_bars()

    features = Features({"state": Value("string"), "tactic": Value("string"), "value_target": Value("int32"),
                         "full_name": Value("string")})
    rows: dict[str, dict[str, list]] = {s: {k: [] for k in features} for s in ("train", "val", "test")}
    for state, tactic, t in pairs:
        split = _split_of(t.problem, cfg)
        for k, v in (("state", state), ("tactic", tactic), ("value_target", None), ("full_name", f"synthetic/{t.problem}")):
            rows[split][k].append(v)
    # An empty split is left out (an empty Arrow table does not load back); SFT reads train (+ val if any).
    dd = DatasetDict({s: Dataset.from_dict(r, features=features) for s, r in rows.items() if r["state"]})
    tmp = out.with_name(f".{out.name}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    dd.save_to_disk(str(tmp / "random"))
    shutil.rmtree(out, ignore_errors=True)
    tmp.rename(out)
    return {s: len(r["state"]) for s, r in rows.items()}


def _split_of(problem: int, cfg: SynthConfig) -> str:
    h = int.from_bytes(hashlib.sha256(f"{cfg.seed}/{problem}".encode()).digest()[:8], "big") / 2**64
    if h < cfg.val_fraction:
        return "val"
    if h < 2 * cfg.val_fraction:
        return "test"
    return "train"

