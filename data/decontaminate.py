"""Decontamination: keep benchmark statements out of training data.

A traced theorem is dropped when its statement, normalized, equals a benchmark statement normalized
the same way. Both sides are rendered as the fully quantified proposition, so `Theorem t (a b : R) :
P a b.` and `Lemma u : forall a b : R, P a b.` compare equal. Normalization is textual:

- comments are stripped, whitespace collapsed, and a blank dropped wherever it touches a symbol
  (`3*a` = `3 * a`; only blanks between two words, as in `f x`, carry meaning);
- the name, a final `.` and (Lean) a trailing `:= proof` are dropped;
- binders before the colon become a leading `forall`; consecutive `forall`s merge, and every binder
  group is split into one binder per name (`(a b : R)`, `a b : R` -> `(a : R) (b : R)`).

What it does not see: alpha-renaming, notation or scope differences (the same text under another
`Open Scope` compares equal, which errs on the side of dropping), and `(h : P) : Q` versus `P -> Q`.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Iterator
from pathlib import Path

from formal.coq.sentences import CoqSyntaxError, strip_comments
from formal.lean.suite import LeanParseError, strip_lean_comments
from formal.suite import load_suite
from formal.theorem import Theorem

log = logging.getLogger(__name__)

_OPENERS, _CLOSERS = "([{⦃", ")]}⦄"
_FORALL = re.compile(r"^(?:forall(?=[\s(\[{⦃])|∀)")
_HEAD = re.compile(
    r"^(?:#\[[^\]]*\]\s*)*"  # attributes
    r"(?:(?:Local|Global|Polymorphic|Monomorphic|Program|private|protected|noncomputable)\s+)*"
    r"(?:(?:Theorem|Lemma|Fact|Remark|Corollary|Proposition|Property|Example|Definition|Instance|Fixpoint"
    r"|CoFixpoint|Let|theorem|lemma|def|instance|abbrev)\s+(?:[^\W\d][\w'.]*|«[^»]*»)"  # keyword and name
    r"|(?:Goal|example)\b)"  # anonymous
)
_BINDER_WORDS = frozenset({"forall", "∀", "exists", "∃", "fun", "λ", "let", "match", "fix", "cofix"})


def statement_key(statement: str, backend: str = "coq") -> str:
    """The comparison key of a declaration's text after its name: `binders : type`, or `: type`.

    A whole declaration (`Lemma name binders : type.`) is accepted too: keyword and name are dropped.
    """
    text = _squeeze(_strip_comments(statement, backend))
    text = _HEAD.sub("", text, count=1)
    text = _drop_proof(text, backend)
    binders, typ = _split_binders(text)
    return _canonical(f"forall {binders}, {typ}" if binders else typ)


def proposition_key(theorem: Theorem) -> str:
    """The comparison key of a benchmark Theorem: its fully quantified proposition."""
    return _canonical(_squeeze(_strip_comments(theorem.proposition, theorem.backend)))


def benchmark_keys(suite_dirs: Iterable[str | Path]) -> dict[str, str]:
    """Normalized statement -> `suite/name` over the suites' parsed theorems (first suite wins)."""
    keys: dict[str, str] = {}
    for path in suite_dirs:
        suite = load_suite(path)
        if suite.problems:
            log.warning("%s: %d files not parsed, not used for decontamination", suite.name, len(suite.problems))
        for theorem in sorted(suite.theorems, key=lambda t: t.name):
            keys.setdefault(proposition_key(theorem), f"{suite.name}/{theorem.name}")
    return keys


def _strip_comments(text: str, backend: str) -> str:
    try:
        return strip_lean_comments(text) if backend == "lean" else strip_comments(text)
    except (CoqSyntaxError, LeanParseError):  # an unterminated comment: compare the raw text
        return text


def _squeeze(text: str) -> str:
    text = " ".join(text.split())
    text = re.sub(r"([(\[{⦃]) ", r"\1", text)
    return re.sub(r" ([)\]}⦄,])", r"\1", text)


def _compact(text: str) -> str:
    """Whitespace only where it separates two words (identifiers, numbers)."""

    def blank(m: re.Match) -> str:
        return " " if _is_word(text, m.start() - 1) and _is_word(text, m.end()) else ""

    return re.sub(r"\s+", blank, text)


