"""The trusted checker: the only judge of "proved" anywhere in ProofZero.

A proof counts only if independent steps agree. (1) Every sentence of the file is parsed as Coq
parses it and must be on an allowlist of commands (`formal.coq.allowlist`): nothing that reads or
writes files, loads code or weakens the kernel reaches Coq. (2) `coqc` compiles the whole file from
scratch in a fresh directory that is the only writable path it sees (`formal.isolation`), under one
wall-clock limit for the whole check and an address-space limit. (3) A *separate* Coq process, which
only `Require`s the compiled library, runs `Print Assumptions` on every checked theorem; each axiom
must be on the allowlist. (4) For a whole file, `coqchk -o` lists every axiom the library adds
(admitted proofs in functor instances and `Goal`s included), so nothing in the file escapes the audit.
Steps 3 and 4 run apart from the file, so nothing it prints, redefines or opens can fake them.
"""

from __future__ import annotations

import logging
import math
import re
import secrets
import shutil
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from formal.coq.allowlist import find_forbidden
from formal.coq.audit import (  # noqa: F401  (Assumptions, parse_assumptions: re-exported)
    LIBRARY,
    ROOT,
    Assumptions,
    audit_script,
    judge,
    parse_assumptions,
    parse_coqchk_summary,
    printed_name,
)
from formal.coq.audit import _blocks as audit_blocks
from formal.coq.commands import IDENT, QUALID, Declaration, declarations, header_axioms
from formal.coq.sandbox import TacticRejected, check_tactic
from formal.coq.sentences import _FOCUS, CoqSyntaxError, split_sentences
from formal.isolation import Completed, Limits, run_isolated
from formal.theorem import Theorem
from formal.verdict import REASONS, Verdict  # noqa: F401  (moved there; re-exported for old imports)

log = logging.getLogger(__name__)

# The axioms the Coq 8.16 Reals library itself relies on, by fully qualified name. Obtained by running
# `coqchk -o` over a library that `Require`s every module under Coq.Reals: its context summary lists
# exactly these four (and no type-in-type, unsafe fixpoint or assumed positivity). `Print Assumptions`
# on lemmas proved with lra, nra, lia, ln, exp, sqrt, Rpower, atan, sin/cos, PI and Coquelicot's
# is_lim/is_derive/Lim_seq agrees: each shows a subset (`classic` enters with ln, Rpower and atan).
REALS_AXIOMS = (
    "Coq.Reals.ClassicalDedekindReals.sig_forall_dec",
    "Coq.Reals.ClassicalDedekindReals.sig_not_dec",
    "Coq.Logic.FunctionalExtensionality.functional_extensionality_dep",
    "Coq.Logic.Classical_Prop.classic",
)
MAX_SOURCE_CHARS = 8 * 2**20


@dataclass(frozen=True)
class CheckerConfig:
    """`timeout_s` bounds the whole check (scan, compile, audit, coqchk); memory each process."""

    timeout_s: float = 60.0
    memory_mb: int = 4096  # address space; Coq needs about 1 GiB to load Reals
    allowed_axioms: tuple[str, ...] = REALS_AXIOMS
    coqchk: bool = False  # proofs of one theorem: also re-check with coqchk (whole files always do)
    # verify_proof: axioms and parameters the problem's own header declares are part of the problem
    # (amc12a_2016_p3 posits `Rfloor` and its specification); the verdict lists the ones trusted.
    trust_header_axioms: bool = True

    def __post_init__(self) -> None:
        t = self.timeout_s
        if not (isinstance(t, (int, float)) and math.isfinite(t) and t > 0):
            raise ValueError(f"timeout_s must be a positive number of seconds, got {self.timeout_s!r}")
        if not isinstance(self.memory_mb, int) or self.memory_mb < 64:
            raise ValueError(f"memory_mb must be an integer >= 64, got {self.memory_mb!r}")
        object.__setattr__(self, "allowed_axioms", tuple(self.allowed_axioms))
        for name in self.allowed_axioms:
            if not QUALID.fullmatch(name) or "." not in name:
                raise ValueError(f"allowed axiom {name!r} is not a fully qualified name")


