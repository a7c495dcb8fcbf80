"""The trusted checker: the only judge of "proved" anywhere in ProofZero.

A proof counts only if three independent steps agree. (1) A scan of the file's sentences rejects
commands that reach outside the sandbox (`Load`, `Drop`, `Redirect`, plugins, extraction) or switch
off kernel checks (guard, positivity, universes). (2) `coqc` compiles the whole file from scratch in a
fresh directory, under a wall-clock limit and an address-space limit. (3) A *separate* Coq process,
which only `Require`s the compiled library, runs `Print Assumptions` on every checked theorem; each
axiom must be on the allowlist. Step 3 runs apart so nothing the checked file prints, redefines or
opens can fake the audit: the file's own output is never read.
"""

from __future__ import annotations

import logging
import math
import os
import re
import resource
import secrets
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from formal.coq.commands import IDENT, QUALID, declarations, find_forbidden, header_axioms
from formal.coq.sandbox import TacticRejected, check_tactic
from formal.coq.sentences import _FOCUS, CoqSyntaxError, split_sentences
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

_ROOT, _LIBRARY = "ProofZeroAudit", "Candidate"  # the compiled file is ProofZeroAudit.Candidate


@dataclass(frozen=True)
class CheckerConfig:
    """Limits apply to each Coq process (the compile and the audit) separately."""

    timeout_s: float = 60.0
    memory_mb: int = 4096  # address space; Coq needs about 1 GiB to load Reals
    allowed_axioms: tuple[str, ...] = REALS_AXIOMS
    coqchk: bool = False  # also re-check the compiled library with coqchk (about 2 s more)
    # verify_proof: axioms and parameters the problem's own header declares are part of the problem
    # (amc12a_2016_p3 posits `Rfloor` and its specification); the verdict still lists them.
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


# ---------------------------------------------------------------- running Coq under limits


@dataclass(frozen=True)
class _Run:
    returncode: int
    stdout: str
    stderr: str
    timed_out: bool

    @property
    def out_of_memory(self) -> bool:
        return not self.timed_out and (
            "out of memory" in self.stderr.lower() or self.returncode == -signal.SIGKILL
        )


def _run_limited(argv: list[str], cwd: Path, config: CheckerConfig) -> _Run:
    """Run a Coq tool in its own process group, so a timeout kills it and anything it started."""
    limit = config.memory_mb * 2**20

    def set_limits() -> None:  # runs in the child, before exec
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    env = dict(os.environ, HOME=str(cwd), TMPDIR=str(cwd))
    log.debug("running %s in %s", argv, cwd)
    proc = subprocess.Popen(
        argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, start_new_session=True, preexec_fn=set_limits,
    )
    timed_out = False
    try:
        out, err = proc.communicate(timeout=config.timeout_s)
    except subprocess.TimeoutExpired:
        timed_out = True
        _kill_group(proc)
        out, err = proc.communicate()
    except BaseException:
        _kill_group(proc)
        raise
    return _Run(proc.returncode, out.decode(errors="replace"), err.decode(errors="replace"), timed_out)


def _kill_group(proc: subprocess.Popen) -> None:
    if proc.returncode is None:  # not reaped yet, so its pid (= group id) cannot have been reused
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


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


def _process_failure(run: _Run, what: str, config: CheckerConfig) -> Verdict | None:
    if run.timed_out:
        return _fail("timeout", f"{what} ran past {config.timeout_s:g} s and was killed")
    if run.out_of_memory:
        return _fail("memory", f"{what} ran out of memory (limit {config.memory_mb} MiB)")
    if run.returncode != 0:
        return _fail("compile_error", f"{what} failed: {coq_error(run.stderr)}")
    return None


# ---------------------------------------------------------------- the axiom audit


@dataclass(frozen=True)
class Assumptions:
    """What `Print Assumptions` reported for one theorem, as printed names."""

    axioms: tuple[str, ...] = ()
    unsafe: tuple[str, ...] = ()  # unchecked fixpoints, assumed positivity, type-in-type
    section_variables: tuple[str, ...] = ()


_HEADERS = ("Section Variables:", "Axioms:", "Transparent constants:", "Opaque constants:")
_THEORY = ("Set is impredicative", "Type hierarchy is collapsed (logic is inconsistent)")
_UNSAFE_ENTRY = re.compile(r"(\S+) (is assumed to be (?:guarded|positive)|relies on an unsafe hierarchy)\.")


