"""Run a prover over every theorem of a suite, in parallel, streaming rows to disk.

Rows go to `<out>.partial.jsonl` as they finish (one fsync'd line each), so a killed run resumes
where it stopped; the final `<out>` is written atomically at the end. Every theorem of the suite
gets exactly one row: statements that do not load or elaborate are `invalid_statement`, never
dropped.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from formal.suite import Suite
from formal.theorem import Theorem
from search.attempt import Attempt, Status

log = logging.getLogger(__name__)

ProveOne = Callable[[Theorem], Attempt]


class RunStopped(RuntimeError):
    """`prove_one` raised: a bug, a broken checkpoint or a dead model server, not an environment
    failure (those come back as rows). The rows finished so far are kept in the partial file, so
    rerunning the same command resumes once the cause is fixed."""

    def __init__(self, theorem: str, error: BaseException, partial: Path, done: int) -> None:
        self.theorem, self.error, self.partial, self.done = theorem, error, partial, done
        first = (str(error).strip().splitlines() or [""])[0][:300]
        super().__init__(f"stopped at {theorem}: {type(error).__name__}: {first} "
                         f"({done} rows kept in {partial}; rerun the same command to resume)")


@dataclass
class RunResult:
    suite: Suite
    rows: list[Attempt]
    config: dict
    budget: str
    seconds: float

    def counts(self, names: set[str] | None = None) -> Counter:
        return Counter(r.status.value for r in self.rows if names is None or r.name in names)

    def to_json(self) -> dict:
        return {
            "suite": self.suite.name,
            "suite_sha256": self.suite.sha256(),
            "format": self.suite.format,
            "budget": self.budget,
            "config": self.config,
            "seconds": round(self.seconds, 1),
            "summary": summary_numbers(self),
            "environment": env_totals(self.rows),
            "results": [r.to_json() for r in sorted(self.rows, key=lambda r: r.name)],
        }


def summary_numbers(run: RunResult) -> dict:
    """Pass rates over every statement, over those that elaborate, and over the audited subset."""
    out = {}
    subsets = {"all": None, "audited": set(run.suite.audited)}
    for label, names in subsets.items():
        c = run.counts(names)
        total = sum(c.values())
        valid = total - c.get(Status.INVALID_STATEMENT.value, 0)
        proved = c.get(Status.PROVED.value, 0) + c.get(Status.DISPROVED.value, 0)
        out[label] = {
            "total": total,
            **{s.value: c.get(s.value, 0) for s in Status},
            "pass_rate": proved / total if total else None,
            "pass_rate_valid": proved / valid if valid else None,
        }
    return out


def env_totals(rows: list[Attempt]) -> dict[str, float]:
    """The sessions' counters summed over a run: how much the environment cost and misbehaved."""
    total: Counter = Counter()
    for r in rows:
        total.update({k: v for k, v in r.env.items() if isinstance(v, (int, float))})
    return dict(total)