def _fail(reason: str, message: str, theorems: Sequence[str] = (), **kw) -> Verdict:
    return Verdict(False, reason, message, tuple(theorems), **kw)


class _OutOfTime(Exception):
    pass


@dataclass
class _Check:
    """One check in progress: its limits, its deadline and its scratch directory."""

    config: CheckerConfig
    workdir: Path
    deadline: float

    def remaining(self) -> float:
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise _OutOfTime
        return left

    def run(self, argv: list[str], what: str) -> Completed | Verdict:
        """Run a Coq tool; a Verdict if it timed out, ran out of memory, or wrote outside."""
        run = run_isolated(argv, self.workdir, Limits(self.remaining(), self.config.memory_mb))
        if run.escaped:
            return _fail("forbidden", f"{what} wrote outside its scratch directory: {', '.join(run.escaped[:3])}")
        if run.timed_out:
            raise _OutOfTime
        if run.out_of_memory:
            return _fail("memory", f"{what} ran out of memory (limit {self.config.memory_mb} MiB)")
        return run


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise FileNotFoundError(f"{name} not found on PATH: the trusted checker needs Coq installed")
    return path


_LOCATION = re.compile(r'File "[^"]*", line (\d+), characters \d+-\d+:')


def coq_error(stderr: str, max_lines: int = 6) -> str:
    """Coq's error message, prefixed by its line number, from a failed run's stderr."""
    at = stderr.rfind("Error:")
    if at < 0:
        lines = [line for line in stderr.strip().splitlines() if line.strip()]
        return " ".join(lines[-max_lines:]) or "Coq failed without an error message"
    locs = list(_LOCATION.finditer(stderr, 0, at))
    text = " ".join(" ".join(stderr[at:].splitlines()[:max_lines]).split())
    return f"line {locs[-1].group(1)}: {text}" if locs else text


# ---------------------------------------------------------------- the audit processes

_NOT_FOUND = re.compile(rf"The reference {ROOT}\.{LIBRARY}\.(\S+?) was not found")


def _run_audit(check: _Check, theorems: Sequence[str]) -> dict[str, Assumptions] | Verdict:
    """Audit the compiled Candidate.vo; assumptions per theorem, or a failed Verdict.
    Allowlisted axioms come back under their fully qualified names."""
    config = check.config
    nonce = f"PZAUDIT-{secrets.token_hex(8)}"
    (check.workdir / "Audit.v").write_text(audit_script(nonce, theorems, config.allowed_axioms))
    run = check.run([_tool("coqc"), "-q", "-Q", ".", ROOT, "Audit.v"], "the axiom audit")
    if isinstance(run, Verdict):
        return replace(run, theorems=tuple(theorems))
    if m := _NOT_FOUND.search(" ".join(run.stderr.split())):
        return _fail("not_found", f"{m.group(1)} does not exist after compilation (aborted or never closed?)",
                     theorems)
    if run.returncode != 0:
        return _fail("compile_error", f"the axiom audit failed: {coq_error(run.stderr)}", theorems)
    blocks = audit_blocks(run.stdout, nonce)
    canonical = {}
    for i, fqn in enumerate(config.allowed_axioms):
        if (short := printed_name(blocks.get(f"A{i}", ""), fqn)) is not None:
            canonical[short] = fqn
    result = {}
    for i, name in enumerate(theorems):
        parsed = parse_assumptions(blocks.get(f"T{i}", ""))
        if parsed is None or "END" not in blocks:
            return _fail("compile_error",
                         f"the axiom audit of {name} printed output the checker does not understand", theorems)
        result[name] = replace(parsed, axioms=tuple(canonical.get(a, a) for a in parsed.axioms))
    return result