def parse_assumptions(block: str) -> Assumptions | None:
    """Parse one `Print Assumptions` output; None if any line is not understood (never guess)."""
    if block.strip() == "Closed under the global context":
        return Assumptions()
    sections: dict[str, list[str]] = {}
    unsafe: list[str] = []
    current: list[str] | None = None
    for line in block.splitlines():
        line = line.rstrip()
        if not line:
            continue
        if line in _HEADERS:
            current = sections.setdefault(line, [])
        elif line in _THEORY:
            unsafe.append(line)
        elif current is None:
            return None
        elif line[0].isspace() or line[0] == ":":  # an entry's type, or a wrapped entry
            if not current:
                return None
            current[-1] += " " + line.strip()
        else:
            current.append(line)
    axioms = []
    for entry in sections.get("Axioms:", []):
        if m := _UNSAFE_ENTRY.fullmatch(entry):
            unsafe.append(f"{m.group(1)} {m.group(2)}")
        else:
            axioms.append(entry.split()[0])
    variables = tuple(entry.split()[0] for entry in sections.get("Section Variables:", []))
    if not (axioms or unsafe or variables):
        return None  # not closed, yet nothing assumed: output we do not understand
    return Assumptions(tuple(axioms), tuple(unsafe), variables)


def _marker(nonce: str, tag: str) -> str:
    return f'Goal True. idtac "{nonce} {tag}". Abort.'


def audit_script(nonce: str, theorems: Sequence[str], allowed: Sequence[str]) -> str:
    """`Locate` tells how each allowlisted axiom is printed in this very environment (so a file's
    look-alike `ClassicalDedekindReals.sig_forall_dec` cannot pass for it); then one
    `Print Assumptions` per theorem, each between markers the checked file cannot know."""
    lines = [f"Require {_ROOT}.{_LIBRARY}."]
    for i, fqn in enumerate(allowed):
        lines += [_marker(nonce, f"A{i}"), f"Locate Term {fqn}."]
    for i, name in enumerate(theorems):
        lines += [_marker(nonce, f"T{i}"), f"Print Assumptions {_ROOT}.{_LIBRARY}.{name}."]
    lines.append(_marker(nonce, "END"))
    return "\n".join(lines) + "\n"


def _blocks(stdout: str, nonce: str) -> dict[str, str]:
    parts = re.split(rf"^{re.escape(nonce)} (\S+)$", stdout, flags=re.M)
    return dict(zip(parts[1::2], parts[2::2]))


def printed_name(locate_block: str, fqn: str) -> str | None:
    """How `fqn` is printed in the audit environment, or None if it is not loaded there."""
    text = " ".join(locate_block.split())
    shorter = r"(?: \(shorter name to refer to it in current context is (\S+?)\))?"
    m = re.search(rf"(?:^| )Constant {re.escape(fqn)}{shorter}(?= |$)", text)
    if not m:
        return None
    return m.group(1) or fqn


def _local_name(printed: str) -> str | None:
    """The name inside the checked file of an object printed as `printed`, if it is the file's."""
    for prefix in (f"{_ROOT}.{_LIBRARY}.", f"{_LIBRARY}."):
        if printed.startswith(prefix):
            return printed[len(prefix):]
    return None


_NOT_FOUND = re.compile(rf"The reference {_ROOT}\.{_LIBRARY}\.(\S+?) was not found")


def run_audit(workdir: Path, theorems: Sequence[str],
              config: CheckerConfig) -> dict[str, Assumptions] | Verdict:
    """Audit the compiled Candidate.vo in `workdir`; assumptions per theorem, or a failed Verdict.
    Allowlisted axioms come back under their fully qualified names."""
    nonce = f"PZAUDIT-{secrets.token_hex(8)}"
    (workdir / "Audit.v").write_text(audit_script(nonce, theorems, config.allowed_axioms))
    run = _run_limited([_tool("coqc"), "-q", "-Q", ".", _ROOT, "Audit.v"], workdir, config)
    if not run.timed_out and not run.out_of_memory and (m := _NOT_FOUND.search(" ".join(run.stderr.split()))):
        return _fail("not_found", f"{m.group(1)} does not exist after compilation (aborted or never closed?)",
                     theorems)
    if failure := _process_failure(run, "the axiom audit", config):
        return replace(failure, theorems=tuple(theorems))
    blocks = _blocks(run.stdout, nonce)
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


