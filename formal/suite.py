"""Benchmark suites: a directory of problem statements, loaded the same way for every consumer.

A suite is pinned by its manifest (`manifest.json`, see `formal.manifest`): every statement's hash
and whether it elaborates. A file that cannot be parsed is kept as a `LoadProblem` and reported
as an invalid statement, so the suite's size never silently shrinks.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from formal.coq.suite import StatementParseError, parse_coq_file
from formal.lean.suite import LeanParseError, parse_lean_file
from formal.manifest import INVALID, MANIFEST_NAME, Manifest, ManifestError, load_manifest
from formal.theorem import Theorem

log = logging.getLogger(__name__)

FORMATS = ("rocq", "lean4")
LEAN_SPLITS = ("Test", "Valid")
_AUDIT_NAME = re.compile(r"^[A-Za-z_][\w']*$")

__all__ = ["FORMATS", "LoadProblem", "Suite", "SuiteError", "load_manifest", "load_suite", "suite_sha256"]


class SuiteError(ValueError):
    """The path is not a loadable suite; the message is one line a user can act on."""


@dataclass(frozen=True)
class LoadProblem:
    """A file that did not yield a Theorem. `sha256` hashes the file's bytes, so fixing it is drift too."""

    name: str
    file: str
    reason: str
    sha256: str


@dataclass(frozen=True)
class Suite:
    """The statements of one benchmark, with what is known about each.

    `files` maps every name (theorems and problems) to its path relative to `root`.
    `invalid` maps names to reasons: parse problems always, plus the statements the manifest
    records as not elaborating when the manifest matches the files (`drift` empty) -- so a prover
    harness need not recompile statements on every run.
    """

    name: str
    root: Path
    format: str
    theorems: tuple[Theorem, ...]
    files: Mapping[str, str]
    audited: frozenset[str] = frozenset()
    problems: tuple[LoadProblem, ...] = ()
    informal: Mapping[str, str] = field(default_factory=dict)
    manifest: Manifest | None = None
    drift: Mapping[str, str] = field(default_factory=dict)
    invalid: Mapping[str, str] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.theorems) + len(self.problems)

    def subset(self, names: Iterable[str], name: str | None = None) -> Suite:
        """The suite cut to `names` (every view alike), e.g. a held-out split; `name` renames it."""
        keep = set(names)
        return dataclasses.replace(
            self,
            name=name or self.name,
            theorems=tuple(t for t in self.theorems if t.name in keep),
            problems=tuple(p for p in self.problems if p.name in keep),
            invalid={k: v for k, v in self.invalid.items() if k in keep},
            files={k: v for k, v in self.files.items() if k in keep},
            audited=frozenset(n for n in self.audited if n in keep),
            informal={k: v for k, v in self.informal.items() if k in keep},
            drift={k: v for k, v in self.drift.items() if k in keep},
        )

    def hashes(self) -> dict[str, str]:
        """Per-statement hashes: `Theorem.sha256()`, or the file's for problems."""
        out = {t.name: t.sha256() for t in self.theorems}
        out.update({p.name: p.sha256 for p in self.problems})
        return out

    def sha256(self) -> str:
        return suite_sha256(self.hashes().values())


def suite_sha256(hashes: Iterable[str]) -> str:
    """One hash naming the whole suite: order-free, since each statement hash covers its name."""
    return hashlib.sha256("\n".join(sorted(hashes)).encode()).hexdigest()


def load_suite(path: str | Path, informal_path: str | Path | None = None) -> Suite:
    """Load a suite directory: Rocq `.v` files, or a Lean 4 miniF2F tree (`MiniF2F/{Test,Valid}`).

    `informal_path` is a JSONL of `{"name", "informal_prefix"}` rows (DeepSeek-Prover's miniF2F)
    joined by name. A `manifest.json` in the directory is read and compared with the files.
    """
    root = Path(path)
    fmt, files = _detect(root)
    parse = parse_coq_file if fmt == "rocq" else parse_lean_file
    theorems, problems, rel = _parse_all(root, files, parse)
    if not theorems:
        first = problems[0]
        raise SuiteError(f"no statement could be parsed in {root} (first: {first.file}: {first.reason})")
    names = set(rel)
    suite = Suite(
        name=root.resolve().name,
        root=root,
        format=fmt,
        theorems=tuple(theorems),
        files=rel,
        audited=frozenset(_audited_names(root) & names),
        problems=tuple(problems),
        informal=_load_informal(Path(informal_path), names) if informal_path else {},
    )
    return _with_manifest(suite)


