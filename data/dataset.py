"""State-tactic datasets for SFT: traced shards and LeanDojo files -> Hugging Face `DatasetDict`s.

One pass over the inputs streams every kept theorem's tactics into both split schemes (`random`,
`novel_files`; see `data.splits`), each split an Arrow file written a batch at a time, so memory
holds a batch plus one 16-byte digest per row (for the dedupe) -- never the dataset. Output:

    OUT/random/        DatasetDict (train/val/test), `datasets.load_from_disk`
    OUT/novel_files/   DatasetDict, whole files held out
    OUT/summary.json   counts per split, dropped and skipped theorems, the config

Within a split, identical (state, tactic) pairs are kept once (the first met, in input order); the
summary counts how many val/test pairs also occur in train, which splitting by theorem cannot avoid.
Incomplete traces (admitted or failed proofs) are skipped unless `include_incomplete`.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pyarrow as pa
from datasets import Dataset, DatasetDict, DatasetInfo, Features, Value, load_from_disk

from data.decontaminate import statement_key
from data.records import StateTactic, TracedTheorem, to_state_tactics
from data.shards import find_trace_files, origin_of, read_theorems
from data.splits import SCHEMES, SPLITS, SplitConfig, theorem_split

log = logging.getLogger(__name__)

JSON_COLUMNS = ("goals_before", "goals_after", "goal_ids", "children")


@dataclass(frozen=True)
class DatasetConfig:
    split: SplitConfig = field(default_factory=SplitConfig)
    include_incomplete: bool = False  # admitted / failed traces: their tactics may lead nowhere
    dedupe: bool = True  # identical (state, tactic) pairs once per split
    batch_rows: int = 4096  # rows per Arrow record batch (the streaming unit)

    def __post_init__(self) -> None:
        if self.batch_rows < 1:
            raise ValueError("batch_rows must be >= 1")


# StateTactic's fields, then its extras; `value_target` is null where the proof tree is unknown.
_STRING, _INT = Value("string"), Value("int32")
FEATURES = Features(
    {
        "state": _STRING,
        "tactic": _STRING,
        "value_target": _INT,
        "full_name": _STRING,
        "file_path": _STRING,
        "origin": _STRING,
        "state_after": _STRING,
        "line": _INT,
        **{name: _STRING for name in JSON_COLUMNS},
    }
)


def state_tactic_row(st: StateTactic) -> dict:
    """A record as a dataset row: goal structure as JSON strings, so the schema stays flat."""
    row = {name: getattr(st, name) for name in ("state", "tactic", "value_target", "full_name", "file_path", "origin")}
    row["state_after"] = st.extras.get("state_after", "")
    row["line"] = st.extras.get("line", 0)
    for name in JSON_COLUMNS:
        row[name] = json.dumps(st.extras.get(name, []), ensure_ascii=False, separators=(",", ":"))
    return row


def row_to_state_tactic(row: Mapping) -> StateTactic:
    """The inverse of `state_tactic_row`: what training code reads back from a split."""
    extras = {name: json.loads(row[name]) for name in JSON_COLUMNS}
    extras.update(state_after=row["state_after"], line=row["line"])
    keys = ("state", "tactic", "value_target", "full_name", "file_path", "origin")
    return StateTactic(**{k: row[k] for k in keys}, extras=extras)


class _SplitWriter:
    """One split of one scheme: rows streamed to an Arrow IPC stream file, duplicates skipped."""

    def __init__(self, path: Path, schema: pa.Schema, batch_rows: int, dedupe: bool) -> None:
        self.path, self.schema, self.batch_rows, self.dedupe = path, schema, batch_rows, dedupe
        self._writer = pa.ipc.new_stream(str(path), schema)
        self._batch: list[dict] = []
        self.digests: set[bytes] = set()
        self.rows = self.duplicates = 0
        self.theorems: set[tuple[str, str]] = set()
        self.files: set[str] = set()

    def add(self, theorem: TracedTheorem, rows: list[dict]) -> None:
        self.theorems.add((theorem.file_path, theorem.full_name))
        self.files.add(theorem.file_path)
        for row in rows:
            digest = pair_digest(row["state"], row["tactic"])
            if self.dedupe and digest in self.digests:
                self.duplicates += 1
                continue
            self.digests.add(digest)
            self._batch.append(row)
            if len(self._batch) >= self.batch_rows:
                self._flush()

    def _flush(self) -> None:
        if self._batch:
            columns = {name: [r[name] for r in self._batch] for name in self.schema.names}
            self._writer.write_batch(pa.RecordBatch.from_pydict(columns, schema=self.schema))
            self.rows += len(self._batch)
            self._batch = []

    def close(self) -> None:
        self._flush()
        self._writer.close()


def pair_digest(state: str, tactic: str) -> bytes:
    return hashlib.sha256(f"{state}\0{tactic}".encode()).digest()[:16]


@dataclass
class BuildReport:
    sources: list[str]
    theorems_read: int = 0
    skipped_incomplete: int = 0
    skipped_empty: int = 0
    unchecked: int = 0  # no statement recorded (LeanDojo): decontamination could not look
    dropped: list[dict] = field(default_factory=list)  # {full_name, file_path, benchmark}
    splits: dict = field(default_factory=dict)  # scheme -> split -> counts

    def to_json(self) -> dict:
        return asdict(self)


def build_dataset(
    sources: Iterable[str | Path],
    out: str | Path,
    cfg: DatasetConfig = DatasetConfig(),
    benchmarks: Mapping[str, str] | None = None,
) -> BuildReport:
    """Build OUT/{random,novel_files} and OUT/summary.json; `benchmarks` from `benchmark_keys`."""
    sources = [str(s) for s in sources]
    files = find_trace_files(sources)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    report = BuildReport(sources=sources)
    with tempfile.TemporaryDirectory(prefix=".build-", dir=out) as tmp:
        schema = FEATURES.arrow_schema
        writers = {
            (scheme, split): _SplitWriter(Path(tmp) / f"{scheme}-{split}.arrow", schema, cfg.batch_rows, cfg.dedupe)
            for scheme in SCHEMES
            for split in SPLITS
        }
        try:
            for file in files:
                for theorem in read_theorems(file):
                    _add_theorem(theorem, origin_of(theorem, file), writers, cfg, benchmarks or {}, report)
        finally:
            for w in writers.values():
                w.close()
        report.splits = _split_counts(writers)
        for scheme in SCHEMES:
            info = DatasetInfo(features=FEATURES, description=f"ProofZero state-tactic pairs, {scheme} split")
            paths = {split: str(writers[scheme, split].path) for split in SPLITS}
            dd = DatasetDict({split: Dataset.from_file(path, info=info) for split, path in paths.items()})
            _save_atomically(dd, out / scheme)
            del dd
    _write_json_atomically(out / "summary.json", {**report.to_json(), "config": asdict(cfg)})
    return report


def _add_theorem(
    theorem: TracedTheorem,
    origin: str,
    writers: dict,
    cfg: DatasetConfig,
    benchmarks: Mapping[str, str],
    report: BuildReport,
) -> None:
    report.theorems_read += 1
    if not theorem.traced_tactics:
        report.skipped_empty += 1
        return
    if not theorem.complete and not cfg.include_incomplete:
        report.skipped_incomplete += 1
        return
    if benchmarks:
        if not theorem.statement.strip():
            report.unchecked += 1
        elif (hit := benchmarks.get(statement_key(theorem.statement, theorem.backend))) is not None:
            report.dropped.append({"full_name": theorem.full_name, "file_path": theorem.file_path, "benchmark": hit})
            log.debug("decontamination: dropped %s (%s), states %s", theorem.full_name, theorem.file_path, hit)
            return
    rows = [state_tactic_row(st) for st in to_state_tactics(theorem, origin)]
    for scheme in SCHEMES:
        split = theorem_split(scheme, theorem.full_name, theorem.file_path, cfg.split)
        writers[scheme, split].add(theorem, rows)


def _split_counts(writers: dict) -> dict:
    counts: dict = {}
    for scheme in SCHEMES:
        train = writers[scheme, "train"].digests
        counts[scheme] = {
            split: {
                "rows": (w := writers[scheme, split]).rows,
                "theorems": len(w.theorems),
                "files": len(w.files),
                "duplicates": w.duplicates,
                "pairs_in_train": 0 if split == "train" else len(w.digests & train),
            }
            for split in SPLITS
        }
    return counts


def _save_atomically(dd: DatasetDict, target: Path) -> None:
    """Save beside the target and swap it in, so a crash never leaves a half-written dataset."""
    staging = target.with_name(f".{target.name}.tmp")
    shutil.rmtree(staging, ignore_errors=True)
    # An empty split must still get one (empty) data file, or load_from_disk fails on it.
    dd.save_to_disk(str(staging), num_shards={name: 1 for name, ds in dd.items() if len(ds) == 0})
    shutil.rmtree(target, ignore_errors=True)
    os.replace(staging, target)


def _write_json_atomically(path: Path, data: dict) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def load_scheme(out: str | Path, scheme: str) -> DatasetDict:
    """The DatasetDict of one split scheme of a built dataset."""
    if scheme not in SCHEMES:
        raise ValueError(f"unknown split scheme {scheme!r}; expected one of {SCHEMES}")
    return load_from_disk(str(Path(out) / scheme))
