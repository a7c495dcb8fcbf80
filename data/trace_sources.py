"""What to trace and how to run each file: source roots, their load paths, the tracing config.

A source root is a directory of `.v` files with a name (records say `stdlib/Arith/PeanoNat.v`)
and the flags its files need. Paths may start with `{coqlib}`, resolved at run time from
`coqc -where`, so configs carry no machine. Each file runs with `-topfile`, so Coq gives its
constants the names they have in the installed library (`Coq.Arith.PeanoNat.Nat.add_comm`).
"""

from __future__ import annotations

import fnmatch
import functools
import re
import shlex
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from formal.coq.document import DocumentConfig

_IDENT = re.compile(r"[^\W\d][\w']*")


@dataclass(frozen=True)
class SourceRoot:
    name: str  # prefix of the records' file_path, and a SOURCE the CLI accepts
    path: str  # directory; may start with {coqlib}
    load_paths: tuple[str, ...] = ()  # "-Q DIR Name" / "-R DIR Name" this root's files need
    noinit: tuple[str, ...] = ()  # globs (relative to the root) of files run with -noinit
    exclude: tuple[str, ...] = ()  # globs (relative to the root) of files not traced
    optional: bool = False  # a package that may not be installed: skipped when missing

    def __post_init__(self) -> None:
        if not self.name or "/" in self.name:
            raise ValueError(f"source root name {self.name!r} must be a non-empty word")
        for lp in self.load_paths:
            parse_load_path(lp)
        for f in ("load_paths", "noinit", "exclude"):
            object.__setattr__(self, f, tuple(getattr(self, f)))

    def directory(self) -> Path:
        return Path(expand(self.path))


@dataclass(frozen=True)
class TraceConfig:
    roots: tuple[SourceRoot, ...] = ()
    workers: int = 2  # files in flight at once, each with its own coqidetop
    load_paths: tuple[str, ...] = ()  # for every file, as "-Q DIR Name" / "-R DIR Name"
    document: DocumentConfig = field(default_factory=DocumentConfig)

    def __post_init__(self) -> None:
        if self.workers < 1:
            raise ValueError("workers must be >= 1")
        for lp in self.load_paths:
            parse_load_path(lp)
        names = [r.name for r in self.roots]
        if len(set(names)) != len(names):
            raise ValueError(f"source root names repeat: {names}")
        object.__setattr__(self, "roots", tuple(self.roots))
        object.__setattr__(self, "load_paths", tuple(self.load_paths))

    def root(self, name: str) -> SourceRoot | None:
        return next((r for r in self.roots if r.name == name), None)


@dataclass(frozen=True)
class SourceFile:
    path: Path
    file_path: str  # the name records carry: "<root>/<path under the root>", or the path as given
    flags: tuple[str, ...] = ()  # coqidetop flags for this file
    url: str = ""  # the source root it belongs to


@functools.cache
def coqlib() -> str:
    try:
        return subprocess.run(["coqc", "-where"], capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError) as e:
        raise ValueError(f"cannot ask coqc for its library: {e}") from None


@functools.cache
def coq_version(coqidetop: str = "coqidetop.opt") -> str:
    """The Coq version that traced a library: the records' `commit` (a library has no other)."""
    try:
        out = subprocess.run(["coqc", "--print-version"], capture_output=True, text=True, check=True).stdout
        return f"coq-{out.split()[0]}"
    except (OSError, subprocess.CalledProcessError, IndexError):
        return "coq-unknown"


def expand(path: str) -> str:
    return path.replace("{coqlib}", coqlib()) if "{coqlib}" in path else path


def parse_load_path(spec: str) -> tuple[str, str, str]:
    """``-Q DIR Name`` / ``-R DIR Name`` -> (flag, dir, name)."""
    parts = shlex.split(spec)
    if len(parts) != 3 or parts[0] not in ("-Q", "-R"):
        raise ValueError(f"load path {spec!r} must be '-Q DIR Name' or '-R DIR Name'")
    return parts[0], parts[1], parts[2]


def _load_flags(specs: tuple[str, ...]) -> list[str]:
    flags: list[str] = []
    for spec in specs:
        flag, d, name = parse_load_path(spec)
        flags += [flag, expand(d), name]
    return flags


def locate(path: Path, config: TraceConfig, base: Path | None = None) -> SourceFile:
    """How to run one file: the root it lies under (if any) gives its name and flags; otherwise it
    is named from `base` (the directory it was found in) or by its own name."""
    path = path.resolve()
    for root in config.roots:
        d = root.directory().resolve()
        if path.is_relative_to(d):
            rel = path.relative_to(d).as_posix()
            return _source(path, f"{root.name}/{rel}", root, rel, config)
    if base is not None and path.is_relative_to(base.resolve()):
        base = base.resolve()
        return _source(path, f"{base.name}/{path.relative_to(base).as_posix()}", None, "", config)
    return _source(path, path.name, None, "", config)


def _source(path: Path, file_path: str, root: SourceRoot | None, rel: str, config: TraceConfig) -> SourceFile:
    flags = _load_flags(config.load_paths)
    if root is not None:
        flags = _load_flags(root.load_paths) + flags
        if any(fnmatch.fnmatch(rel, g) for g in root.noinit):
            flags.append("-noinit")
    if _IDENT.fullmatch(path.stem):  # otherwise Coq cannot name the module; it stays `Top`
        flags += ["-topfile", str(path)]
    return SourceFile(path, file_path, tuple(flags), root.name if root else "")


def find_sources(specs: list[str], config: TraceConfig) -> list[SourceFile]:
    """SOURCE arguments -> files: a root's name, a directory (all `.v` below it), or a file.

    Raises ValueError for a SOURCE that is none of these. Files are sorted and not repeated.
    """
    found: dict[Path, SourceFile] = {}
    for spec in specs:
        root = config.root(spec)
        if root is not None:
            d = root.directory()
            if not d.is_dir():
                if root.optional:
                    continue
                raise ValueError(f"source root {spec} ({d}) is not a directory")
            files = [p for p in sorted(d.rglob("*.v")) if not _excluded(p.relative_to(d).as_posix(), root)]
        elif Path(spec).is_dir():
            files = sorted(Path(spec).rglob("*.v"))
        elif Path(spec).is_file():
            files = [Path(spec)]
        else:
            known = ", ".join(r.name for r in config.roots) or "none"
            raise ValueError(f"{spec}: not a file, a directory or a source root (roots: {known})")
        base = Path(spec) if Path(spec).is_dir() else None
        for p in files:
            source = locate(p, config, base)
            found.setdefault(source.path, source)
    return sorted(found.values(), key=lambda s: s.file_path)


def _excluded(rel: str, root: SourceRoot) -> bool:
    return any(fnmatch.fnmatch(rel, g) for g in root.exclude)


def shard_name(file_path: str) -> str:
    """`stdlib/Arith/PeanoNat.v` -> `stdlib__Arith__PeanoNat.v.jsonl`."""
    return file_path.replace("/", "__") + ".jsonl"
