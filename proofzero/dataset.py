"""`proofzero dataset SOURCE... --out DIR [--decontaminate SUITE_DIR ...] [key=value ...]`.

Traced shards (a trace's output directory, `*.jsonl`) and LeanDojo Benchmark files (`*.json`) become
`DIR/random` and `DIR/novel_files` (Hugging Face `DatasetDict`s) and `DIR/summary.json`.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from proofzero.cli import UserError
from proofzero.config import load_config, split_overrides
from proofzero.outputs import check_output_dir, removed_on_failure

if TYPE_CHECKING:
    from data.dataset import BuildReport

SHOWN_DROPPED = 20  # the summary prints this many dropped theorems; summary.json has them all


TRAILING_POSITIONALS = "inputs"  # `SOURCE... --out DIR key=value`: the dispatcher appends the trailing run


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "inputs",
        nargs="+",
        metavar="SOURCE",
        help="trace output dirs, *.jsonl shards or LeanDojo *.json files; key=value items override the config",
    )
    p.add_argument("--out", required=True, type=Path, help="output directory")
    p.add_argument(
        "--decontaminate",
        nargs="+",
        action="extend",
        default=[],
        metavar="SUITE_DIR",
        help="drop theorems stating a statement of these benchmark suites",
    )
    p.add_argument("--config", default=None, help="YAML config (path or name under configs/)")


def run(args: argparse.Namespace) -> int:
    import datasets

    from data.dataset import DatasetConfig, build_dataset
    from data.shards import TraceInputError

    sources, overrides = split_overrides(args.inputs)
    suites, more = split_overrides(args.decontaminate)  # `--decontaminate S key=value`: nargs="+" took it
    overrides += more
    if not sources:
        raise UserError("no SOURCE given (only key=value overrides)")
    cfg = load_config(DatasetConfig, args.config, overrides)
    check_output_dir(args.out, "--out")
    benchmarks = load_benchmarks(suites)
    datasets.disable_progress_bars()
    try:
        with removed_on_failure(args.out):
            report = build_dataset(sources, args.out, cfg, benchmarks)
    except TraceInputError as e:
        raise UserError(str(e)) from None
    except OSError as e:
        raise UserError(f"cannot write {args.out}: {e.strerror or e}") from None
    _print_summary(report, args.out, suites, len(benchmarks))
    written = ", ".join(str(args.out / name) for name in ("random", "novel_files", "summary.json"))
    print(f"\nwrote {written} (the datasets load with datasets.load_from_disk)")
    return 0


def load_benchmarks(suite_dirs: list[str]) -> dict[str, str]:
    from data.decontaminate import benchmark_keys
    from formal.suite import SuiteError

    try:
        return benchmark_keys(suite_dirs)
    except SuiteError as e:
        raise UserError(str(e)) from None


def _print_summary(report: BuildReport, out: Path, suites: list[str], n_benchmarks: int) -> None:
    print(f"dataset {out}: {report.theorems_read} theorems read from {len(report.sources)} sources")
    print(f"skipped: {report.skipped_incomplete} incomplete, {report.skipped_empty} without tactics")
    if suites:
        print(
            f"decontamination against {', '.join(suites)} ({n_benchmarks} statements): "
            f"dropped {len(report.dropped)} theorems, {report.unchecked} without a statement unchecked"
        )
        for d in report.dropped[:SHOWN_DROPPED]:
            print(f"  dropped {d['full_name']} ({d['file_path']}) = {d['benchmark']}")
        if len(report.dropped) > SHOWN_DROPPED:
            print(f"  ... {len(report.dropped) - SHOWN_DROPPED} more in summary.json")
    print(f"{'scheme':<12} {'split':<6} {'rows':>9} {'theorems':>9} {'files':>6} {'dups':>7} {'in train':>8}")
    for scheme, splits in report.splits.items():
        for split, c in splits.items():
            print(
                f"{scheme:<12} {split:<6} {c['rows']:>9} {c['theorems']:>9} {c['files']:>6}"
                f" {c['duplicates']:>7} {c['pairs_in_train']:>8}"
            )