def _coqchk(check: _Check, theorems: Sequence[str], whole_file: bool,
            explicit_axioms: frozenset[str]) -> Verdict | None:
    """An independent kernel re-checks the compiled library (its dependencies are trusted). For a
    whole file, its summary also names every axiom the file adds, which must then be none."""
    run = check.run([_tool("coqchk"), "-silent", "-o", "-Q", ".", ROOT, "-norec", f"{ROOT}.{LIBRARY}"], "coqchk")
    if isinstance(run, Verdict):
        return replace(run, theorems=tuple(theorems))
    if run.returncode != 0:
        return _fail("compile_error", f"coqchk rejected the compiled file: {coq_error(run.stderr)}", theorems)
    summary = parse_coqchk_summary(run.stdout + run.stderr)
    if summary is None:
        return _fail("compile_error", "coqchk printed output the checker does not understand", theorems)
    if summary.unsafe:
        return _fail("forbidden", f"coqchk reports {summary.unsafe[0]}", theorems)
    own = summary.own_axioms()
    if whole_file and own:
        kinds = [f"axiom {a}" if a.rsplit(".", 1)[-1] in explicit_axioms else f"{a} (admitted)" for a in own]
        reason = "axiom" if own[0].rsplit(".", 1)[-1] in explicit_axioms else "admitted"
        more = f" (and {len(own) - 3} more)" if len(own) > 3 else ""
        return _fail(reason, f"the file adds assumptions: {', '.join(kinds[:3])}{more}", theorems)
    return None


# ---------------------------------------------------------------- entry points


def verify_file(path: str | Path, config: CheckerConfig | None = None, *,
                theorem_names: Sequence[str] | None = None) -> Verdict:
    """Check a .v file. Raises OSError if it cannot be read: a missing file is the caller's error."""
    raw = Path(path).read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        return _fail("invalid_input", f"{path} is not UTF-8 text: {e}")
    return verify_source(text, theorem_names, config)


def verify_source(text: str, theorem_names: Sequence[str] | None = None,
                  config: CheckerConfig | None = None) -> Verdict:
    """Check Coq source. With `theorem_names`, exactly those are audited and must be declared in the
    file; without, every theorem-like declaration is, and the file may add no axiom at all."""
    start = time.monotonic()
    if isinstance(theorem_names, str):
        theorem_names = [theorem_names]
    verdict = _verify(text, theorem_names, config or CheckerConfig(), start=start)
    log.debug("checker: %s (%s) in %.1f s", verdict.reason, verdict.message[:200], time.monotonic() - start)
    return replace(verdict, seconds=round(time.monotonic() - start, 3))


class TheoremNameError(ValueError):
    """A theorem name that does not pick exactly one theorem of the file."""


def resolve_theorem(decls: Sequence[Declaration], name: str) -> Declaration:
    """The one declaration `name` designates: its full name (`M.t`), or a suffix of exactly one
    full name. A definition given by a term is not a theorem; a name declared twice is ambiguous."""
    if not isinstance(name, str) or not QUALID.fullmatch(name):
        raise TheoremNameError(f"not a Coq name: {name!r}")
    exact = [d for d in decls if d.name == name]
    found = exact or [d for d in decls if d.name.endswith(f".{name}")]
    if len(found) > 1:
        where = ", ".join(f"{d.name} ({d.kind}, line {d.sentence.line})" for d in found)
        raise TheoremNameError(f"the name {name} is declared more than once: {where}")
    if not found:
        theorems = [d.name for d in decls if d.interactive]
        known = f"; the file declares {', '.join(theorems[:8])}" if theorems else ""
        raise TheoremNameError(f"no theorem named {name} in the file{known}")
    d = found[0]
    if not d.interactive:
        raise TheoremNameError(f"{d.name} is a {d.kind} given by a term (line {d.sentence.line}), not a theorem to prove")
    return d


