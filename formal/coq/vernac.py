"""Read one Coq sentence the way Coq's parser does: control prefixes, attributes, then the command.

Coq 8.16 parses a sentence as ``control* attributes* command`` where control is ``Time``, ``Fail``,
``Succeed``, ``Instructions``, ``Redirect "file"`` or ``Timeout <number>`` and the attributes are
``#[...]`` groups and legacy words (``Local``, ``Global``, ``Polymorphic``, ``Program`` ...). The
lexer does not need blanks between tokens (``Timeout 5Print nat`` runs ``Print``) and reads numbers
in several forms (``1_0``, ``0x5``, ``1e3``). Splitting on blanks, or stripping only
``Timeout <decimal>``, therefore misreads what Coq will run; this module tokenizes first and
strips prefixes in any order and any nesting, so the head command it reports is the one Coq runs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from formal.coq.sentences import CoqSyntaxError

# Coq's lexer, reduced to what deciding the command needs. Identifiers may be Unicode; numbers are
# decimal or hexadecimal with `_` separators, a fraction and an exponent (Coq 8.16 `NUMBER`).
_TOKEN = re.compile(
    r"""
    (?P<string>"(?:[^"]|"")*")
  | (?P<attr>\#\[)
  | (?P<number>0[xX][0-9a-fA-F][0-9a-fA-F_]*(?:\.[0-9a-fA-F_]+)?(?:[pP][+-]?[0-9][0-9_]*)?
             |[0-9][0-9_]*(?:\.[0-9][0-9_]*)?(?:[eE][+-]?[0-9][0-9_]*)?)
  | (?P<ident>[^\W\d][\w']*)
  | (?P<symbol>:=|\S)
    """,
    re.VERBOSE,
)

CONTROLS = frozenset({"Time", "Fail", "Succeed", "Instructions", "Redirect", "Timeout"})
# Legacy attributes: words before a command that set its locality or flavour.
LEGACY_ATTRIBUTES = frozenset(
    {"Local", "Global", "Polymorphic", "Monomorphic", "Cumulative", "NonCumulative", "Private",
     "Program"}
)


@dataclass(frozen=True)
class Token:
    kind: str  # string, attr, number, ident, symbol
    text: str
    start: int = 0  # offset in the text it was read from


@dataclass(frozen=True)
class Command:
    """One sentence as Coq parses it. `malformed` is set when the prefixes themselves do not parse
    (``Timeout`` without a number, an unclosed ``#[``): Coq would refuse the sentence, and a
    checker must not guess what it meant."""

    controls: tuple[tuple[str, str], ...]  # (control word, its argument or "") in order
    attributes: tuple[str, ...]  # attribute names: from #[...] groups and legacy words
    tokens: tuple[Token, ...]  # the command proper
    malformed: str = ""

    @property
    def words(self) -> tuple[str, ...]:
        return tuple(t.text for t in self.tokens)

    @property
    def head(self) -> str:
        return self.tokens[0].text if self.tokens else ""

    def idents(self, start: int = 0) -> list[str]:
        """The leading run of identifiers from `start` (an option name, a multi-word head)."""
        out = []
        for t in self.tokens[start:]:
            if t.kind != "ident":
                break
            out.append(t.text)
        return out


def tokenize(code: str) -> list[Token]:
    """Tokens of comment-free Coq text (`Sentence.body`)."""
    out = []
    for m in _TOKEN.finditer(code):
        kind = m.lastgroup
        assert kind is not None
        out.append(Token(kind, m.group(), m.start()))
    if out and out[-1].kind == "symbol" and out[-1].text == '"':
        raise CoqSyntaxError("unterminated string")
    return out


def _attribute_group(tokens: list[Token], i: int) -> tuple[list[str], int] | None:
    """`tokens[i]` is ``#[``: the attribute names of the group and the index past its ``]``.
    Names are the identifiers at the group's top level (``deprecated(note="]")`` -> deprecated,
    ``universes(polymorphic)`` -> universes); strings are single tokens, so a ``]`` inside one
    cannot end the group early."""
    depth, names, j = 1, [], i + 1
    parens = 0
    expect_name = True
    while j < len(tokens):
        t = tokens[j]
        if t.text in ("[", "#["):
            depth += 1
        elif t.text == "]":
            depth -= 1
            if depth == 0:
                return names, j + 1
        elif t.text == "(":
            parens += 1
        elif t.text == ")":
            parens -= 1
        elif t.text == "," and parens == 0 and depth == 1:
            expect_name = True
        elif t.kind == "ident" and parens == 0 and depth == 1 and expect_name:
            names.append(t.text)
            expect_name = False
        j += 1
    return None


def parse_command(body: str) -> Command:
    """Strip control prefixes and attributes, in any order and nesting, as Coq reads them."""
    tokens = tokenize(body)
    controls: list[tuple[str, str]] = []
    attributes: list[str] = []
    i = 0
    while i < len(tokens):
        t = tokens[i]
        nxt = tokens[i + 1] if i + 1 < len(tokens) else None
        if t.kind == "attr":
            group = _attribute_group(tokens, i)
            if group is None:
                return Command(tuple(controls), tuple(attributes), tuple(tokens[i:]), "unclosed #[ attribute")
            attributes += group[0]
            i = group[1]
        elif t.kind == "ident" and t.text in CONTROLS:
            if t.text in ("Timeout", "Redirect"):
                want = "number" if t.text == "Timeout" else "string"
                if nxt is None or nxt.kind != want:
                    return Command(tuple(controls), tuple(attributes), tuple(tokens[i:]),
                                   f"{t.text} must be followed by a {want}")
                controls.append((t.text, nxt.text))
                i += 2
            else:
                controls.append((t.text, ""))
                i += 1
        elif t.kind == "ident" and t.text in LEGACY_ATTRIBUTES:
            attributes.append(t.text.lower())
            i += 1
        elif t.text == "Export" and nxt is not None and nxt.text in ("Set", "Unset"):
            attributes.append("export")  # `Export Set Foo.`: a locality, not the Export command
            i += 1
        else:
            break
    return Command(tuple(controls), tuple(attributes), tuple(tokens[i:]))


def command_words(body: str) -> list[str]:
    """The tokens of a sentence's command proper (``#[local] Time Fail Drop`` -> [Drop])."""
    try:
        return list(parse_command(body).words)
    except CoqSyntaxError:
        return body.split()
