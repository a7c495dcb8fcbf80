"""One evaluation split over a job array, and put back together.

Shard I of N holds the theorems whose name hashes to I (SHA-256, not Python's salted `hash()`: every
task of the array, on any node, splits the suite alike). Each shard is an ordinary run of its own
(`eval.runner.run_suite`: rows streamed and resumable) in `<prover>/shards/I-of-N/`, so a task that
failed and is run again fills in only its own rows. `merge` checks that every shard finished with
the same config on the same statements, then builds the one `RunResult` an unsharded run would have
written; tree views and search records move up to where an unsharded run puts them.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from eval.runner import RunResult
from formal.suite import Suite
from search.attempt import Attempt

log = logging.getLogger(__name__)

SHARDS = "shards"
RESULTS = "results.json"
# Config keys that decide how a run is scheduled, never what it finds: shards may differ in them.
SCHEDULING = ("workers", "runner", "ray")
_DIR = re.compile(r"^(\d+)-of-(\d+)$")


class ShardError(ValueError):
    """Shards that cannot be merged (one line, for the CLI)."""


def shard_of(name: str, count: int) -> int:
    return int.from_bytes(hashlib.sha256(name.encode("utf-8")).digest()[:8], "big") % count


@dataclass(frozen=True)
class Shard:
    index: int
    count: int

    @classmethod
    def parse(cls, text: str) -> Shard:
        """`I/N`, 0 <= I < N."""
        m = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", text)
        if not m or not 0 <= int(m[1]) < int(m[2]):
            raise ShardError(f"--shard takes I/N with 0 <= I < N (e.g. 2/8), got {text!r}")
        return cls(int(m[1]), int(m[2]))

    @property
    def dirname(self) -> str:
        return f"{self.index}-of-{self.count}"

    def select(self, suite: Suite) -> Suite:
        """The shard's statements (under the suite's own name)."""
        return suite.subset(n for n in suite.files if shard_of(n, self.count) == self.index)

    def out_dir(self, prover_dir: Path) -> Path:
        return prover_dir / SHARDS / self.dirname


def found_shards(prover_dir: Path) -> dict[int, dict[int, Path]]:
    """Shard directories under `prover_dir/shards/`, by count then index."""
    out: dict[int, dict[int, Path]] = {}
    root = prover_dir / SHARDS
    for d in sorted(root.iterdir()) if root.is_dir() else []:
        m = _DIR.match(d.name)
        if m and d.is_dir():
            out.setdefault(int(m[2]), {})[int(m[1])] = d
    return out


def merge(suite: Suite, prover_dir: Path, config: dict, budget: str) -> RunResult:
    """The unsharded run of `suite` from the finished shards under `prover_dir` (ShardError if a shard
    is missing or unfinished, or was run with another config or on other statements)."""
    by_count = found_shards(prover_dir)
    label = prover_dir.name
    if not by_count:
        raise ShardError(f"{label}: no shards under {prover_dir / SHARDS} (run `proofzero eval ... --shard I/N` first)")
    if len(by_count) > 1:
        raise ShardError(f"{label}: shards of {' and '.join(map(str, sorted(by_count)))}-way splits under "
                         f"{prover_dir / SHARDS}; remove the stale split")
    count, dirs = next(iter(by_count.items()))
    unfinished = sorted(set(range(count)) - {i for i, d in dirs.items() if (d / RESULTS).is_file()})
    if unfinished:
        raise ShardError(f"{label}: shards {','.join(map(str, unfinished))} of {count} have not finished "
                         f"(rerun those array tasks, e.g. sbatch --array={','.join(map(str, unfinished))} ...)")
    rows: list[Attempt] = []
    seconds = 0.0
    for i in range(count):
        part, path = Shard(i, count).select(suite), dirs[i] / RESULTS
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            shard_rows = [Attempt.from_json(r) for r in data["results"]]
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as e:
            raise ShardError(f"{path}: not a readable results file ({type(e).__name__})") from None
        if _comparable(data.get("config")) != _comparable(config):
            raise ShardError(f"{path}: run with another config than this command's; rerun that shard or "
                             "merge with the shards' own settings")
        if data.get("suite_sha256") != part.sha256() or {r.name for r in shard_rows} != set(part.files):
            raise ShardError(f"{path}: its statements are not shard {i}/{count} of suite {suite.name} as it is now")
        rows += shard_rows
        seconds += float(data.get("seconds") or 0.0)
    _gather_artifacts(prover_dir, [dirs[i] for i in range(count)])
    return RunResult(suite, rows, config, budget, seconds)


def _comparable(config) -> dict | None:
    """A config as its results file holds it (JSON: tuples are lists), less the scheduling keys."""
    if not isinstance(config, dict):
        return None
    return {k: v for k, v in json.loads(json.dumps(config)).items() if k not in SCHEDULING}


def _gather_artifacts(prover_dir: Path, shard_dirs: list[Path]) -> None:
    """Tree views into `<prover>/trees/` (the rows name them relative to their run directory), search
    records concatenated into `<prover>/records.jsonl` (replaced as a whole, so a second merge is the same)."""
    records = []
    for d in shard_dirs:
        if (d / "trees").is_dir():
            shutil.copytree(d / "trees", prover_dir / "trees", dirs_exist_ok=True)
        if (d / "records.jsonl").is_file():
            text = (d / "records.jsonl").read_text(encoding="utf-8")
            records.append(text[: text.rfind("\n") + 1])  # without a last line cut by a crash
    if records:
        tmp = prover_dir / ".records.jsonl.tmp"
        tmp.write_text("".join(records), encoding="utf-8")
        tmp.replace(prover_dir / "records.jsonl")
