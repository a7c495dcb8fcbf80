"""Tactics are untrusted input: accept exactly one Coq tactic expression, reject everything else.

The check runs before Coq sees the text. It is an allowlist on the sentence's shape (one sentence,
starting like a tactic, not a vernacular command) plus a denylist of tactics that give up goals or
skip the type checker. Anything that slips through is still caught by the trusted checker, which
re-checks every proof from scratch; this layer keeps the search's own bookkeeping honest.
"""

from __future__ import annotations

import re
import unicodedata

from formal.coq.sentences import CoqSyntaxError, _skip_string, strip_comments

MAX_TACTIC_CHARS = 4000

# Tactics that close goals without proving them, or bypass type checking in tactic mode.
FORBIDDEN_TACTICS = frozenset(
    {
        "admit",
        "give_up",
        "exact_no_check",
        "vm_cast_no_check",
        "native_cast_no_check",
        "change_no_check",
    }
)

# Vernacular words that must never appear as a word in a tactic (commands, proof enders, prefixes).
FORBIDDEN_WORDS = frozenset(
    {
        "Admitted", "Abort", "Qed", "Defined", "Save", "Proof", "Restart", "Undo", "Back", "BackTo",
        "Axiom", "Axioms", "Parameter", "Parameters", "Hypothesis", "Hypotheses", "Variable",
        "Variables", "Conjecture", "Context", "Definition", "Lemma", "Theorem", "Fact", "Remark",
        "Corollary", "Proposition", "Example", "Fixpoint", "CoFixpoint", "Inductive", "CoInductive",
        "Record", "Structure", "Class", "Instance", "Existing", "Program", "Let", "Module", "Section",
        "End", "Drop", "Load", "Redirect", "Extraction", "Recursive", "Separate", "Cd", "Pwd", "Add",
        "LoadPath", "Declare", "ML", "Require", "Import", "Export", "From", "Set", "Unset", "Local",
        "Global", "Timeout", "Time", "Fail", "Succeed", "Ltac", "Ltac2", "Tactic", "Notation", "Infix",
        "Hint", "Opaque", "Transparent", "Strategy", "Arguments", "Focus", "Unfocus", "Unfocused",
        "Unshelve", "Show", "Print", "Check", "Eval", "Compute", "Search", "Guarded", "Optimize",
        "Abstract", "Quit", "Reset", "Goal", "Obligation", "Obligations", "Solve", "Next", "Collection",
        "Include", "Universe", "Universes", "Constraint", "Polymorphic", "Monomorphic", "Cumulative",
        "Register", "Primitive", "Scheme", "Functional", "Derive", "Canonical", "Coercion",
        "Generalizable", "Implicit", "Bind", "Delimit", "Open", "Close", "Reserved", "Type",
    }
)

# Sorts are legitimate terms inside tactics (`assert (X : Type)`); a sentence that starts with
# `Set` is still rejected as a command by the start check.
FORBIDDEN_WORDS = FORBIDDEN_WORDS - {"Type", "Set"}

_WORD = re.compile(r"[A-Za-z_][\w']*")
# '.' or `Proof with`'s '...', then a blank, ends a sentence; the notation token '..' does not.
_TERMINATOR = re.compile(r"(?<!\.)(?:\.\.\.|\.)(?=\s)")
_SELECTOR = re.compile(r"^\s*(?:\d+(?:\s*[-,]\s*\d+)*|all|par|\[[^\]]*\]|!)\s*:(?!=)")
_TACTIC_START = re.compile(r"^[a-z_(]")


class TacticRejected(ValueError):
    """The text is not exactly one acceptable tactic expression."""


def _outside_strings(code: str) -> list[str]:
    """The pieces of `code` that are not string literals (comments are already gone)."""
    parts, i = [], 0
    while (j := code.find('"', i)) != -1:
        parts.append(code[i:j])
        i = _skip_string(code, j + 1)
    parts.append(code[i:])
    return parts


def unsendable(text: str) -> str | None:
    """Why `text` cannot go to coqidetop as it is (a phrase: "is not ...", "contains ..."), or None.

    The XML protocol carries UTF-8: a string Python cannot encode (an unpaired surrogate, as
    ``surrogateescape`` makes of undecodable bytes) would fail inside the session, not as an answer.
    Control characters other than whitespace are no part of any tactic or statement; Coq's lexer
    refuses them too, but only after the text has crossed the wire.
    """
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as e:
        return f"is not valid UTF-8 (unpaired surrogate U+{ord(text[e.start]):04X} at character {e.start})"
    for i, c in enumerate(text):
        if unicodedata.category(c) == "Cc" and not c.isspace():
            return f"contains the control character U+{ord(c):04X} (at character {i})"
    return None


def check_tactic(text: str) -> str:
    """Return the tactic normalised (comments removed, blanks collapsed, no final '.'), or raise.

    Raises `TacticRejected` with a reason a person can read.
    """
    if not isinstance(text, str):
        raise TacticRejected(f"a tactic must be a string, got {type(text).__name__}")
    if len(text) > MAX_TACTIC_CHARS:
        raise TacticRejected(f"tactic longer than {MAX_TACTIC_CHARS} characters")
    if "\0" in text:
        raise TacticRejected("tactic contains a NUL byte")
    if (problem := unsendable(text)) is not None:
        raise TacticRejected(f"tactic {problem}")
    try:
        code = strip_comments(text)
    except CoqSyntaxError as e:
        raise TacticRejected(f"{e}: a tactic must not open a comment or string it does not close") from None
    code = " ".join(code.split())
    if code.endswith(".") and not code.endswith(".."):
        code = code[:-1].rstrip()
    if not code:
        raise TacticRejected("empty tactic")
    # Exactly one sentence: no terminator may remain outside strings.
    try:
        pieces = _outside_strings(code)
    except CoqSyntaxError as e:
        raise TacticRejected(str(e)) from None
    if any(_TERMINATOR.search(p) for p in pieces) or pieces[-1].endswith("."):
        raise TacticRejected("several sentences in one tactic")
    if _SELECTOR.match(code):
        raise TacticRejected("goal selectors are not tactics: the search chooses the goal")
    if code[0] in "-+*{}":
        raise TacticRejected("bullets and braces are not tactics: the search focuses goals itself")
    if code.startswith("#"):
        raise TacticRejected("attributes (#[...]) belong to commands, not tactics")
    if not _TACTIC_START.match(code):
        raise TacticRejected(f"{code.split()[0]!r} does not start a tactic (commands are rejected)")
    for word in _WORD.findall(" ".join(pieces)):
        if word in FORBIDDEN_TACTICS:
            raise TacticRejected(f"forbidden tactic {word!r}: it gives up a goal or skips type checking")
        if word in FORBIDDEN_WORDS:
            raise TacticRejected(f"{word!r} is a command, not part of a tactic")
    return code