def _scan(text: str) -> list | Verdict:
    """The file's sentences, or why the file is refused before Coq sees it."""
    if len(text) > MAX_SOURCE_CHARS:
        return _fail("invalid_input", f"the file is larger than {MAX_SOURCE_CHARS} characters")
    if "\0" in text:
        return _fail("invalid_input", "the file contains a NUL byte")
    try:
        sentences = split_sentences(text)
    except CoqSyntaxError as e:
        return _fail("invalid_input", f"malformed Coq text: {e}")
    if found := find_forbidden(sentences):
        s, why = found
        return _fail("forbidden", f"line {s.line}: {why}")
    return sentences


def _verify(text: str, names: Sequence[str] | None, config: CheckerConfig,
            trusted: frozenset[str] = frozenset(), *, start: float | None = None,
            proof_of: str | None = None) -> Verdict:
    start = time.monotonic() if start is None else start
    sentences = _scan(text)
    if isinstance(sentences, Verdict):
        return sentences
    decls = declarations(sentences, with_bodies=True)
    if proof_of is not None:
        targets = [proof_of]
    else:
        try:
            targets = list(dict.fromkeys(
                resolve_theorem(decls, n).name for n in names) if names is not None
                else (d.name for d in decls if d.interactive))
        except TheoremNameError as e:
            reason = "invalid_input" if str(e).startswith("not a Coq name") else "not_found"
            return _fail(reason, str(e))
    if not targets:
        return _fail("not_found", "no theorem to check in the file")
    with tempfile.TemporaryDirectory(prefix="proofzero-check-") as tmp:
        workdir = Path(tmp) / "work"  # the scratch dir; the directory above it is ours alone
        workdir.mkdir()
        check = _Check(config, workdir, start + config.timeout_s)
        try:
            return _compile_and_audit(check, text, targets, decls, trusted,
                                      whole_file=names is None and proof_of is None)
        except _OutOfTime:
            return _fail("timeout", f"the check ran past {config.timeout_s:g} s and was stopped", targets)


# native_compute would compile and dynlink OCaml code: keep it to the VM (a smaller trusted base).
_NO_NATIVE = ("-w", "-deprecated-native-compiler-option", "-native-compiler", "no")


def _compile_and_audit(check: _Check, text: str, targets: list[str], decls: Sequence[Declaration],
                       trusted: frozenset[str], whole_file: bool) -> Verdict:
    (check.workdir / f"{LIBRARY}.v").write_text(text)
    check.remaining()
    run = check.run([_tool("coqc"), "-q", *_NO_NATIVE, "-Q", ".", ROOT, f"{LIBRARY}.v"], "coqc")
    if isinstance(run, Verdict):
        return replace(run, theorems=tuple(targets))
    if run.returncode != 0:
        return _fail("compile_error", f"coqc failed: {coq_error(run.stderr)}", targets)
    if not (check.workdir / f"{LIBRARY}.vo").is_file():
        return _fail("compile_error", "coqc exited without writing the compiled library", targets)
    audit = _run_audit(check, targets)
    if isinstance(audit, Verdict):
        return audit
    verdict = judge(audit, check.config.allowed_axioms, {d.name for d in decls}, trusted)
    if verdict.verified and (whole_file or check.config.coqchk):
        if failure := _coqchk(check, targets, whole_file, header_axioms(text)):
            return replace(failure, assumptions=verdict.assumptions)
    return verdict


# ---------------------------------------------------------------- proofs of one theorem

_SELECTOR = re.compile(rf"^((?:\d+(?:\s*[-,]\s*\d+)*|all|!|\[{IDENT}\])\s*:)(?!=)\s*")
_BULLET = re.compile(r"[-+*]+")


class ScriptRejected(ValueError):
    """The proof script contains something other than tactics, bullets and braces."""


