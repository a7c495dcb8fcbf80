"""What a Coq document declares, read without running Coq.

The trusted checker uses this to find the theorems it must audit (with the names Coq gives them)
and to read which axioms a problem's own header posits. Which commands a checked file may contain
at all is `formal.coq.allowlist`'s business.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from formal.coq.sentences import Sentence, split_sentences
from formal.coq.vernac import command_words

IDENT = r"[^\W\d][\w']*"
QUALID = re.compile(rf"{IDENT}(?:\.{IDENT})*")

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
    interactive: bool = True  # proved in tactic mode (no `:=` body in the declaration)
    enclosing: tuple[str, ...] = ()  # modules and sections open around it, outermost first


def declarations(sentences: Iterable[Sentence], *, with_bodies: bool = False) -> list[Declaration]:
    """Theorem-like declarations, with names as Coq will know them after the file ends; with
    `with_bodies`, also definitions given by a term (`Definition x := 1.`), so that a name lookup
    can say what a name is instead of not finding it.

    Declarations inside functors and module types are skipped: they are not global constants.
    """
    stack: list[tuple[str, str]] = []  # (kind, name): kind is module, section or opaque
    out: list[Declaration] = []
    for s in sentences:
        words = command_words(s.body)
        if not words:
            continue
        head = words[0]
        if head == "End" and len(words) == 2 and stack and stack[-1][1] == words[1]:
            stack.pop()
        elif head == "Section" and len(words) == 2:
            stack.append(("section", words[1]))
        elif head == "Module" and ":=" not in words:
            _open_module(words, stack)
        elif head in THEOREM_KINDS or head in INTERACTIVE_KINDS or (with_bodies and head == "Let"):
            interactive = head in THEOREM_KINDS or ":=" not in words
            m = re.fullmatch(IDENT, words[1]) if len(words) > 1 else None
            if m and (interactive or with_bodies) and all(kind != "opaque" for kind, _ in stack):
                path = [name for kind, name in stack if kind == "module"]
                out.append(Declaration(".".join([*path, m.group()]), head, s, interactive,
                                       tuple(name for _, name in stack)))
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