def _is_word(text: str, i: int) -> bool:
    return 0 <= i < len(text) and (text[i].isalnum() or text[i] in "_'")


def _top_level(text: str) -> Iterator[int]:
    """Indices of the characters at bracket depth 0, outside string literals."""
    depth, i, n = 0, 0, len(text)
    while i < n:
        c = text[i]
        if c == '"':
            end = text.find('"', i + 1)
            i = n if end < 0 else end + 1
            continue
        if c in _OPENERS:
            depth += 1
        elif c in _CLOSERS:
            depth = max(depth - 1, 0)
        elif depth == 0:
            yield i
        i += 1


def _top_level_colon(text: str) -> int | None:
    """The first top-level ':' that is not part of ':=', '::' or ':>'."""
    for i in _top_level(text):
        if text[i] == ":" and text[i + 1 : i + 2] not in ("=", ":", ">") and text[i - 1 : i] != ":":
            return i
    return None


def _top_level_find(text: str, token: str) -> int | None:
    return next((i for i in _top_level(text) if text.startswith(token, i)), None)


def _drop_proof(text: str, backend: str) -> str:
    """Drop Lean's trailing `:= proof` and Coq's final sentence dot.

    Coq keeps its `:=`: a traced Coq statement ends before the proof, and a top-level `:=` there
    belongs to a `let` in the statement itself.
    """
    assign = _top_level_find(text, ":=") if backend == "lean" else None
    if assign is not None:
        text = text[:assign]
    text = text.rstrip()
    if text.endswith(".") and not text.endswith(".."):
        text = text[:-1]
    return text.strip()


def _split_binders(text: str) -> tuple[str, str]:
    """(binders, type) of the text after a name; a colon inside a `forall` is not the separator."""
    if text.startswith(":"):
        return "", text[1:].strip()
    colon = _top_level_colon(text)
    if colon is None:
        return "", text
    head = text[:colon]
    if _BINDER_WORDS & set(re.split(r"[\s,]+", head)):
        return "", text
    return head.strip(), text[colon + 1 :].strip()


def _canonical(prop: str) -> str:
    """Merge leading `forall`s and split binder groups into one binder per name."""
    binders: list[str] = []
    body = prop.strip()
    while m := _FORALL.match(body):
        rest = body[m.end() :]
        comma = _top_level_find(rest, ",")
        if comma is None:
            break
        binders += _canonical_binders(rest[:comma].strip())
        body = rest[comma + 1 :].strip()
    return _compact(f"forall {' '.join(binders)}, {body}" if binders else body)


def _canonical_binders(text: str) -> list[str]:
    if not text:
        return []
    colon = _top_level_colon(text)
    if colon is not None and text[0] not in _OPENERS:  # bare `a b : T`
        typ = text[colon + 1 :].strip()
        return [f"({name} : {typ})" for name in text[:colon].split()]
    out: list[str] = []
    for item in _binder_items(text):
        out += _split_group(item) if item[0] in _OPENERS else [item]
    return out


def _binder_items(text: str) -> list[str]:
    """Top-level bracket groups and bare words, in order."""
    items, i, n = [], 0, len(text)
    while i < n:
        if text[i].isspace():
            i += 1
            continue
        if text[i] in _OPENERS:
            j = _group_end(text, i)
        else:
            j = i + 1
            while j < n and not text[j].isspace() and text[j] not in _OPENERS:
                j += 1
        items.append(text[i:j])
        i = j
    return items


def _group_end(text: str, start: int) -> int:
    """Index just past the bracket that closes the one at `start` (the end of text if none does)."""
    depth = 0
    for i in range(start, len(text)):
        if text[i] in _OPENERS:
            depth += 1
        elif text[i] in _CLOSERS:
            depth -= 1
            if depth == 0:
                return i + 1
    return len(text)


def _split_group(item: str) -> list[str]:
    """`(a b : T)` -> `(a : T)`, `(b : T)`; let-binders and unnamed instance binders stay whole."""
    inner = item[1:-1].strip()
    colon = _top_level_colon(inner)
    if colon is None or _top_level_find(inner, ":=") is not None:
        return [item]
    typ = inner[colon + 1 :].strip()
    return [f"{item[0]}{name} : {typ}{item[-1]}" for name in inner[:colon].split()]