def sanitize_script(script: str) -> str:
    """Rebuild an untrusted proof script from checked pieces, one per line, so Coq sees exactly what
    was checked. Raises ScriptRejected (or CoqSyntaxError for unterminated comments/strings)."""
    pieces = []
    for s in split_sentences(script):
        body = s.body
        if _BULLET.fullmatch(body) or body in {"{", "}"} or _FOCUS.fullmatch(body):
            pieces.append(body)
            continue
        m = _SELECTOR.match(body)
        prefix = m.group(1) + " " if m else ""
        try:
            tactic = check_tactic(body[m.end():] if m else body)
        except TacticRejected as e:
            raise ScriptRejected(f"line {s.line}: {e}") from None
        pieces.append(f"{prefix}{tactic}.")
    return "\n".join(pieces)


def verify_proof(theorem: Theorem, proof_script: str, config: CheckerConfig | None = None, *,
                 closing: str = "") -> Verdict:
    """Check `proof_script` as a proof of `theorem`: header + declaration + Proof. + script + Qed.
    (+ `closing`, the `End M.` sentences of modules and sections the declaration sits in).

    Only the theorem itself is audited (its header may hold unrelated admitted lemmas; using one
    shows up in the theorem's own assumptions)."""
    start = time.monotonic()
    verdict = _verify_proof(theorem, proof_script, config or CheckerConfig(), closing, start)
    return replace(verdict, seconds=round(time.monotonic() - start, 3))


def _verify_proof(theorem: Theorem, proof_script: str, config: CheckerConfig, closing: str,
                  start: float) -> Verdict:
    if theorem.backend != "coq":
        return _fail("invalid_input", f"the Coq checker cannot check a {theorem.backend} theorem")
    if not isinstance(proof_script, str) or len(proof_script) > MAX_SOURCE_CHARS:
        return _fail("invalid_input", "the proof script is not a string of reasonable size", [theorem.name])
    try:
        script = sanitize_script(proof_script)
    except ScriptRejected as e:
        return _fail("forbidden", f"proof script rejected: {e}", [theorem.name])
    except CoqSyntaxError as e:
        return _fail("invalid_input", f"malformed proof script: {e}", [theorem.name])
    header = theorem.header.rstrip()
    opening = f"{header}\n\n" if header else ""
    ending = f"{closing.strip()}\n" if closing.strip() else ""
    text = f"{opening}{theorem.declaration()}\nProof.\n{script}\nQed.\n{ending}"
    target = _target_name(text, len(opening), theorem.name, script, closing)
    if isinstance(target, Verdict):
        return target
    try:
        trusted = header_axioms(theorem.header) if config.trust_header_axioms else frozenset()
    except CoqSyntaxError as e:
        return _fail("invalid_input", f"malformed header: {e}", [theorem.name])
    verdict = _verify(text, None, config, trusted, start=start, proof_of=target)
    used = {a for axioms in verdict.assumptions.values() for a in axioms}
    return replace(verdict, trusted_axioms=tuple(sorted(a for a in trusted if a in used)))


def _target_name(text: str, offset: int, name: str, script: str, closing: str) -> str | Verdict:
    """The qualified name of the theorem, after checking the file is header, one declaration,
    Proof., the script, Qed. and the closing `End`s (a statement with a stray '.' would otherwise
    change the shape)."""
    try:
        sentences = split_sentences(text)
        ends = split_sentences(closing)
    except CoqSyntaxError as e:
        return _fail("invalid_input", f"malformed header or statement: {e}", [name])
    if any(not re.fullmatch(rf"End {IDENT}", s.body) for s in ends):
        return _fail("invalid_input", "the closing text may only end modules and sections", [name])
    tail = [s for s in sentences if s.start >= offset]
    expected = 3 + len(split_sentences(script)) + len(ends)
    decl = [d for d in declarations(sentences) if d.sentence.start == offset]
    qed = tail[-1 - len(ends)] if len(tail) > len(ends) else None
    if (not decl or not (decl[0].name == name or decl[0].name.endswith(f".{name}")) or len(tail) != expected
            or tail[1].body != "Proof" or qed is None or qed.body != "Qed"):
        return _fail("invalid_input", f"the statement of {name} is not a single declaration", [name])
    return decl[0].name
