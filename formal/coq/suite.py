"""Rocq benchmark files as Theorems, parsed in memory, and the check that a statement elaborates.

The miniF2F-rocq files target Rocq 8.20/9; two mechanical differences from Coq 8.16 are bridged
here, never by rewriting the files: `From Stdlib Require` becomes `From Coq Require`, and a file
may end at `Proof.` (or `Proof. Admitted.`): only the sentences before the declaration and the
declaration itself are kept, so whatever follows it does not matter.
"""

from __future__ import annotations

import logging
import re
import shutil
import tempfile
from pathlib import Path

from formal.coq.allowlist import find_forbidden
from formal.coq.sentences import CoqSyntaxError, Sentence, split_sentences, strip_comments
from formal.coq.vernac import command_words, parse_command
from formal.isolation import Limits, run_isolated
from formal.theorem import Theorem

log = logging.getLogger(__name__)

DECLARATION_KEYWORDS = frozenset(
    {"Theorem", "Lemma", "Example", "Corollary", "Fact", "Remark", "Proposition", "Property"}
)
CHECK_TIMEOUT_S = 60.0
STATEMENT_MEMORY_MB = 4096
_MAX_REASON_CHARS = 400

_STDLIB = re.compile(r"\bFrom(\s+)Stdlib(\s+)Require\b")
_DECLARATION = re.compile(r"(?P<keyword>[A-Z][a-z]+)\s+(?P<name>[A-Za-z_][\w']*)(?P<rest>.*)", re.DOTALL)
_OPEN, _CLOSE = "([{", ")]}"


class StatementParseError(ValueError):
    """The file holds no declaration this loader can turn into a Theorem."""


def port_to_coq816(text: str) -> str:
    """Rocq 9 renamed the standard library's logical root; Coq 8.16 only knows the old one."""
    return _STDLIB.sub(r"From\1Coq\2Require", text)


