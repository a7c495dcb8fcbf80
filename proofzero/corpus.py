"""`proofzero corpus SOURCE... --out DIR [--seq-len N] [--decontaminate SUITE_DIR ...] [key=value ...]`.

Text directories (`NAME:DIR` keys files as NAME/<path>, like the tracer's source roots), text files,
traced shards, LeanDojo files and (on a cluster, with HF_HUB_OFFLINE=0) `hf:NAME[:SPLIT]` datasets
become byte-token sequences packed to a fixed length, written as `.npy` shards per split.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from proofzero.cli import UserError
from proofzero.config import load_config, split_overrides
from proofzero.dataset import load_benchmarks
from proofzero.outputs import check_output_dir, removed_on_failure

TRAILING_POSITIONALS = "inputs"  # `SOURCE... --out DIR key=value`: the dispatcher appends the trailing run


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "inputs",
        nargs="+",
        metavar="SOURCE",
        help="DIR, NAME:DIR, FILE, *.jsonl shards, LeanDojo *.json, hf:NAME[:SPLIT]; "
        "key=value items override the config",
    )
    p.add_argument("--out", required=True, type=Path, help="output directory")
    p.add_argument("--seq-len", type=int, default=None, help="tokens per sequence (overrides seq_len)")
    p.add_argument(
        "--decontaminate",
        nargs="+",
        action="extend",
        default=[],
        metavar="SUITE_DIR",
        help="leave out traced theorems stating a statement of these suites (text files are not filtered)",
    )
    p.add_argument("--config", default=None, help="YAML config (path or name under configs/)")


def run(args: argparse.Namespace) -> int:
    from data.corpus import CorpusConfig, CorpusSourceError, build_corpus
    from data.shards import TraceInputError

    sources, overrides = split_overrides(args.inputs)
    suites, more = split_overrides(args.decontaminate)  # `--decontaminate S key=value`: nargs="+" took it
    overrides += more
    if not sources:
        raise UserError("no SOURCE given (only key=value overrides)")
    if args.seq_len is not None:
        overrides.append(f"seq_len={args.seq_len}")
    cfg = load_config(CorpusConfig, args.config, overrides)
    check_output_dir(args.out, "--out")
    benchmarks = load_benchmarks(suites)
    try:
        with removed_on_failure(args.out):
            manifest = build_corpus(sources, args.out, cfg, benchmarks)
    except (TraceInputError, CorpusSourceError) as e:
        raise UserError(str(e)) from None
    except OSError as e:
        raise UserError(f"cannot write {args.out}: {e.strerror or e}") from None
    print(f"corpus {args.out}: seq_len {cfg.seq_len}, byte tokenizer (vocab {manifest['tokenizer']['vocab_size']})")
    if suites:
        print(f"decontamination: left out {len(manifest['dropped'])} traced theorems")
    print(f"{'split':<6} {'documents':>10} {'tokens':>12} {'sequences':>10} {'shards':>7}")
    for split, s in manifest["splits"].items():
        print(f"{split:<6} {s['documents']:>10} {s['tokens']:>12} {s['sequences']:>10} {len(s['shards']):>7}")
    return 0
