"""Pretraining corpora: text sources -> byte tokens packed into fixed-length sequences, streamed.

Sources, each a stream of documents with a split key:
- a directory of text (`.v`, `.lean`, `.txt`, `.md` ...; recursive, sorted): one document per file,
  read in blocks, keyed by its path under the directory. Written `NAME:DIR`, the key is
  `NAME/<path>`, which is what `proofzero trace` records as `file_path` for a source root called
  NAME (`stdlib:$(coqc -where)/theories` keys `Arith/PeanoNat.v` as `stdlib/Arith/PeanoNat.v`), so a
  library's text and its traces fall in the same split;
- traced theorems (a `*.jsonl` shard, a LeanDojo `*.json`, a directory with `shards/` or `*.jsonl`):
  one document per tactic, `state_before` then the tactic, keyed by the theorem's `file_path`;
- any other file: one document, keyed by its name (`NAME/<its name>` written `NAME:FILE`);
- `hf:NAME[:SPLIT]`: a Hugging Face dataset, streamed, one document per row of `hf_text_column`,
  keyed per row. For clusters; `proofzero` runs offline unless HF_HUB_OFFLINE=0.

Documents go to train/val/test by `data.splits.assign_split(key)`: for traced theorems the key is the
`novel_files` scheme's, so a file held out of SFT training is held out of pretraining too. (A
theorem in the `random` scheme's test split may still have its file in corpus train: evaluate
pretrained models on `novel_files`.)

Each document's tokens are followed by eos and concatenated per split; every `seq_len` tokens make a
sequence (documents run across sequence boundaries), and the last sequence of a split is filled with
pad. Sequences are written `shard_sequences` at a time as `OUT/<split>/<split>-NNNNN.npy` (uint16,
shape [n, seq_len], for `np.load(mmap_mode="r")`), so memory holds one shard; `OUT/corpus.json`
lists the shards and counts. Everything is built in `OUT/.building` and moved in at the end.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from data.decontaminate import statement_key
from data.shards import find_trace_files, read_theorems
from data.splits import SPLITS, SplitConfig, assign_split, split_key
from model.tokenizer import ByteTokenizer

log = logging.getLogger(__name__)

MANIFEST = "corpus.json"
HF_PREFIX = "hf:"
_NAMED = re.compile(r"^(?P<name>[A-Za-z_][\w-]*):(?P<path>.+)$")
Document = tuple[str, Iterable[bytes]]  # (split key, the document's bytes in blocks)


@dataclass(frozen=True)
class CorpusConfig:
    seq_len: int = 1024
    shard_sequences: int = 8192  # sequences per .npy shard: the streaming unit (16 MiB at 1024)
    read_bytes: int = 1 << 20  # text files are read this many bytes at a time
    extensions: tuple[str, ...] = (".v", ".lean", ".txt", ".md")
    hf_text_column: str = "text"
    split: SplitConfig = field(default_factory=SplitConfig)

    def __post_init__(self) -> None:
        if self.seq_len < 2 or self.shard_sequences < 1 or self.read_bytes < 1:
            raise ValueError("seq_len must be >= 2, shard_sequences and read_bytes >= 1")
        object.__setattr__(self, "extensions", tuple(self.extensions))


class CorpusSourceError(ValueError):
    """A source that does not exist or cannot be opened; one line naming it."""


class PackedSplit:
    """One split's token stream, cut into sequences and written a shard at a time."""

    def __init__(self, directory: Path, name: str, seq_len: int, shard_sequences: int, pad_id: int) -> None:
        self.directory, self.name, self.seq_len, self.pad_id = directory, name, seq_len, pad_id
        self.chunk = seq_len * shard_sequences
        self._parts: list[np.ndarray] = []
        self._buffered = 0
        self.documents = self.tokens = self.sequences = self.padding = 0
        self.shards: list[str] = []

    def add(self, ids: np.ndarray) -> None:
        self._parts.append(ids)
        self._buffered += len(ids)
        self.tokens += len(ids)
        while self._buffered >= self.chunk:
            flat = np.concatenate(self._parts)
            self._write(flat[: self.chunk])
            self._parts, self._buffered = [flat[self.chunk :]], len(flat) - self.chunk

    def close(self) -> None:
        """Write what is left, the last sequence filled with pad."""
        if not self._buffered:
            return
        flat = np.concatenate(self._parts)
        self.padding = -len(flat) % self.seq_len
        self._write(np.concatenate([flat, np.full(self.padding, self.pad_id, dtype=np.uint16)]))
        self._parts, self._buffered = [], 0

    def _write(self, flat: np.ndarray) -> None:
        rel = f"{self.name}/{self.name}-{len(self.shards):05d}.npy"
        path = self.directory / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp")
        with tmp.open("wb") as f:
            np.save(f, flat.reshape(-1, self.seq_len))
        os.replace(tmp, path)
        self.shards.append(rel)
        self.sequences += len(flat) // self.seq_len

    def summary(self) -> dict:
        keys = ("documents", "tokens", "sequences", "padding", "shards")
        return {k: getattr(self, k) for k in keys}


