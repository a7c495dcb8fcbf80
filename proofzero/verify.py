"""`proofzero verify FILE.v`: re-check a Coq file, or one proof of one theorem, with the trusted checker.

Exit 0 when verified, 1 when not (axiom, admitted, compile error, timeout, memory, forbidden command,
theorem not found), 2 for a user error (missing or malformed input, bad option).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from formal.coq.checker import (
    CheckerConfig,
    TheoremNameError,
    Verdict,
    resolve_theorem,
    verify_proof,
    verify_source,
)
from formal.coq.commands import INTERACTIVE_KINDS, THEOREM_KINDS, Declaration, declarations
from formal.coq.sentences import CoqSyntaxError, split_sentences
from formal.coq.suite import StatementParseError, split_declaration
from formal.theorem import Theorem
from proofzero.cli import UserError

_DEFAULTS = CheckerConfig()


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", type=Path,
                        help="Coq file (.v); with --proof-file, the file that states the theorem")
    parser.add_argument("--json", action="store_true", help="print the verdict as one JSON object")
    parser.add_argument("--timeout", type=float, default=_DEFAULTS.timeout_s, metavar="S",
                        help=f"wall-clock limit per Coq process, seconds (default {_DEFAULTS.timeout_s:g})")
    parser.add_argument("--memory-mb", type=int, default=_DEFAULTS.memory_mb, metavar="M",
                        help=f"address-space limit per Coq process, MiB (default {_DEFAULTS.memory_mb})")
    parser.add_argument("--coqchk", action="store_true", help="also re-check the compiled file with coqchk")
    parser.add_argument("--theorem", metavar="NAME",
                        help="check only this theorem (its full name, M.t inside modules, or an unambiguous suffix)")
    parser.add_argument("--proof-file", type=Path, metavar="F",
                        help="a proof script (tactics only) for --theorem; the statement comes from FILE")
    trust = parser.add_mutually_exclusive_group()
    trust.add_argument("--no-header-axioms", dest="trust_header_axioms", action="store_false",
                       help="with --proof-file: the proof may not use axioms FILE declares (the default)")
    trust.add_argument("--trust-header-axioms", dest="trust_header_axioms", action="store_true",
                       help="with --proof-file: axioms and parameters FILE declares before the theorem are "
                            "part of the problem and may be used (the verdict lists those used)")
    parser.set_defaults(trust_header_axioms=False)


def run(args: argparse.Namespace) -> int:
    if args.proof_file and not args.theorem:
        raise UserError("--proof-file needs --theorem NAME")
    try:
        config = CheckerConfig(timeout_s=args.timeout, memory_mb=args.memory_mb, coqchk=args.coqchk,
                               trust_header_axioms=args.trust_header_axioms)
    except ValueError as e:
        raise UserError(str(e)) from None
    text = _read(args.file)
    if args.proof_file:
        theorem, closing = theorem_from_source(text, args.theorem)
        verdict = verify_proof(theorem, _strip_proof_wrapper(_read(args.proof_file)), config, closing=closing)
    else:
        names = [find_declaration(text, args.theorem).name] if args.theorem else None
        verdict = verify_source(text, names, config)
    return _report(verdict, args.json)


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UserError(f"no such file: {path}") from None
    except UnicodeDecodeError:
        raise UserError(f"{path} is not UTF-8 text") from None
    except OSError as e:
        raise UserError(f"cannot read {path}: {e.strerror or e}") from None


def _report(verdict: Verdict, as_json: bool) -> int:
    if as_json:
        print(verdict.to_json())
    elif verdict.reason == "invalid_input":
        raise UserError(verdict.message)
    elif verdict.verified:
        axioms = sorted({a for used in verdict.assumptions.values() for a in used})
        print(f"verified: {verdict.message} ({verdict.seconds:.1f} s)")
        print(f"axioms used: {', '.join(axioms) if axioms else 'none'}")
        if verdict.trusted_axioms:
            print(f"trusted header axioms (declared by the statement file): {', '.join(verdict.trusted_axioms)}")
    else:
        print(f"not verified ({verdict.reason}): {verdict.message}", file=sys.stderr)
    if verdict.verified:
        return 0
    return 2 if verdict.reason == "invalid_input" else 1


def _strip_proof_wrapper(script: str) -> str:
    """Accept a proof file written as `Proof. ... Qed.`: the checker adds both itself."""
    try:
        sentences = split_sentences(script)
    except CoqSyntaxError:
        return script  # the checker reports it
    if sentences and sentences[-1].body == "Qed":
        script = script[: sentences[-1].start]
    if sentences and sentences[0].body == "Proof":
        script = script[sentences[0].end:]
    return script


def find_declaration(text: str, name: str) -> Declaration:
    """The one theorem `name` designates in a Coq file, or a UserError saying why not."""
    try:
        decls = declarations(split_sentences(text), with_bodies=True)
    except CoqSyntaxError as e:
        raise UserError(f"malformed Coq file: {e}") from None
    try:
        return resolve_theorem(decls, name)
    except TheoremNameError as e:
        raise UserError(str(e)) from None


def theorem_from_source(text: str, name: str) -> tuple[Theorem, str]:
    """The statement of exactly the theorem `name` of a Coq file (everything before its declaration
    is the header), and the `End` sentences that close the modules and sections around it."""
    decl = find_declaration(text, name)
    try:
        short, binders, statement = split_declaration(decl.sentence.text, THEOREM_KINDS | INTERACTIVE_KINDS)
        theorem = Theorem(name=short, statement=statement, header=text[: decl.sentence.start].rstrip(),
                          binders=binders, backend="coq")
    except (StatementParseError, ValueError) as e:
        raise UserError(f"cannot read the statement of {decl.name}: {e}") from None
    closing = "\n".join(f"End {scope}." for scope in reversed(decl.enclosing))
    return theorem, closing
