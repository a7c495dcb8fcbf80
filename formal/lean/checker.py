"""The trusted checker for Lean 4: the only judge of "proved" for a Lean theorem.

A proof counts only if three steps agree. (1) The script is untrusted text: a sandbox check rejects
commands (`open` and `open Foo in` included; the statement's header, part of the problem, may open
namespaces), `sorry`/`admit`, options and attributes before Lean sees it. (2) The whole file (the
statement's header, the declaration, the indented script) is compiled from scratch by
`lake env lean FILE` in a fresh process, in a fresh directory inside the Lean project, under a
wall-clock limit and an address-space limit; any error fails the check. (3) `#print axioms` of the
theorem, printed between two markers that carry a random nonce, is audited against an allowlist
(`propext`, `Classical.choice`, `Quot.sound`); `sorryAx` means admitted. The script runs inside the
theorem's command, so whatever it prints comes before the first marker and cannot fake the audit.

Lean cannot run where this project is developed: the output formats parsed here are Lean's own
(`'n' depends on axioms: [..]`, `'n' does not depend on any axioms`, `FILE:L:C: error: ..`, as in
Lean's sources and test outputs), and the process handling is tested against a stand-in `lake`.
"""

from __future__ import annotations

import logging
import math
import os
import re
import secrets
import shutil
import signal
import subprocess
import tempfile
import textwrap
import time
from dataclasses import dataclass, replace
from pathlib import Path

from formal.isolation import preexec_limits
from formal.session import EnvironmentCrash
from formal.theorem import Theorem
from formal.verdict import Verdict  # one verdict type for both backends (REASONS there)

log = logging.getLogger(__name__)

STANDARD_AXIOMS = ("propext", "Classical.choice", "Quot.sound")
"""The axioms Lean and Mathlib are built on; anything else (`sorryAx`, `Lean.ofReduceBool` from
`native_decide`, a file's own `axiom`) fails the audit."""

PROJECT_ENV = "PROOFZERO_LEAN_PROJECT"
FILE_NAME = "ProofZeroCheck.lean"
_LEAN_NAME = re.compile(r"[^\W\d][\w'!?]*(?:\.[^\W\d][\w'!?]*)*")


class LeanToolMissing(EnvironmentCrash):
    """`lake`, the Lean project or its Mathlib is not usable: an environment error, never a verdict."""


@dataclass(frozen=True)
class LeanCheckerConfig:
    """Where Lean lives and the limits of one check. `project` empty means `$PROOFZERO_LEAN_PROJECT`."""

    project: str = ""  # a Lake project with Mathlib built (`lake exe cache get && lake build`)
    lake: str = "lake"  # name on PATH or a path; `lake env lean FILE` runs in `project`
    timeout_s: float = 300.0  # wall clock for the whole compile; miniF2F headers set maxHeartbeats 0
    # Address space of lake and lean together. Lean maps every imported .olean into memory (all of
    # Mathlib for `import Mathlib`), so this is far above the resident size. None: no limit.
    memory_mb: int | None = 32768
    allowed_axioms: tuple[str, ...] = STANDARD_AXIOMS
    lean_args: tuple[str, ...] = ()  # extra `lean` options, e.g. ("--threads=1",)
    scratch: str = ".lake/proofzero-check"  # temp dirs go here, inside the project

    def __post_init__(self) -> None:
        t = self.timeout_s
        if not (isinstance(t, (int, float)) and math.isfinite(t) and t > 0):
            raise ValueError(f"timeout_s must be a positive number of seconds, got {t!r}")
        if self.memory_mb is not None and (not isinstance(self.memory_mb, int) or self.memory_mb < 256):
            raise ValueError(f"memory_mb must be an integer >= 256 or None, got {self.memory_mb!r}")
        object.__setattr__(self, "allowed_axioms", tuple(self.allowed_axioms))
        object.__setattr__(self, "lean_args", tuple(self.lean_args))
        for name in self.allowed_axioms:
            if not _LEAN_NAME.fullmatch(name):
                raise ValueError(f"allowed axiom {name!r} is not a Lean name")
        if "sorryAx" in self.allowed_axioms:
            raise ValueError("sorryAx can never be allowed: it is how Lean records `sorry`")
        if Path(self.scratch).is_absolute() or ".." in Path(self.scratch).parts:
            raise ValueError(f"scratch must be a relative path inside the project, got {self.scratch!r}")

    def project_dir(self) -> Path:
        """The Lean project, checked to look like one; LeanToolMissing otherwise."""
        raw = self.project or os.environ.get(PROJECT_ENV, "")
        if not raw:
            raise LeanToolMissing(f"no Lean project: set checker project= or ${PROJECT_ENV} (docs/lean.md)")
        path = Path(raw).expanduser()
        if not path.is_dir():
            raise LeanToolMissing(f"the Lean project {path} does not exist")
        if not any((path / f).is_file() for f in ("lakefile.lean", "lakefile.toml")):
            raise LeanToolMissing(f"{path} is not a Lake project (no lakefile.lean or lakefile.toml)")
        return path

    def lake_path(self) -> str:
        found = shutil.which(self.lake)
        if found is None:
            raise LeanToolMissing(
                f"{self.lake!r} not found on PATH: the Lean checker needs elan/lake installed (docs/lean.md)")
        return found