def parse_coq_file(path: Path) -> Theorem:
    """The Theorem stated in one `.v` file; the declaration named like the file wins over later ones."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise StatementParseError(f"cannot read {path.name}: {e}") from None
    return parse_coq_source(text, name_hint=path.stem, source=str(path))


def parse_coq_source(text: str, name_hint: str = "", source: str = "") -> Theorem:
    """Split a Rocq document into header (everything before the declaration) and declaration."""
    text = port_to_coq816(text)
    try:
        sentences = split_sentences(text)
    except CoqSyntaxError as e:
        raise StatementParseError(str(e)) from None
    decl = _pick_declaration(sentences, name_hint)
    # The header is untrusted like any file the checker compiles: a prover runs it in Coq.
    if found := find_forbidden(s for s in sentences if s.start <= decl.start):
        raise StatementParseError(f"forbidden: line {found[0].line}: {found[1]}")
    if not decl.text.rstrip().endswith("."):
        raise StatementParseError(f"declaration of {_words(decl.text)[1]!r} is not terminated by '.'")
    name, binders, statement = split_declaration(decl.text)
    try:
        return Theorem(
            name=name,
            statement=statement,
            header=text[: decl.start].rstrip(),
            binders=binders,
            source=source,
            backend="coq",
        )
    except ValueError as e:  # Theorem validates its own fields
        raise StatementParseError(str(e)) from None


def _words(sentence_text: str) -> list[str]:
    return strip_comments(sentence_text).split()


def _is_declaration(sentence: Sentence) -> bool:
    words = command_words(sentence.body)
    return len(words) >= 2 and words[0] in DECLARATION_KEYWORDS


def _without_prefixes(code: str) -> str:
    """The declaration from its keyword on (`#[local] Theorem t ...` -> `Theorem t ...`)."""
    try:
        tokens = parse_command(code).tokens
    except CoqSyntaxError:
        return code
    return code[tokens[0].start:] if tokens else code


def _pick_declaration(sentences: list[Sentence], name_hint: str) -> Sentence:
    # imo_1966_p5.v states the problem, then a variant `imo_1966_p5'`: the file's name decides.
    decls = [s for s in sentences if _is_declaration(s)]
    if not decls:
        raise StatementParseError(f"no {'/'.join(sorted(DECLARATION_KEYWORDS))} declaration found")
    for s in decls:
        m = _DECLARATION.match(_without_prefixes(strip_comments(s.text).strip()))
        if m and m["name"] == name_hint:
            return s
    if name_hint:
        log.warning("no declaration named %s; using the last one", name_hint)
    return decls[-1]


def split_declaration(sentence_text: str, keywords: frozenset[str] = DECLARATION_KEYWORDS) -> tuple[str, str, str]:
    """(name, binders, statement) of one `Theorem name binders : statement.` sentence (attributes
    and control prefixes before the keyword are dropped; `keywords` are the kinds accepted)."""
    code = _without_prefixes(strip_comments(sentence_text).strip())
    if code.endswith(".") and not code.endswith(".."):
        code = code[:-1]
    m = _DECLARATION.match(code)
    if m is None or m["keyword"] not in keywords:
        raise StatementParseError(f"not a declaration: {code[:60]!r}")
    rest = m["rest"]
    colon = _top_level_colon(rest)
    if colon is None:
        raise StatementParseError(f"declaration of {m['name']!r} has no ':' before its statement")
    return m["name"], _tidy(rest[:colon]), _tidy(rest[colon + 1 :])


def _top_level_colon(text: str) -> int | None:
    """Index of the first ':' outside brackets and strings that is not part of ':=', '::' or ':>'."""
    depth, i, n = 0, 0, len(text)
    while i < n:
        c = text[i]
        if c == '"':
            i = text.index('"', i + 1) + 1 if '"' in text[i + 1 :] else n
            continue
        if c in _OPEN:
            depth += 1
        elif c in _CLOSE:
            depth -= 1
        elif c == ":" and depth == 0:
            nxt = text[i + 1] if i + 1 < n else " "
            prev = text[i - 1] if i > 0 else " "
            if nxt not in "=:>" and prev != ":":
                return i
        i += 1
    return None


def _tidy(text: str) -> str:
    """Drop trailing blanks and empty lines (left by removed comments) but keep the layout."""
    return "\n".join(line.rstrip() for line in text.strip().splitlines() if line.strip())


def check_source(theorem: Theorem) -> str:
    """The document that elaborates the statement alone: an admitted proof of it."""
    header = f"{theorem.header}\n\n" if theorem.header else ""
    return f"{header}{theorem.declaration()}\nProof.\nAdmitted.\n"


def check_statement(theorem: Theorem, timeout_s: float = CHECK_TIMEOUT_S, coqc: str = "coqc") -> str | None:
    """None if the statement elaborates with this Coq, else why not, as one line.

    A suite's header and statement are untrusted input like any other file: they go through the
    checker's command allowlist first, then a fresh coqc compiles them exactly as a prover would
    start from them, confined as the checker's own compiles are (`formal.isolation`).
    `FileNotFoundError` means there is no coqc.
    """
    source = check_source(theorem)
    try:
        found = find_forbidden(split_sentences(source))
    except CoqSyntaxError as e:
        return f"malformed Coq text: {e}"
    if found:
        return f"forbidden: line {found[0].line}: {found[1]}"
    argv = [shutil.which(coqc) or coqc, "-q", "Statement.v"]
    if shutil.which(argv[0]) is None:
        raise FileNotFoundError(f"{coqc} not found on PATH")
    with tempfile.TemporaryDirectory(prefix="pz-stmt-") as tmp:
        work = Path(tmp) / "work"
        work.mkdir()
        (work / "Statement.v").write_text(source, encoding="utf-8")
        done = run_isolated(argv, work, Limits(timeout_s, STATEMENT_MEMORY_MB))
    if done.escaped:
        return f"forbidden: compiling the statement wrote outside its scratch directory: {done.escaped[0]}"
    if done.timed_out:
        return f"timeout: the statement did not elaborate within {timeout_s:g}s"
    if done.returncode == 0:
        return None
    return coq_error_reason(done.stdout + done.stderr, done.returncode)


def coq_error_reason(output: str, returncode: int) -> str:
    """Coq's 'Error:' message, on one line (warnings and file positions dropped)."""
    at = output.find("Error:")
    message = output[at:] if at >= 0 else output.strip() or f"coqc exited with status {returncode}"
    message = " ".join(message.split())
    if len(message) > _MAX_REASON_CHARS:
        message = message[: _MAX_REASON_CHARS - 1] + "…"
    return message