def _display_name(printed: str, allowed: Sequence[str]) -> str:
    """The file's own objects by their name in the file, unless that reads like an allowlisted axiom
    (a file can declare `Module Coq. Module Logic. ...`): then by their absolute name."""
    local = _local_name(printed)
    if local is None:
        return printed
    return f"{_ROOT}.{_LIBRARY}.{local}" if local in allowed else local


def judge(audit: dict[str, Assumptions], allowed: Sequence[str], declared: set[str],
          trusted: frozenset[str] = frozenset()) -> Verdict:
    """Turn audited assumptions into a verdict: unsafe kernel settings, then admitted lemmas, then
    other axioms, each worse than the next one. `trusted` are axioms the problem itself declares
    (in a suite statement's header), by their name in the file."""
    problems: dict[str, list[str]] = {"forbidden": [], "admitted": [], "axiom": []}
    shown: dict[str, tuple[str, ...]] = {}
    for name, a in audit.items():
        shown[name] = tuple(_display_name(x, allowed) for x in a.axioms) + a.unsafe
        for u in a.unsafe:
            problems["forbidden"].append(f"{name}: {u}")
        for v in a.section_variables:
            problems["axiom"].append(f"{name} depends on section variable {v}")
        for ax in a.axioms:
            local = _local_name(ax)
            if ax in allowed or (local is not None and local in trusted):
                continue
            if local is not None and local in declared:
                problems["admitted"].append(f"{name} was admitted" if local == name
                                            else f"{name} relies on {local}, which was admitted")
            else:
                where = " (declared in the checked file)" if local is not None else ""
                problems["axiom"].append(
                    f"{name} uses axiom {_display_name(ax, allowed)}{where}, not in the allowlist")
    theorems = tuple(audit)
    for reason, found in problems.items():
        if found:
            more = f" (and {len(found) - 3} more)" if len(found) > 3 else ""
            return _fail(reason, "; ".join(found[:3]) + more, theorems, assumptions=shown)
    listed = ", ".join(theorems[:5]) + (", ..." if len(theorems) > 5 else "")
    return Verdict(True, "verified", f"{len(theorems)} theorem(s) verified: {listed}", theorems, shown)


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
    """Check Coq source. With `theorem_names`, exactly those are audited and must exist; without,
    every theorem-like declaration in the file is."""
    start = time.monotonic()
    if isinstance(theorem_names, str):
        theorem_names = [theorem_names]
    verdict = _verify(text, theorem_names, config or CheckerConfig())
    log.debug("checker: %s (%s) in %.1f s", verdict.reason, verdict.message[:200], time.monotonic() - start)
    return replace(verdict, seconds=round(time.monotonic() - start, 3))


def _verify(text: str, names: Sequence[str] | None, config: CheckerConfig,
            trusted: frozenset[str] = frozenset()) -> Verdict:
    if "\0" in text:
        return _fail("invalid_input", "the file contains a NUL byte")
    try:
        sentences = split_sentences(text)
    except CoqSyntaxError as e:
        return _fail("invalid_input", f"malformed Coq text: {e}")
    if found := find_forbidden(sentences):
        s, why = found
        return _fail("forbidden", f"line {s.line}: {why}")
    decls = declarations(sentences)
    targets = list(dict.fromkeys(names if names is not None else (d.name for d in decls)))
    if bad := [n for n in targets if not isinstance(n, str) or not QUALID.fullmatch(n)]:
        return _fail("invalid_input", f"not a Coq name: {bad[0]!r}")
    if not targets:
        return _fail("not_found", "no theorem to check in the file")
    with tempfile.TemporaryDirectory(prefix="proofzero-check-") as tmp:
        return _compile_and_audit(Path(tmp), text, targets, {d.name for d in decls}, config, trusted)


# native_compute would compile and dynlink OCaml code: keep it to the VM (a smaller trusted base).
_NO_NATIVE = ("-w", "-deprecated-native-compiler-option", "-native-compiler", "no")