# ---------------------------------------------------------------- the untrusted script

# Whole words that begin a command or change what the kernel checks; none is a tactic
# (`set_option` would allow `debug.skipKernelTC`). A second layer under formal/lean/sandbox.py, and
# as strict: `open` is refused in a proof too, `open Foo in tac` included (a proof can write names
# qualified). Only the proof script is scanned: the statement's header is part of the problem and
# may open namespaces (miniF2F's `open BigOperators Real Nat Topology Rat`).
_FORBIDDEN_WORDS = (
    "sorry", "admit", "sorryAx", "axiom", "axioms", "theorem", "lemma", "def", "example", "instance",
    "abbrev", "opaque", "structure", "class", "inductive", "mutual", "import", "namespace", "section",
    "end", "open", "variable", "universe", "set_option", "macro", "macro_rules", "syntax", "elab", "elab_rules",
    "notation", "infix", "infixl", "infixr", "prefix", "postfix", "attribute", "run_tac", "run_cmd",
    "run_elab", "run_meta", "initialize", "builtin_initialize", "declare_syntax_cat", "unsafe",
    "private", "protected", "noncomputable", "export", "implemented_by", "extern",
)
_FORBIDDEN = re.compile(r"(?<![\w.'])(" + "|".join(map(re.escape, _FORBIDDEN_WORDS)) + r")(?![\w'])")
_COMMAND = re.compile(r"#(eval|exit|print|check|reduce|synth|guard\w*|help|time|lint|where|find|norm_num|"
                      r"simp|conv|html|widget|output|import|explode|count_heartbeats)\b")


def script_problem(text: str) -> str | None:
    """Why a whole proof script may not reach Lean, or None.

    The backend's sandbox (`formal.lean.sandbox.check_script`: a reason or None) decides first;
    this module's own scan always runs too, so the checker never rests on one layer alone.
    """
    return _problem(text, "check_script")


def tactic_problem(text: str, theorem_name: str | None = None) -> str | None:
    """Why one tactic may not reach Lean (`formal.lean.sandbox.check_tactic`, then the scan)."""
    return _problem(text, "check_tactic", theorem_name)


def _problem(text: str, check: str, *args: object) -> str | None:
    if not isinstance(text, str) or not text.strip():
        return "empty proof script"
    if "\0" in text:
        return "the script contains a NUL byte"
    try:
        from formal.lean import sandbox  # the backend's tactic sandbox
    except ImportError:
        sandbox = None
    layer = getattr(sandbox, check, None)
    if layer is not None and (reason := layer(text, *args)):
        return str(reason)
    if m := _FORBIDDEN.search(text):
        return f"`{m.group(1)}` is not allowed in a proof"
    if m := _COMMAND.search(text):
        return f"`{m.group(0)}` is a command, not a tactic"
    if "@[" in text:
        return "attributes are not allowed in a proof"
    return None


# ---------------------------------------------------------------- the file


def indent_script(script: str, by: int = 2) -> str:
    """The script as the body of `:= by`: common indentation removed, then every line indented."""
    lines = textwrap.dedent(script.expandtabs(2)).strip("\n").splitlines()
    pad = " " * by
    return "\n".join(pad + line.rstrip() if line.strip() else "" for line in lines)


def marker(nonce: str, tag: str) -> str:
    return f"{nonce} {tag}"


def lean_file(theorem: Theorem, proof_script: str, nonce: str) -> str:
    """Header, declaration, the indented script, then `#print axioms` between nonce markers."""
    header = theorem.header.strip()
    opening = f"{header}\n\n" if header else ""
    return (
        f"{opening}{theorem.declaration()}\n{indent_script(proof_script)}\n\n"
        f'#print "{marker(nonce, "BEGIN")}"\n'
        f"#print axioms {theorem.name}\n"
        f'#print "{marker(nonce, "END")}"\n'
    )


