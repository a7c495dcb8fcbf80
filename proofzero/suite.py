"""`proofzero suite DIR [--write-manifest | --check]`: load a benchmark suite, pin it, or verify the pin.

Benchmark drift must be loud: `--check` exits 1 and names every statement whose hash no longer
matches the manifest.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import TYPE_CHECKING

from formal.manifest import MANIFEST_NAME, Check, ManifestError, build_manifest, coq_checker, write_manifest
from formal.suite import Suite, SuiteError, load_suite
from proofzero.cli import UserError

if TYPE_CHECKING:
    from tqdm import tqdm


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("dir", type=Path, help="suite directory (Rocq .v files or a Lean 4 miniF2F tree)")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument(
        "--write-manifest",
        action="store_true",
        help=f"elaborate every statement (Coq) and write DIR/{MANIFEST_NAME}",
    )
    mode.add_argument("--check", action="store_true", help=f"exit 1 if the files drifted from DIR/{MANIFEST_NAME}")
    parser.add_argument("--informal", type=Path, help="JSONL of informal statements to join by name")
    parser.add_argument("--workers", type=int, default=None, help="parallel coqc processes (default: CPU count)")


def run(args: argparse.Namespace) -> int:
    try:
        suite = load_suite(args.dir, informal_path=args.informal)
    except (SuiteError, ManifestError) as e:
        raise UserError(str(e)) from None
    _print_summary(suite)
    if args.check:
        return _check(suite)
    if args.write_manifest:
        _write(suite, args.workers)
    else:
        _print_invalid(suite.invalid, checked=suite.manifest is not None and not suite.drift)
    return 0


def _print_summary(suite: Suite) -> None:
    print(f"suite {suite.name} ({suite.format}): {len(suite)} statements, {len(suite.audited)} audited")
    print(f"suite sha256 {suite.sha256()}")
    if suite.informal:
        print(f"informal statements joined: {len(suite.informal)}/{len(suite)}")
    if suite.manifest is None:
        print(f"manifest: none ({MANIFEST_NAME} not found)")
    elif suite.drift:
        print(f"manifest: DRIFT in {len(suite.drift)} statements")
    else:
        print(f"manifest: matches ({suite.manifest.checker or 'statements not elaborated'})")


def _print_invalid(invalid: dict[str, str], checked: bool) -> None:
    scope = "" if checked else " (parse only; elaboration not checked)"
    print(f"invalid statements{scope}: {len(invalid)}")
    for name, reason in sorted(invalid.items()):
        print(f"  {name}: {reason}")


def _check(suite: Suite) -> int:
    if suite.manifest is None:
        raise UserError(f"no manifest to check: {suite.root / MANIFEST_NAME} (write one with --write-manifest)")
    if not suite.drift and suite.manifest.suite_sha256 == suite.sha256():
        print(f"manifest check: OK, {len(suite)} statements match")
        return 0
    print(f"manifest check: DRIFT, {len(suite.drift)} statements differ from {MANIFEST_NAME}:")
    for name, kind in suite.drift.items():
        print(f"  {kind}: {name}")
    if not suite.drift:
        print("  the manifest's suite_sha256 does not match its statements")
    return 1


def _write(suite: Suite, workers: int | None) -> None:
    check, checker = _checker(suite.format)
    start = time.monotonic()
    with _progress(len(suite.theorems)) as bar:
        manifest = build_manifest(suite, check, checker, workers=workers, on_done=lambda _name: bar.update())
    path = suite.root / MANIFEST_NAME
    try:
        write_manifest(manifest, path)
    except OSError as e:
        raise UserError(f"cannot write {path}: {e.strerror or e}") from None
    invalid = {e.name: e.reason for e in manifest.entries if e.status == "invalid_statement"}
    _print_invalid(invalid, checked=check is not None)
    ok = len(manifest.by_status("ok"))
    print(f"wrote {path}: {ok} ok, {len(invalid)} invalid, {len(manifest.by_status('unchecked'))} unchecked")
    print(f"elapsed {time.monotonic() - start:.1f}s")


def _checker(fmt: str) -> tuple[Check | None, str]:
    """Coq statements are elaborated here; Lean cannot run locally, so its statements stay unchecked."""
    if fmt != "rocq":
        return None, ""
    try:
        return coq_checker()
    except ManifestError as e:
        raise UserError(str(e)) from None


def _progress(total: int) -> tqdm:
    """A progress bar on a terminal, silent in logs and pipes."""
    from tqdm import tqdm

    return tqdm(total=total, unit="stmt", desc="elaborating", leave=False, disable=None)
