"""`proofzero SUBCOMMAND ...`: a thin dispatcher.

Each subcommand lives in its own module exposing `add_arguments(parser)` and `run(args) -> int`;
it is imported only when chosen, so `proofzero verify` never pays for torch or ray.
User errors (bad paths, bad configs, bad files) print one line and exit non-zero, no traceback.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys

# name -> (module, one-line help)
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "verify": ("proofzero.verify", "re-check a Coq file or proof from scratch (the trusted checker)"),
    "prove": ("proofzero.prove", "run a prover over a benchmark suite and write results JSON"),
    "eval": ("proofzero.eval", "evaluate provers (automation, best-first, AND-OR, HTPS) side by side on a suite"),
    "suite": ("proofzero.suite", "load a benchmark suite and write or check its manifest"),
    "trace": ("proofzero.trace", "trace Coq files' proofs into state-tactic JSONL shards"),
    "dataset": ("proofzero.dataset", "build split state-tactic datasets (Arrow) from traced shards and LeanDojo files"),
    "corpus": ("proofzero.corpus", "build a tokenized, packed pretraining corpus from text and traced states"),
    "train": ("proofzero.train", "pretrain or fine-tune (SFT) the proof network with Lightning (DDP / DeepSpeed)"),
    "rl": ("proofzero.rl", "the AlphaZero loop: matchmaker, prover actors, replay, RL learner, held-out evaluation"),
    "rl-compare": ("proofzero.rl_compare", "an RL run's held-out result next to automation, model-free search and its SFT start"),
    "ttrl": ("proofzero.ttrl", "test-time RL on hard targets: variants, statement filters, a specialist RL loop per target"),
    "mathscale": ("proofzero.mathscale", "MathScale: concept walks, LLM generation, Coq-decided problems for RL, MWPBench scoring"),
    "wemath": ("proofzero.wemath", "WE-Math: four-dimensional scoring of responses (IK/IG/CM/RM), an endpoint runner"),
    "geometry": ("proofzero.geometry", "AlphaGeometry: synthetic theorems, DD+AR (newclid) with auxiliary constructions, solve rates"),
    "caseorrule": ("proofzero.caseorrule",
                   "Case-Based or Rule-Based: arithmetic splits, a small LM from scratch, accuracy in vs out of held-out squares"),
    "export": ("proofzero.export", "export a training checkpoint (Lightning or DeepSpeed ZeRO) as a Hugging Face model"),
}


class UserError(Exception):
    """An error caused by the user's input; reported as one line, exit code 2."""


def _offline_defaults() -> None:
    # Nothing downloads at run time unless the user asks for it explicitly.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("WANDB_MODE", "offline")
    # OpenMP threads that spin while waiting make torch several times slower as soon as another
    # CPU-bound job shares the cores (measured: 3x on 2 cores); passive waiting costs nothing alone.
    # Set before torch is imported (every heavy import here is lazy), inherited by DDP workers.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def main(argv: list[str] | None = None) -> int:
    _offline_defaults()
    parser = argparse.ArgumentParser(
        prog="proofzero",
        description="ProofZero: prove, check and evaluate with AlphaProof-style provers over Coq and Lean.",
        epilog="Each command takes a YAML config and key=value overrides; see `proofzero COMMAND --help`.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    argv = sys.argv[1:] if argv is None else argv
    chosen = next((a for a in argv if a in SUBCOMMANDS), None)
    for name, (module, help_) in SUBCOMMANDS.items():
        p = sub.add_parser(name, help=help_, description=help_)
        if name == chosen:
            importlib.import_module(module).add_arguments(p)
        else:
            p.add_argument("rest", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    args, extra = parser.parse_known_args(argv)
    module = importlib.import_module(SUBCOMMANDS[args.command][0])
    _take_trailing(parser, module, args, extra)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
    )
    try:
        return int(module.run(args) or 0)
    except UserError as e:
        print(f"proofzero {args.command}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"proofzero {args.command}: interrupted", file=sys.stderr)
        return 130


def _take_trailing(parser: argparse.ArgumentParser, module, args: argparse.Namespace, extra: list[str]) -> None:
    """`SOURCE... --out DIR key=value`: argparse takes one run of positionals and leaves the rest.

    A subcommand that names its positional list in `TRAILING_POSITIONALS` gets later runs appended
    to it; anything else left over (unknown options included) is an error, as with `parse_args`.
    """
    dest = getattr(module, "TRAILING_POSITIONALS", None)
    if extra and (dest is None or any(e.startswith("-") for e in extra)):
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    if extra:
        getattr(args, dest).extend(extra)


if __name__ == "__main__":
    # Run the imported module's main, so subcommands and this dispatcher share one UserError class.
    from proofzero.cli import main as _main

    sys.exit(_main())