def build_corpus(
    sources: Iterable[str],
    out: str | Path,
    cfg: CorpusConfig = CorpusConfig(),
    benchmarks: Mapping[str, str] | None = None,
    tokenizer: ByteTokenizer | None = None,
) -> dict:
    """Build the packed corpus under OUT and return its manifest (also written to OUT/corpus.json)."""
    tok = tokenizer or ByteTokenizer()
    sources = [str(s) for s in sources]
    missing = [s for s in sources if not s.startswith(HF_PREFIX) and not _named(s)[1].exists()]
    if missing:
        raise CorpusSourceError(f"no such source: {', '.join(missing)}")
    out = Path(out)
    staging = out / ".building"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    splits = {s: PackedSplit(staging, s, cfg.seq_len, cfg.shard_sequences, tok.pad_id) for s in SPLITS}
    dropped: list[dict] = []
    try:
        for key, blocks in iter_documents(sources, cfg, benchmarks or {}, dropped):
            _add_document(splits[assign_split(key, cfg.split)], blocks, tok)
        for s in splits.values():
            s.close()
    except BaseException:  # a bad source: the corpus already at OUT, if any, stays as it was
        shutil.rmtree(staging, ignore_errors=True)
        raise
    manifest = {
        "format": "proofzero-packed-v1",
        "tokenizer": tok.config(),
        "seq_len": cfg.seq_len,
        "dtype": "uint16",
        "splits": {name: s.summary() for name, s in splits.items()},
        "sources": sources,
        "dropped": dropped,
        "config": asdict(cfg),
    }
    for name in SPLITS:
        shutil.rmtree(out / name, ignore_errors=True)
        if (staging / name).is_dir():
            os.replace(staging / name, out / name)
    (staging / MANIFEST).write_text(json.dumps(manifest, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(staging / MANIFEST, out / MANIFEST)
    shutil.rmtree(staging, ignore_errors=True)
    return manifest


def _add_document(split: PackedSplit, blocks: Iterable[bytes], tok: ByteTokenizer) -> None:
    """Tokens of one document then eos; an empty document adds nothing."""
    empty = True
    for block in blocks:
        if block:
            split.add(tok.encode_array(block))
            empty = False
    if not empty:
        split.add(np.array([tok.eos_id], dtype=np.uint16))
        split.documents += 1


def iter_documents(
    sources: Iterable[str], cfg: CorpusConfig, benchmarks: Mapping[str, str], dropped: list[dict]
) -> Iterator[Document]:
    """Every source's documents, in the order given (directories sorted), each with its split key."""
    for source in sources:
        if source.startswith(HF_PREFIX) and not Path(source).exists():
            yield from _hf_documents(source[len(HF_PREFIX) :], cfg.hf_text_column)
            continue
        prefix, path = _named(source)
        if path.suffix in (".jsonl", ".json") or (path.is_dir() and _holds_traces(path)):
            yield from _traced_documents(path, benchmarks, dropped)
        elif path.is_dir():
            yield from _directory_documents(path, prefix, cfg)
        elif path.is_file():
            yield prefix + path.name, _blocks(path, cfg.read_bytes)
        else:
            raise CorpusSourceError(f"no such source: {source}")


def _holds_traces(directory: Path) -> bool:
    """A trace output directory (`shards/`) or a directory of shards (`*.jsonl`), as `data.shards` reads them."""
    return (directory / "shards").is_dir() or any(directory.glob("*.jsonl"))


def _named(source: str) -> tuple[str, Path]:
    """(key prefix, path) of `PATH` or `NAME:PATH`; a path that exists as written is never split."""
    m = _NAMED.match(source)
    if Path(source).exists() or m is None:
        return "", Path(source)
    return f"{m['name']}/", Path(m["path"])


def _directory_documents(root: Path, prefix: str, cfg: CorpusConfig) -> Iterator[Document]:
    files = sorted((p.relative_to(root).as_posix(), p) for p in root.rglob("*") if p.suffix in cfg.extensions)
    for rel, path in files:
        if not path.is_file() or any(part.startswith(".") for part in rel.split("/")):
            continue
        yield prefix + rel, _blocks(path, cfg.read_bytes)


def _blocks(path: Path, size: int) -> Iterator[bytes]:
    with path.open("rb") as f:
        while block := f.read(size):
            yield block


def _traced_documents(path: Path, benchmarks: Mapping[str, str], dropped: list[dict]) -> Iterator[Document]:
    """One document per tactic: the state it was taken in, then the tactic."""
    for file in find_trace_files([path]):
        for theorem in read_theorems(file):
            hit = benchmarks.get(statement_key(theorem.statement, theorem.backend)) if benchmarks else None
            if hit is not None:
                dropped.append({"full_name": theorem.full_name, "file_path": theorem.file_path, "benchmark": hit})
                continue
            key = split_key("novel_files", theorem.full_name, theorem.file_path)
            for t in theorem.traced_tactics:
                yield key, [f"{t.state_before}\n{t.tactic}".encode()]


def _hf_documents(spec: str, column: str) -> Iterator[Document]:
    """`NAME[:SPLIT]` streamed from the Hub (or its cache); each row is its own split unit."""
    from datasets import load_dataset

    name, _, split = spec.partition(":")
    split = split or "train"
    try:
        rows = load_dataset(name, split=split, streaming=True)
    except (OSError, ValueError) as e:  # offline, unknown name or split
        raise CorpusSourceError(f"{HF_PREFIX}{spec}: cannot open the dataset ({e})") from None
    for i, row in enumerate(rows):
        yield f"{HF_PREFIX}{name}/{split}/{i}", [row[column].encode()]


def load_corpus_split(out: str | Path, split: str) -> list[np.ndarray]:
    """The shards of one split, memory-mapped: arrays of shape [n, seq_len]."""
    manifest = json.loads((Path(out) / MANIFEST).read_text(encoding="utf-8"))
    return [np.load(Path(out) / rel, mmap_mode="r") for rel in manifest["splits"][split]["shards"]]