# ---------------------------------------------------------------- Lean's output

# `FILE:L:C: error: msg`, `FILE:L:C-L:C: error(lean.name): msg` (newer Lean names its errors).
_MESSAGE = re.compile(r"^(?P<file>[^\n]*?):(?P<line>\d+):(?P<col>\d+)(?:-\d+:\d+)?: "
                      r"(?P<severity>error|warning|info)(?:\([^)\n]*\))?: ?(?P<text>.*)$", re.M)
_REPORT = re.compile(
    r"'(?P<name>(?:[^'\n]|'(?! (?:depends|does) ))+)' "
    r"(?:(?P<none>does not depend on any axioms)|depends on axioms: \[(?P<axioms>[^\]]*)\])"
)
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


@dataclass(frozen=True)
class LeanMessage:
    line: int
    severity: str
    text: str


def lean_messages(output: str, file_name: str = FILE_NAME) -> list[LeanMessage]:
    """Positioned messages about `file_name`; a message's continuation lines join its text."""
    output = _ANSI.sub("", output)
    found = list(_MESSAGE.finditer(output))
    out = []
    for i, m in enumerate(found):
        if not m["file"].endswith(file_name):
            continue
        end = found[i + 1].start() if i + 1 < len(found) else len(output)
        text = (m["text"] + output[m.end():end]).strip()
        out.append(LeanMessage(int(m["line"]), m["severity"], text))
    return out


def parse_axiom_reports(output: str) -> dict[str, tuple[str, ...]]:
    """`#print axioms` reports by theorem name, in either format and with or without a location
    prefix; a long list that Lean wrapped over several lines is joined."""
    reports: dict[str, tuple[str, ...]] = {}
    for m in _REPORT.finditer(_ANSI.sub("", output)):
        axioms = () if m["none"] else tuple(a.strip() for a in m["axioms"].split(",") if a.strip())
        reports[m["name"]] = axioms
    return reports


def audit_section(output: str, nonce: str) -> str | None:
    """The output between the markers, i.e. what `#print axioms` itself printed; None if absent."""
    begin, end = marker(nonce, "BEGIN"), marker(nonce, "END")
    i = output.find(begin)
    j = output.find(end, i + len(begin)) if i >= 0 else -1
    if i < 0 or j < 0:
        return None
    return output[i + len(begin):j]


def judge_axioms(name: str, reports: dict[str, tuple[str, ...]], allowed: tuple[str, ...]) -> Verdict:
    """The verdict on one theorem's audited axioms (its own name, or `Ns.name` inside a namespace)."""
    matches = [k for k in reports if k == name or k.endswith(f".{name}")]
    if len(matches) != 1:
        what = "no" if not matches else "an ambiguous"
        return Verdict(False, "not_found", f"the axiom audit printed {what} report for {name}", (name,))
    full = matches[0]
    axioms = reports[full]
    shown = {full: axioms}
    if "sorryAx" in axioms:
        return Verdict(False, "admitted", f"{full} depends on sorryAx (a `sorry` somewhere in its proof)",
                       (full,), shown)
    if bad := [a for a in axioms if a not in allowed]:
        return Verdict(False, "axiom", f"{full} uses axiom(s) outside the allowlist: {', '.join(bad)}",
                       (full,), shown)
    used = ", ".join(axioms) if axioms else "no axioms"
    return Verdict(True, "verified", f"{full} verified ({used})", (full,), shown)


# ---------------------------------------------------------------- running Lean under limits


@dataclass(frozen=True)
class _Run:
    returncode: int
    output: str
    timed_out: bool

    @property
    def out_of_memory(self) -> bool:
        text = self.output.lower()
        return not self.timed_out and (
            "out of memory" in text or "std::bad_alloc" in text or self.returncode == -signal.SIGKILL)


def _run_limited(argv: list[str], cwd: Path, config: LeanCheckerConfig, scratch: Path) -> _Run:
    """Run in a new process group (a timeout kills lake, lean and anything they started)."""
    # Dies with the checker, CPU time capped as the last net; no mount namespace: lake runs in the
    # project and elan may write under HOME, which a read-only view would turn into env errors.
    set_limits = preexec_limits(config.memory_mb or None, 2 * config.timeout_s + 10)
    env = dict(os.environ, TMPDIR=str(scratch))  # HOME stays: elan finds its toolchains there
    log.debug("running %s in %s", argv, cwd)
    proc = subprocess.Popen(argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, start_new_session=True, preexec_fn=set_limits)
    timed_out = False
    try:
        out, _ = proc.communicate(timeout=config.timeout_s)
    except subprocess.TimeoutExpired:
        timed_out = True
        _kill_group(proc)
        out, _ = proc.communicate()
    except BaseException:
        _kill_group(proc)
        raise
    return _Run(proc.returncode, out.decode(errors="replace"), timed_out)


