"""Suite manifests: every statement's hash and whether it elaborates, pinned next to the suite.

Reports name the suite hash; a harness reads the invalid statements from here instead of
recompiling them; `proofzero suite --check` fails loudly when the files no longer match.
The file has no timestamps, so regenerating an unchanged suite gives an identical file.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from formal.theorem import Theorem

if TYPE_CHECKING:
    from formal.suite import Suite

log = logging.getLogger(__name__)

MANIFEST_NAME = "manifest.json"
MANIFEST_VERSION = 1
OK, INVALID, UNCHECKED = "ok", "invalid_statement", "unchecked"
STATUSES = (OK, INVALID, UNCHECKED)

Check = Callable[[Theorem], "str | None"]  # None: elaborates; else the reason it does not


class ManifestError(ValueError):
    """A manifest file that cannot be read; one line a user can act on."""


@dataclass(frozen=True)
class ManifestEntry:
    name: str
    file: str
    sha256: str
    audited: bool
    status: str
    reason: str = ""


@dataclass(frozen=True)
class Manifest:
    suite: str
    format: str
    suite_sha256: str
    checker: str  # the proof assistant that elaborated the statements ("" if none did)
    entries: tuple[ManifestEntry, ...]

    def by_status(self, status: str) -> list[ManifestEntry]:
        return [e for e in self.entries if e.status == status]

    def drift(self, hashes: Mapping[str, str]) -> dict[str, str]:
        """Names whose statement is 'changed', 'new' (not in the manifest) or 'removed' (no file)."""
        pinned = {e.name: e.sha256 for e in self.entries}
        out = {n: "changed" for n in pinned.keys() & hashes.keys() if pinned[n] != hashes[n]}
        out.update({n: "new" for n in hashes.keys() - pinned.keys()})
        out.update({n: "removed" for n in pinned.keys() - hashes.keys()})
        return dict(sorted(out.items()))

    def to_json(self) -> dict[str, Any]:
        counts = {s: len(self.by_status(s)) for s in STATUSES}
        return {
            "manifest_version": MANIFEST_VERSION,
            "suite": self.suite,
            "format": self.format,
            "suite_sha256": self.suite_sha256,
            "checker": self.checker,
            "counts": {"theorems": len(self.entries), "audited": sum(e.audited for e in self.entries), **counts},
            "theorems": [_entry_json(e) for e in self.entries],
        }


def _entry_json(entry: ManifestEntry) -> dict[str, Any]:
    data = asdict(entry)
    if not entry.reason:
        del data["reason"]
    return data


def check_statements(
    theorems: Iterable[Theorem],
    check: Check,
    workers: int | None = None,
    on_done: Callable[[str], None] | None = None,
) -> dict[str, str | None]:
    """Elaborate statements in parallel (each check is its own process, so threads suffice)."""
    theorems = list(theorems)
    results: dict[str, str | None] = {}
    with ThreadPoolExecutor(max_workers=workers or os.cpu_count() or 1) as pool:
        for theorem, reason in zip(theorems, pool.map(check, theorems)):
            results[theorem.name] = reason
            if on_done is not None:
                on_done(theorem.name)
    return results


def build_manifest(
    suite: Suite,
    check: Check | None,
    checker: str = "",
    workers: int | None = None,
    on_done: Callable[[str], None] | None = None,
) -> Manifest:
    """The manifest of `suite`; without `check` the parsed statements are recorded 'unchecked'."""
    reasons = check_statements(suite.theorems, check, workers, on_done) if check else {}
    entries = [
        _entry(suite, t.name, t.sha256(), (UNCHECKED, "") if check is None else _status(reasons[t.name]))
        for t in suite.theorems
    ]
    entries += [_entry(suite, p.name, p.sha256, (INVALID, p.reason)) for p in suite.problems]
    entries.sort(key=lambda e: e.name)
    return Manifest(
        suite=suite.name,
        format=suite.format,
        suite_sha256=suite.sha256(),
        checker=checker if check else "",
        entries=tuple(entries),
    )


def _status(reason: str | None) -> tuple[str, str]:
    return (OK, "") if reason is None else (INVALID, reason)


def _entry(suite: Suite, name: str, digest: str, status: tuple[str, str]) -> ManifestEntry:
    return ManifestEntry(
        name=name,
        file=suite.files[name],
        sha256=digest,
        audited=name in suite.audited,
        status=status[0],
        reason=status[1],
    )


def coq_checker(coqc: str = "coqc") -> tuple[Check, str]:
    """The Coq elaboration check and the version string that qualifies its verdicts."""
    from formal.coq.suite import check_statement

    try:
        version = subprocess.run([coqc, "--version"], capture_output=True, text=True, timeout=30).stdout
    except (FileNotFoundError, subprocess.TimeoutExpired) as e:
        raise ManifestError(f"cannot run {coqc} to elaborate statements: {e}") from None
    first = version.strip().splitlines()[0] if version.strip() else coqc
    return (lambda t: check_statement(t, coqc=coqc)), first


def write_manifest(manifest: Manifest, path: str | Path) -> None:
    """Write atomically: a reader never sees half a manifest, even if this process dies."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(json.dumps(manifest.to_json(), indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def load_manifest(path: str | Path) -> Manifest:
    """Read a manifest written by `write_manifest`; any malformation is a `ManifestError`."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if data.get("manifest_version") != MANIFEST_VERSION:
            raise ManifestError(f"{path}: unsupported manifest_version {data.get('manifest_version')!r}")
        entries = tuple(_parse_entry(row) for row in data["theorems"])
        return Manifest(
            suite=str(data["suite"]),
            format=str(data["format"]),
            suite_sha256=str(data["suite_sha256"]),
            checker=str(data.get("checker", "")),
            entries=entries,
        )
    except OSError as e:
        raise ManifestError(f"cannot read manifest {path}: {e.strerror or e}") from None
    except (json.JSONDecodeError, KeyError, TypeError, AttributeError) as e:
        raise ManifestError(f"{path}: not a suite manifest ({type(e).__name__}: {e})") from None


def _parse_entry(row: dict[str, Any]) -> ManifestEntry:
    entry = ManifestEntry(
        name=str(row["name"]),
        file=str(row["file"]),
        sha256=str(row["sha256"]),
        audited=bool(row["audited"]),
        status=str(row["status"]),
        reason=str(row.get("reason", "")),
    )
    if entry.status not in STATUSES:
        raise ManifestError(f"theorem {entry.name}: unknown status {entry.status!r}")
    return entry
