"""What a Coq document's sentences do, read without running Coq.

The trusted checker uses this to refuse commands that reach outside the sandbox or switch off
kernel checks, to find the theorems it must audit (with the names Coq gives them), and to read
which axioms a problem's own header posits.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from formal.coq.sentences import Sentence, _skip_string, split_sentences

IDENT = r"[^\W\d][\w']*"
QUALID = re.compile(rf"{IDENT}(?:\.{IDENT})*")

# ---------------------------------------------------------------- the command scan

# Words that prefix a command without changing what it does.
_PREFIXES = frozenset(
    {"Local", "Global", "Export", "Polymorphic", "Monomorphic", "Cumulative", "NonCumulative", "Private",
     "Program", "Time", "Fail", "Succeed", "Instructions"}
)
_UNSAFE_FLAGS = ("Guard Checking", "Positivity Checking", "Universe Checking", "Type In Type")


def _attribute_end(body: str, i: int) -> int:
    """`body[i:]` starts with ``#[``; the index just past the matching ``]`` (strings and nested
    brackets respected, so ``#[deprecated(note="]")] Drop`` cannot hide its command)."""
    depth, j = 0, i + 1
    while j < len(body):
        c = body[j]
        if c == '"':
            j = _skip_string(body, j + 1)
            continue
        depth += (c == "[") - (c == "]")
        j += 1
        if depth == 0:
            return j
    return len(body)  # unbalanced: Coq will not parse it either


def command_words(body: str) -> list[str]:
    """The words of a sentence after attributes and prefixes (``#[local] Time Fail Drop`` -> Drop...),
    so callers see the command Coq will actually run."""
    rest = body.lstrip()
    while rest.startswith("#["):
        rest = rest[_attribute_end(rest, 0):].lstrip()
    words = rest.split()
    while words:
        if words[0] in _PREFIXES:
            words = words[1:]
        elif words[0] == "Timeout" and len(words) > 1 and words[1].isdigit():
            words = words[2:]
        else:
            break
    return words


def forbidden_command(body: str) -> str | None:
    """Why this sentence may not appear in a checked file, or None. Untrusted files must not leave
    the scratch directory, load code, or weaken the kernel."""
    words = command_words(body)
    if re.search(r"\bbypass_check\b", body):
        return "the bypass_check attribute switches off kernel checks"
    head = " ".join(words[:4])
    first = words[0] if words else ""
    second = words[1] if len(words) > 1 else ""
    if first in {"Drop", "Load", "Redirect", "Cd", "Quit", "Register"}:
        return f"the command {first} is not allowed in a checked file"
    if head.startswith(("Declare ML Module", "Add ML Path", "Add Rec ML Path", "Add LoadPath",
                        "Add Rec LoadPath", "Remove LoadPath")):
        return f"the command {' '.join(words[:3])} loads code or changes the load path"
    if first.startswith("Extract") or (second.startswith("Extraction") and first != "Require"):
        return "extraction commands write files"
    if first in {"Set", "Unset"} and any(" ".join(words[1:]).startswith(f) for f in _UNSAFE_FLAGS):
        return f"{' '.join(words[:3])} weakens the kernel"
    if "Universes" in words[1:3] and first == "Print" and '"' in body:
        return "Print Universes with a file name writes a file"
    return None


def find_forbidden(sentences: Iterable[Sentence]) -> tuple[Sentence, str] | None:
    for s in sentences:
        why = forbidden_command(s.body)
        if why:
            return s, why
    return None


# ---------------------------------------------------------------- declarations

THEOREM_KINDS = frozenset(
    {"Theorem", "Lemma", "Fact", "Remark", "Corollary", "Proposition", "Property", "Example"}
)
# Definitions count as proofs only when built interactively (no `:=` in the declaration).
INTERACTIVE_KINDS = frozenset({"Definition", "Instance", "Fixpoint", "CoFixpoint"})


@dataclass(frozen=True)
class Declaration:
    name: str  # qualified by the enclosing modules (sections do not qualify)
    kind: str
    sentence: Sentence


def declarations(sentences: Iterable[Sentence]) -> list[Declaration]:
    """Theorem-like declarations, with names as Coq will know them after the file ends.

    Declarations inside functors and module types are skipped: they are not global constants.
    """
    stack: list[tuple[str, str]] = []  # (kind, name): kind is module, section or opaque
    out: list[Declaration] = []
    for s in sentences:
        words = command_words(s.body)
        if not words:
            continue
        if words[0] == "End" and len(words) == 2 and stack and stack[-1][1] == words[1]:
            stack.pop()
        elif words[0] == "Section" and len(words) == 2:
            stack.append(("section", words[1]))
        elif words[0] == "Module" and ":=" not in s.body:
            _open_module(words, stack)
        elif words[0] in THEOREM_KINDS or (words[0] in INTERACTIVE_KINDS and ":=" not in s.body):
            m = re.match(IDENT, words[1]) if len(words) > 1 else None
            if m and all(kind != "opaque" for kind, _ in stack):
                path = [name for kind, name in stack if kind == "module"]
                out.append(Declaration(".".join([*path, m.group()]), words[0], s))
    return out


def _open_module(words: list[str], stack: list[tuple[str, str]]) -> None:
    rest = words[1:]
    if rest and rest[0] == "Type":
        stack.append(("opaque", rest[1] if len(rest) > 1 else ""))
        return
    if rest and rest[0] in {"Import", "Export"}:
        rest = rest[1:]
    if not rest:
        return
    text = " ".join(rest)
    m = re.match(IDENT, text)
    if not m:
        return
    is_functor = text[m.end():].lstrip().startswith(("(", "!"))  # parameters: not a global module
    stack.append(("opaque" if is_functor else "module", m.group()))




_AXIOM_KINDS = frozenset({"Axiom", "Axioms", "Parameter", "Parameters", "Conjecture",
                          "Hypothesis", "Hypotheses", "Variable", "Variables"})


def header_axioms(header: str) -> frozenset[str]:
    """Names a problem's header declares as axioms or parameters (`Parameter Rfloor : R -> Z.`):
    part of the problem as posed, so a proof may rely on them. A proof script cannot add any."""
    names: set[str] = set()
    for s in split_sentences(header):
        words = command_words(s.body)
        if words and words[0] in _AXIOM_KINDS:
            rest = s.body[s.body.index(words[0]) + len(words[0]):].lstrip()
            groups = re.findall(r"\(([^:()]*):", rest) if rest.startswith("(") else [rest.split(":", 1)[0]]
            for group in groups:
                names.update(re.findall(IDENT, group))
    return frozenset(names)