def _kill_group(proc: subprocess.Popen) -> None:
    if proc.returncode is None:  # not reaped yet, so its pid (= group id) cannot have been reused
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


_ENV_PROBLEMS = ("unknown module prefix", "unknown package", "object file", "could not resolve 'HEAD'",
                 "failed to load", "lakefile")


def _interpret(run: _Run, theorem: Theorem, text: str, nonce: str, config: LeanCheckerConfig) -> Verdict:
    name = theorem.name
    if run.timed_out:
        return Verdict(False, "timeout", f"lake env lean ran past {config.timeout_s:g} s and was killed", (name,))
    if run.out_of_memory:
        return Verdict(False, "memory", f"lean ran out of memory (limit {config.memory_mb} MiB)", (name,))
    errors = [m for m in lean_messages(run.output) if m.severity == "error"]
    decl = theorem.declaration()
    decl_line = text.count("\n", 0, text.find(decl)) + 1
    script_line = decl_line + decl.count("\n") + 1
    if errors and errors[0].line < decl_line and any(p in errors[0].text for p in _ENV_PROBLEMS):
        raise LeanToolMissing(f"the Lean project cannot load the header: line {errors[0].line}: {errors[0].text}")
    if errors:
        first = errors[0]
        where = ("in the header, " if first.line < decl_line
                 else "in the statement, " if first.line < script_line else "")
        more = f" (and {len(errors) - 1} more errors)" if len(errors) > 1 else ""
        return Verdict(False, "compile_error", f"{where}line {first.line}: {_one_line(first.text)}{more}", (name,))
    if run.returncode != 0:
        tail = _one_line(" ".join(run.output.strip().splitlines()[-6:])) or "no output"
        raise LeanToolMissing(f"lake env lean exited with {run.returncode} without a Lean error: {tail}")
    section = audit_section(run.output, nonce)
    if section is None:
        return Verdict(False, "compile_error", "the axiom audit did not run (no markers in Lean's output)", (name,))
    return judge_axioms(name, parse_axiom_reports(section), config.allowed_axioms)


def _one_line(text: str, limit: int = 400) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


# ---------------------------------------------------------------- entry point


def verify_lean_proof(theorem: Theorem, proof_script: str, config: LeanCheckerConfig | None = None) -> Verdict:
    """Check `proof_script` (the tactics after `:= by`) as a proof of `theorem`.

    Returns a Verdict (the Coq checker's type and reasons). Raises LeanToolMissing (an
    EnvironmentCrash) when lake, the project or its imports are unusable: that is an env_error,
    never "not verified".
    """
    start = time.monotonic()
    verdict = _verify(theorem, proof_script, config or LeanCheckerConfig())
    log.debug("lean checker: %s (%s) in %.1f s", verdict.reason, verdict.message[:200], time.monotonic() - start)
    return replace(verdict, seconds=round(time.monotonic() - start, 3))


def _verify(theorem: Theorem, proof_script: str, config: LeanCheckerConfig) -> Verdict:
    if theorem.backend != "lean":
        return Verdict(False, "invalid_input", f"the Lean checker cannot check a {theorem.backend} theorem")
    if problem := script_problem(proof_script):
        reason = "invalid_input" if problem == "empty proof script" else "forbidden"
        return Verdict(False, reason, f"proof script rejected: {problem}", (theorem.name,))
    project = config.project_dir()
    lake = config.lake_path()
    nonce = f"PZAUDIT-{secrets.token_hex(8)}"
    text = lean_file(theorem, proof_script, nonce)
    scratch_root = project / config.scratch
    scratch_root.mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="check-", dir=scratch_root))
    try:
        path = workdir / FILE_NAME
        path.write_text(text, encoding="utf-8")
        try:
            run = _run_limited([lake, "env", "lean", *config.lean_args, str(path)], project, config, workdir)
        except OSError as e:
            raise LeanToolMissing(f"cannot run {lake}: {e}") from None
        return _interpret(run, theorem, text, nonce, config)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
