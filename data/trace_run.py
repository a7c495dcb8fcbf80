"""Trace many files in parallel, resumably, into JSONL shards plus an error log and a summary.

Layout of OUT:
  shards/<file path, / as __>.jsonl  one TracedTheorem per line, written atomically (tmp + rename)
  files.jsonl                       the run log: one line per finished file (stats and errors),
                                    fsync'd after its shard exists; a restart skips these files
  errors.jsonl                      every error of every file (file, line, sentence, error, cause)
  summary.json                      totals over all files, rewritten at the end of every run

Each worker process traces one file at a time with its own coqidetop and writes the shard itself.
"""

from __future__ import annotations

import ctypes
import dataclasses
import hashlib
import json
import logging
import multiprocessing
import os
import signal
import time
from collections import Counter
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from pathlib import Path

from tqdm import tqdm

from data.records import traced_theorem_to_json
from data.trace import FileStats, FileTrace, trace_file
from data.trace_sources import SourceFile, TraceConfig, shard_name

log = logging.getLogger(__name__)


def config_key(config: TraceConfig) -> str:
    """What makes two runs' shards comparable: everything but the number of workers."""
    blob = dataclasses.asdict(dataclasses.replace(config, workers=1))
    return hashlib.sha256(json.dumps(blob, sort_keys=True, default=str).encode()).hexdigest()[:16]


def atomic_write(path: Path, text: str) -> None:
    """Write the whole file or nothing: a kill leaves the old file (or none), never half of the new one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    with tmp.open("w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def write_shard(out: Path, trace: FileTrace) -> Path:
    path = out / "shards" / shard_name(trace.file_path)
    atomic_write(path, "".join(json.dumps(traced_theorem_to_json(t)) + "\n" for t in trace.theorems))
    return path


def _worker_init() -> None:
    """Die with the parent (a killed run must not leave workers, nor through them coqidetops)."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle


def _trace_one(source: SourceFile, config: TraceConfig, out: Path) -> dict:
    """In a worker: trace, write the shard, return the file's line of the run log."""
    trace = trace_file(source.path, config, source)
    write_shard(out, trace)
    return {
        "file_path": trace.file_path,
        "shard": shard_name(trace.file_path),
        "stats": dataclasses.asdict(trace.stats),
        "errors": [dataclasses.asdict(e) for e in trace.errors],
    }


def load_run_log(out: Path, key: str) -> dict[str, dict]:
    """Finished files of an earlier run with the same config (and their shard still there)."""
    path = out / "files.jsonl"
    if not path.exists():
        return {}
    done: dict[str, dict] = {}
    with path.open("rb") as f:  # bytes: a line that is not UTF-8 JSON is one more line cut by a kill
        try:
            head = json.loads(f.readline())
        except (json.JSONDecodeError, UnicodeDecodeError):
            head = {}
        if not isinstance(head, dict) or head.get("key") != key:
            log.warning("%s comes from another tracing config; tracing everything again", path)
            return {}
        for line in f:
            try:
                row = json.loads(line)
                if (out / "shards" / row["shard"]).exists():
                    done[row["file_path"]] = row
            except (json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError):
                continue  # a line cut by a kill
    return done


def trace_files(
    sources: list[SourceFile], config: TraceConfig, out: Path, progress: bool = True
) -> dict:
    """Trace `sources` into `out` (resuming an earlier run there); returns the summary."""
    t0 = time.perf_counter()
    (out / "shards").mkdir(parents=True, exist_ok=True)
    for stale in (out / "shards").glob(".*.tmp"):  # a shard whose writer was killed mid-write
        stale.unlink()
    key = config_key(config)
    done = load_run_log(out, key)
    todo = [s for s in sources if s.file_path not in done]
    if done:
        log.info("resuming: %d of %d files already traced", len(sources) - len(todo), len(sources))
    # Biggest files first, so the slowest ones do not start last.
    todo.sort(key=lambda s: -s.path.stat().st_size if s.path.exists() else 0)
    rows = [done[s.file_path] for s in sources if s.file_path in done]
    fresh: list[dict] = []
    log_path = out / "files.jsonl"
    mode = "a" if done else "w"
    with log_path.open(mode, encoding="utf-8") as run_log:
        if mode == "w":
            run_log.write(json.dumps({"key": key}) + "\n")
        bar = tqdm(total=len(sources), initial=len(rows), disable=not progress, unit="file", desc="trace")
        for row in _run_pool(todo, config, out):
            if row.get("shard"):
                run_log.write(json.dumps(row) + "\n")
                run_log.flush()
                os.fsync(run_log.fileno())
            fresh.append(row)
            bar.update()
            steps = sum(r["stats"]["steps"] for r in rows + fresh)
            bar.set_postfix(file=Path(row["file_path"]).name, steps=steps)
        bar.close()
    summary = summarize(rows + fresh, fresh, time.perf_counter() - t0, config.workers)
    errors = sorted((e for r in rows + fresh for e in r["errors"]), key=lambda e: (e["file"], e["line"]))
    atomic_write(out / "errors.jsonl", "".join(json.dumps(e) + "\n" for e in errors))
    atomic_write(out / "summary.json", json.dumps(summary, indent=1) + "\n")
    return summary