def _detect(root: Path) -> tuple[str, list[Path]]:
    if not root.exists():
        raise SuiteError(f"no such suite directory: {root}")
    if not root.is_dir():
        raise SuiteError(f"a suite is a directory, not a file: {root}")
    rocq = sorted(root.glob("*.v"))
    lean_dirs = [root / "MiniF2F" / split for split in LEAN_SPLITS if (root / "MiniF2F" / split).is_dir()]
    lean = sorted(p for d in lean_dirs for p in d.glob("*.lean")) or sorted(root.glob("*.lean"))
    if rocq and lean:
        raise SuiteError(f"{root} mixes Rocq .v and Lean .lean files; a suite has one format")
    if rocq:
        return "rocq", rocq
    if lean:
        return "lean4", lean
    if not any(root.iterdir()):
        raise SuiteError(f"empty suite directory: {root}")
    raise SuiteError(f"{root} holds neither Rocq .v files nor Lean 4 files (MiniF2F/{{Test,Valid}}/*.lean or *.lean)")


def _parse_all(
    root: Path, files: list[Path], parse: Callable[[Path], Theorem]
) -> tuple[list[Theorem], list[LoadProblem], dict[str, str]]:
    theorems: list[Theorem] = []
    problems: list[LoadProblem] = []
    rel: dict[str, str] = {}
    for path in files:
        file = path.relative_to(root).as_posix()
        try:
            theorem = parse(path)
        except (StatementParseError, LeanParseError) as e:
            problems.append(_problem(path.stem, file, str(e), path, rel))
            continue
        if theorem.name in rel:
            problems.append(_problem(path.stem, file, f"duplicate theorem name {theorem.name!r}", path, rel))
            continue
        theorems.append(theorem)
        rel[theorem.name] = file
    for p in problems:
        log.warning("%s: invalid statement: %s", p.file, p.reason)
    return theorems, problems, rel


def _problem(name: str, file: str, reason: str, path: Path, rel: dict[str, str]) -> LoadProblem:
    """Record a file that gave no Theorem under a name no other statement uses."""
    unique, k = name, 1
    while unique in rel:
        k += 1
        unique = f"{name}#{k}"
    rel[unique] = file
    try:
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        digest = hashlib.sha256(b"").hexdigest()
    return LoadProblem(name=unique, file=file, reason=reason, sha256=digest)


def _audited_names(root: Path) -> set[str]:
    """Names in the miniF2F-rocq audit files; `audit.txt` ends with statistics lines, skipped."""
    names: set[str] = set()
    audit_json = root / "audit.json"
    if audit_json.is_file():
        try:
            names |= set(json.loads(audit_json.read_text(encoding="utf-8")))
        except (json.JSONDecodeError, TypeError) as e:
            raise SuiteError(f"{audit_json}: not a JSON object of audited names ({e})") from None
    audit_txt = root / "audit.txt"
    if audit_txt.is_file():
        lines = audit_txt.read_text(encoding="utf-8").splitlines()
        names |= {s for line in lines if _AUDIT_NAME.match(s := line.strip())}
    return names


def _load_informal(path: Path, names: set[str]) -> dict[str, str]:
    """Informal statements by name; case-insensitive as a fallback (`notEquiv` vs `notequiv`)."""
    if not path.is_file():
        raise SuiteError(f"no such informal-statements file: {path}")
    rows: dict[str, str] = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            rows[row["name"]] = _informal_text(row["informal_prefix"])
        except (json.JSONDecodeError, KeyError, TypeError) as e:
            raise SuiteError(f"{path}:{number}: not a row with name and informal_prefix ({e})") from None
    folded = {k.casefold(): v for k, v in rows.items()}
    out = {n: rows[n] if n in rows else folded.get(n.casefold(), "") for n in names}
    return {n: text for n, text in out.items() if text}


def _informal_text(prefix: str) -> str:
    """The informal statement without the Lean doc-comment wrapper `/-- ... -/`."""
    text = prefix.strip()
    text = text.removeprefix("/--").removeprefix("/-").removesuffix("-/")
    return text.strip()


def _with_manifest(suite: Suite) -> Suite:
    """Attach the suite's manifest, what drifted since it was written, and the invalid statements."""
    invalid = {p.name: p.reason for p in suite.problems}
    path = suite.root / MANIFEST_NAME
    if not path.is_file():
        return dataclasses.replace(suite, invalid=invalid)
    try:
        manifest = load_manifest(path)
    except ManifestError as e:
        raise SuiteError(str(e)) from None
    drift = manifest.drift(suite.hashes())
    if drift:
        log.warning(
            "%s: %d statements differ from the manifest (%s); its elaboration results are ignored",
            suite.name,
            len(drift),
            ", ".join(sorted(drift)[:5]) + (" ..." if len(drift) > 5 else ""),
        )
    else:
        invalid.update({e.name: e.reason for e in manifest.entries if e.status == INVALID})
    return dataclasses.replace(suite, manifest=manifest, drift=drift, invalid=invalid)
