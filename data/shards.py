"""Finding and reading traced-theorem files: our JSONL shards and LeanDojo Benchmark JSON lists.

The dataset and corpus builders take the same inputs, found the same way, in the same order:
- a file: `*.jsonl` is a shard (one `traced_theorem_to_json` object a line), `*.json` a LeanDojo file;
- a directory with a `shards/` folder (a trace's output directory): that folder's `*.jsonl`;
- any other directory: its own `*.jsonl` and `*.json` files (not recursive).
Files are sorted by name and hidden files (`.x.tmp` of atomic writes) skipped, so the order -- and
with it which duplicate a dedupe keeps -- is the same on every machine.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from data.leandojo import ORIGIN as LEANDOJO_ORIGIN
from data.leandojo import LeanDojoFormatError, load_leandojo
from data.records import TracedTheorem, traced_theorem_from_json

SHARD, LEANDOJO = "shard", "leandojo"


class TraceInputError(ValueError):
    """An input that is missing or not a traced-theorem file; one line naming the path."""


@dataclass(frozen=True)
class TraceFile:
    path: Path
    format: str  # SHARD or LEANDOJO


def find_trace_files(paths: Iterable[str | Path]) -> list[TraceFile]:
    paths = [Path(p) for p in paths]
    found: list[TraceFile] = []
    for p in paths:
        if p.is_file():
            found.append(_classify(p))
        elif p.is_dir():
            inner = p / "shards" if (p / "shards").is_dir() else p
            files = [f for f in sorted(inner.iterdir()) if f.is_file() and not f.name.startswith(".")]
            found += [_classify(f) for f in files if f.suffix in (".jsonl", ".json")]
        else:
            raise TraceInputError(f"no such file or directory: {p}")
    if not found:
        where = ", ".join(map(str, paths))
        raise TraceInputError(f"no traced-theorem files (*.jsonl shards, *.json LeanDojo) in {where}")
    return found


def _classify(path: Path) -> TraceFile:
    if path.suffix == ".jsonl":
        return TraceFile(path, SHARD)
    if path.suffix == ".json":
        return TraceFile(path, LEANDOJO)
    raise TraceInputError(f"{path}: expected a *.jsonl shard or a *.json LeanDojo Benchmark file")


def read_theorems(file: TraceFile) -> Iterator[TracedTheorem]:
    """The theorems of one file; a shard is read a line at a time."""
    if file.format == LEANDOJO:
        try:
            yield from load_leandojo(file.path)
        except LeanDojoFormatError as e:
            raise TraceInputError(str(e)) from None
        return
    try:
        f = file.path.open("rb")  # bytes, decoded a line at a time: a bad byte is reported with its line
    except OSError as e:
        raise TraceInputError(f"{file.path}: cannot read it ({e.strerror or e})") from None
    with f:
        for number, raw in enumerate(f, 1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as e:
                raise TraceInputError(f"{file.path}:{number}: not a traced theorem (not UTF-8 text: "
                                      f"byte {raw[e.start]:#04x} at column {e.start + 1})") from None
            if not line.strip():
                continue
            try:
                yield traced_theorem_from_json(json.loads(line))
            except (json.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError) as e:
                raise TraceInputError(f"{file.path}:{number}: not a traced theorem ({e!r})") from None


def origin_of(theorem: TracedTheorem, file: TraceFile) -> str:
    """The `origin` column: where a record came from (`coq-trace`, `lean-trace`, `leandojo`, `search`)."""
    if theorem.url.startswith("search:"):  # data.experience.SEARCH_URL: a proof found by a search
        return "search"
    return LEANDOJO_ORIGIN if file.format == LEANDOJO else f"{theorem.backend}-trace"