def _config_key(config: dict, suite: Suite) -> str:
    blob = json.dumps({"config": config, "suite": suite.sha256()}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def _load_partial(path: Path, key: str) -> dict[str, Attempt]:
    """Rows of an interrupted run with the same config and suite; anything else starts afresh."""
    if not path.exists():
        return {}
    rows: dict[str, Attempt] = {}
    with path.open("rb") as f:  # bytes: a line that is not UTF-8 JSON is one more line cut by a crash
        try:
            head = json.loads(f.readline())
        except (json.JSONDecodeError, UnicodeDecodeError):
            head = {}
        if not isinstance(head, dict) or head.get("key") != key:
            log.warning("%s is from another config or suite; starting afresh", path)
            return {}
        for line in f:
            try:
                a = Attempt.from_json(json.loads(line))
            except (json.JSONDecodeError, UnicodeDecodeError, KeyError, ValueError, TypeError, AttributeError):
                continue  # a line cut by the crash
            rows[a.name] = a
    return rows


def atomic_write_json(path: Path, data: dict) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    with tmp.open("w") as f:
        json.dump(data, f, indent=1)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def run_suite(
    suite: Suite,
    prove_one: ProveOne,
    out: Path,
    config: dict,
    budget: str,
    workers: int = 2,
    progress: bool = True,
) -> RunResult:
    t0 = time.perf_counter()
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(out.name + ".partial.jsonl")
    key = _config_key(config, suite)
    done = _load_partial(partial, key)
    if done:
        log.info("resuming: %d of %d theorems already done", len(done), len(suite))
    rows = list(done.values())
    for name, reason in sorted(suite.invalid.items()):
        if name not in done:
            rows.append(Attempt(name, Status.INVALID_STATEMENT, message=reason))
    todo = [t for t in suite.theorems if t.name not in done and t.name not in suite.invalid]

    lock = threading.Lock()
    mode = "a" if done else "w"
    with partial.open(mode) as sink:
        if mode == "w":
            sink.write(json.dumps({"key": key}) + "\n")

        def record(a: Attempt) -> None:
            with lock:
                sink.write(json.dumps(a.to_json()) + "\n")
                sink.flush()
                os.fsync(sink.fileno())

        for a in rows:
            if a.name not in done:
                record(a)
        bar = tqdm(total=len(suite), initial=len(rows), disable=not progress, unit="thm", desc=suite.name)
        counts = Counter(r.status.value for r in rows)
        failure: tuple[str, BaseException] | None = None
        with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
            futures = {pool.submit(prove_one, t): t for t in todo}
            for fut in as_completed(futures):
                thm = futures[fut]
                if fut.cancelled():
                    continue
                try:
                    a = fut.result()
                except Exception as e:  # noqa: BLE001 -- not an environment failure: stop the run
                    log.error("%s: the prover raised %s; stopping the run", thm.name, type(e).__name__,
                              exc_info=log.isEnabledFor(logging.DEBUG))
                    if failure is None:
                        failure = (thm.name, e)
                        for other in futures:  # theorems not started yet are not started
                            other.cancel()
                    continue
                record(a)
                rows.append(a)
                counts[a.status.value] += 1
                bar.update()
                bar.set_postfix(proved=counts["proved"], failed=counts["failed"], env=counts["env_error"])
        bar.close()
    if failure is not None:
        raise RunStopped(failure[0], failure[1], partial, len(rows))
    result = RunResult(suite, rows, config, budget, time.perf_counter() - t0)
    atomic_write_json(out, result.to_json())
    partial.unlink(missing_ok=True)
    return result


def format_summary(run: RunResult) -> str:
    """A table a person can read: counts per status, all statements and the audited subset."""
    nums = summary_numbers(run)
    cols = [k for k in ("all", "audited") if nums[k]["total"]]
    lines = [
        f"suite {run.suite.name}  ({len(run.suite)} statements, sha256 {run.suite.sha256()[:12]})",
        f"budget {run.budget}   wall time {run.seconds:.0f}s",
        "",
        f"{'status':<20}" + "".join(f"{c:>10}" for c in cols),
    ]
    for s in Status:
        lines.append(f"{s.value:<20}" + "".join(f"{nums[c][s.value]:>10}" for c in cols))
    lines.append(f"{'total':<20}" + "".join(f"{nums[c]['total']:>10}" for c in cols))

    def pct(x):
        return "n/a" if x is None else f"{100 * x:.1f}%"

    lines.append(f"{'pass rate':<20}" + "".join(f"{pct(nums[c]['pass_rate']):>10}" for c in cols))
    lines.append(f"{'  on valid stmts':<20}" + "".join(f"{pct(nums[c]['pass_rate_valid']):>10}" for c in cols))
    env = env_totals(run.rows)
    if env:
        lines.append(
            f"\nenvironment: {env.get('tactics', 0):.0f} tactics run, {env.get('timeouts', 0):.0f} timeouts, "
            f"{env.get('restarts', 0):.0f} restarts, {env.get('env_errors', 0):.0f} env errors, "
            f"{env.get('switches', 0):.0f} branch switches ({env.get('replayed', 0):.0f} tactics replayed)"
        )
    return "\n".join(lines)


def config_dict(obj) -> dict:
    return dataclasses.asdict(obj) if dataclasses.is_dataclass(obj) else dict(obj)