def _run_pool(todo: list[SourceFile], config: TraceConfig, out: Path):
    """Yield each file's run-log row as it finishes; a crashed tracer costs its file, not the run."""
    if not todo:
        return
    ctx = multiprocessing.get_context("spawn")  # workers are our children: they die with us
    pool = ProcessPoolExecutor(min(config.workers, len(todo)), mp_context=ctx, initializer=_worker_init)
    finished = False
    try:
        futures: dict[Future, SourceFile] = {pool.submit(_trace_one, s, config, out): s for s in todo}
        for fut in as_completed(futures):
            source = futures[fut]
            try:
                row = fut.result()
            except Exception as e:  # a bug, or a worker killed (BrokenProcessPool): costs this file
                log.error("%s: tracer crashed: %r", source.file_path, e)
                row = _crashed_row(source, e)
            yield row
        finished = True
    finally:
        if not finished:  # interrupted: do not wait for the files in flight
            for proc in list(getattr(pool, "_processes", {}).values()):
                proc.kill()
        pool.shutdown(wait=finished, cancel_futures=True)


def _crashed_row(source: SourceFile, e: BaseException) -> dict:
    error = {"file": source.file_path, "line": 0, "sentence": "", "error": repr(e)[:2000],
             "cause": "tracer_crash", "theorem": ""}
    return {"file_path": source.file_path, "shard": None, "stats": dataclasses.asdict(FileStats(lost=True)),
            "errors": [error]}


def summarize(rows: list[dict], fresh: list[dict], wall_s: float, workers: int) -> dict:
    """Totals over all files; speed over the files traced by this run only."""
    total: Counter = Counter()
    for r in rows:
        total.update({k: v for k, v in r["stats"].items() if isinstance(v, (int, float))})
    causes = Counter(e["cause"] for r in rows for e in r["errors"])
    fresh_steps = sum(r["stats"]["steps"] for r in fresh)
    return {
        "files": len(rows),
        "files_traced_this_run": len(fresh),
        "files_lost": sum(1 for r in rows if r["stats"]["lost"]),
        "theorems": total["complete"] + total["incomplete"],
        "complete_proofs": total["complete"],
        "incomplete_proofs": total["incomplete"],
        "admitted_or_aborted": total["admitted"],
        "qed_proofs": total["qed"],
        "qed_complete": total["qed_complete"],
        "qed_complete_fraction": round(total["qed_complete"] / total["qed"], 4) if total["qed"] else None,
        "tactic_steps": total["steps"],
        "sentences": total["sentences"],
        "failures_by_cause": dict(sorted(causes.items())),
        "coq_restarts": total["restarts"],
        "workers": workers,
        "wall_time_s": round(wall_s, 1),
        "steps_per_second": round(fresh_steps / wall_s, 1) if wall_s > 0 else None,
        "file_seconds_sum": round(sum(r["stats"]["seconds"] for r in fresh), 1),
    }


def format_summary(s: dict) -> str:
    pct = f"{100 * s['qed_complete_fraction']:.1f}%" if s["qed_complete_fraction"] is not None else "n/a"
    causes = ", ".join(f"{k} {v}" for k, v in s["failures_by_cause"].items()) or "none"
    return "\n".join([
        f"files           {s['files']} ({s['files_traced_this_run']} traced by this run, {s['files_lost']} lost)",
        (f"theorems        {s['theorems']} ({s['complete_proofs']} complete, {s['incomplete_proofs']} incomplete;"
         f" {s['admitted_or_aborted']} admitted/aborted dropped)"),
        f"Qed proofs      {s['qed_complete']} / {s['qed_proofs']} traced completely ({pct})",
        f"tactic steps    {s['tactic_steps']}",
        f"failures        {causes}",
        f"speed           {s['steps_per_second']} steps/s, wall time {s['wall_time_s']:.0f} s, {s['workers']} workers",
    ])