def _compile_and_audit(workdir: Path, text: str, targets: list[str], declared: set[str],
                       config: CheckerConfig, trusted: frozenset[str] = frozenset()) -> Verdict:
    (workdir / f"{_LIBRARY}.v").write_text(text)
    run = _run_limited([_tool("coqc"), "-q", *_NO_NATIVE, "-Q", ".", _ROOT, f"{_LIBRARY}.v"],
                       workdir, config)
    if failure := _process_failure(run, "coqc", config):
        return replace(failure, theorems=tuple(targets))
    if not (workdir / f"{_LIBRARY}.vo").is_file():
        return _fail("compile_error", "coqc exited without writing the compiled library", targets)
    if config.coqchk and (failure := _coqchk(workdir, config)):
        return replace(failure, theorems=tuple(targets))
    audit = run_audit(workdir, targets, config)
    if isinstance(audit, Verdict):
        return audit
    return judge(audit, config.allowed_axioms, declared, trusted)


def _coqchk(workdir: Path, config: CheckerConfig) -> Verdict | None:
    """An independent kernel re-checks the compiled library (its dependencies are trusted)."""
    run = _run_limited([_tool("coqchk"), "-silent", "-o", "-Q", ".", _ROOT, "-norec", f"{_ROOT}.{_LIBRARY}"],
                       workdir, config)
    if failure := _process_failure(run, "coqchk", config):
        return failure
    summary = (run.stdout + run.stderr).splitlines()
    unsafe = [line for line in summary if line.startswith(("* Constants/Inductives", "* Inductives"))]
    if len(unsafe) != 3 or any(not line.rstrip().endswith("<none>") for line in unsafe):
        return _fail("forbidden", "coqchk reports unsafe fixpoints, assumed positivity or type-in-type")
    return None


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


def verify_proof(theorem: Theorem, proof_script: str, config: CheckerConfig | None = None) -> Verdict:
    """Check `proof_script` as a proof of `theorem`: header + declaration + Proof. + script + Qed.

    Only the theorem itself is audited (its header may hold unrelated admitted lemmas; using one
    shows up in the theorem's own assumptions)."""
    start = time.monotonic()
    verdict = _verify_proof(theorem, proof_script, config or CheckerConfig())
    return replace(verdict, seconds=round(time.monotonic() - start, 3))


def _verify_proof(theorem: Theorem, proof_script: str, config: CheckerConfig) -> Verdict:
    if theorem.backend != "coq":
        return _fail("invalid_input", f"the Coq checker cannot check a {theorem.backend} theorem")
    try:
        script = sanitize_script(proof_script)
    except ScriptRejected as e:
        return _fail("forbidden", f"proof script rejected: {e}", [theorem.name])
    except CoqSyntaxError as e:
        return _fail("invalid_input", f"malformed proof script: {e}", [theorem.name])
    header = theorem.header.rstrip()
    opening = f"{header}\n\n" if header else ""
    text = f"{opening}{theorem.declaration()}\nProof.\n{script}\nQed.\n"
    target = _target_name(text, len(opening), theorem.name, script)
    if isinstance(target, Verdict):
        return target
    try:
        trusted = header_axioms(theorem.header) if config.trust_header_axioms else frozenset()
    except CoqSyntaxError as e:
        return _fail("invalid_input", f"malformed header: {e}", [theorem.name])
    return _verify(text, [target], config, trusted)



def _target_name(text: str, offset: int, name: str, script: str) -> str | Verdict:
    """The qualified name of the theorem, after checking the file is header, one declaration,
    Proof., the script, Qed. (a statement with a stray '.' would otherwise change the shape)."""
    try:
        sentences = split_sentences(text)
    except CoqSyntaxError as e:
        return _fail("invalid_input", f"malformed header or statement: {e}", [name])
    tail = [s for s in sentences if s.start >= offset]
    expected = 3 + len(split_sentences(script))
    decl = [d for d in declarations(sentences) if d.sentence.start == offset]
    if (not decl or not (decl[0].name == name or decl[0].name.endswith(f".{name}")) or len(tail) != expected
            or tail[1].body != "Proof" or tail[-1].body != "Qed"):
        return _fail("invalid_input", f"the statement of {name} is not a single declaration", [name])
    return decl[0].name
