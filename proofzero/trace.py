"""`proofzero trace SOURCE... --out DIR [--workers N] [--config configs/trace/stdlib.yaml] [key=value]`.

SOURCE is a `.v` file, a directory (every `.v` below it), or the name of a source root of the
config (`stdlib`, `coquelicot` ...). A second run with the same OUT resumes: traced files are skipped.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from data.trace_run import format_summary, trace_files
from data.trace_sources import TraceConfig, find_sources
from proofzero.cli import UserError
from proofzero.config import load_config, split_overrides
from proofzero.outputs import check_output_dir

log = logging.getLogger(__name__)


def _options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", type=Path, help="output directory (shards/, errors.jsonl, summary.json); required")
    p.add_argument("--workers", type=int, default=None, help="files traced at once (overrides the config)")
    p.add_argument("--config", default=None, help="YAML config, a path or a name under configs/ (default trace/stdlib.yaml)")
    p.add_argument("--no-progress", action="store_true", default=None, help="no progress bar")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.usage = "proofzero trace SOURCE... --out DIR [--workers N] [--config FILE] [--no-progress] [key=value ...]"
    _options(p)
    # argparse stops filling a positional at the first option, so `SOURCE --out DIR key=value`
    # would leave key=value unparsed: everything from the first SOURCE on is parsed again in `run`.
    p.add_argument("items", nargs=argparse.REMAINDER, metavar="SOURCE... [key=value ...]",
                   help="files, directories or source roots of the config; key=value items override the config")


def _reparse(args: argparse.Namespace) -> argparse.Namespace:
    """Options and items in any order: options before the first SOURCE, and anything after it."""
    inner = argparse.ArgumentParser(prog="proofzero trace")
    _options(inner)
    inner.add_argument("items", nargs="*")
    later = inner.parse_intermixed_args(args.items)
    for name in ("out", "workers", "config", "no_progress"):
        if getattr(later, name) is None:
            setattr(later, name, getattr(args, name))
    return later


def run(args: argparse.Namespace) -> int:
    args = _reparse(args)
    specs, overrides = split_overrides(args.items)
    if args.workers is not None:
        overrides.append(f"workers={args.workers}")
    if not specs:
        raise UserError("no SOURCE given (a .v file, a directory or a source root of the config)")
    if args.out is None:
        raise UserError("--out DIR is required")
    check_output_dir(args.out, "--out")
    cfg = load_config(TraceConfig, args.config or "trace/stdlib.yaml", overrides)
    try:
        sources = find_sources(specs, cfg)
    except ValueError as e:
        raise UserError(str(e)) from None
    if not sources:
        raise UserError(f"no .v files in {' '.join(specs)}")
    log.info("tracing %d files with %d workers into %s", len(sources), cfg.workers, args.out)
    summary = trace_files(sources, cfg, args.out, progress=not args.no_progress)
    print(format_summary(summary))
    print(f"\nshards: {args.out / 'shards'}   errors: {args.out / 'errors.jsonl'}   summary: {args.out / 'summary.json'}")
    return 0
