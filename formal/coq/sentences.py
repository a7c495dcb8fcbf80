"""A lexer for Coq documents: split text into sentences, respecting comments and strings.

Coq ends a sentence at a '.' followed by a blank or the end of input; bullets (``-``, ``+``,
``*``, repeated), braces and ``N: {`` are sentences of their own. Comments nest and may contain
strings; strings double their quotes (``""``) to escape them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_FOCUS = re.compile(r"(?:\d+|\[[A-Za-z_][\w']*\])\s*:\s*\{")


class CoqSyntaxError(ValueError):
    """Unterminated comment or string: the text cannot be split safely."""


@dataclass(frozen=True)
class Sentence:
    text: str  # the sentence without leading blanks/comments, including its terminator
    start: int  # offset of text in the document
    end: int  # offset just past the terminator
    line: int  # 1-based line of `start`

    @property
    def body(self) -> str:
        """The sentence without comments, with blanks collapsed and without its final '.'."""
        s = " ".join(strip_comments(self.text).split())
        return s[:-1].rstrip() if s.endswith(".") and not s.endswith("..") else s


def _skip_string(text: str, i: int) -> int:
    """`i` is just after an opening quote; return the index just after the closing one."""
    n = len(text)
    while i < n:
        if text[i] == '"':
            if i + 1 < n and text[i + 1] == '"':
                i += 2
                continue
            return i + 1
        i += 1
    raise CoqSyntaxError("unterminated string")


def _skip_comment(text: str, i: int) -> int:
    """`i` is just after an opening ``(*``; return the index just after the matching ``*)``."""
    depth, n = 1, len(text)
    while i < n:
        if text.startswith("(*", i):
            depth += 1
            i += 2
        elif text.startswith("*)", i):
            depth -= 1
            i += 2
            if depth == 0:
                return i
        elif text[i] == '"':
            i = _skip_string(text, i + 1)
        else:
            i += 1
    raise CoqSyntaxError("unterminated comment")


def strip_comments(text: str) -> str:
    """Replace every comment by one space (strings are kept verbatim)."""
    if "(*" not in text and '"' not in text:
        return text
    out, i, n = [], 0, len(text)
    while i < n:
        if text.startswith("(*", i):
            i = _skip_comment(text, i + 2)
            out.append(" ")
        elif text[i] == '"':
            j = _skip_string(text, i + 1)
            out.append(text[i:j])
            i = j
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


def _is_terminator(text: str, i: int) -> bool:
    """A '.' (or the ``...`` of `Proof with`) followed by a blank; ``..`` is a notation token."""
    if text[i] != ".":
        return False
    nxt = text[i + 1] if i + 1 < len(text) else " "
    if not nxt.isspace():
        return False
    run = 1
    while run <= i and text[i - run] == ".":
        run += 1
    return run in (1, 3)


def split_sentences(text: str) -> list[Sentence]:
    """All sentences of `text`. Trailing text with no terminator is returned as a last sentence."""
    sentences: list[Sentence] = []
    i, n = 0, len(text)
    while i < n:
        # Skip blanks and comments before a sentence.
        if text[i].isspace():
            i += 1
            continue
        if text.startswith("(*", i):
            i = _skip_comment(text, i + 2)
            continue
        start = i
        if text[i] in "{}":
            i += 1
        elif text[i] in "-+*" and not text.startswith("*)", i):
            while i < n and text[i] == text[start]:
                i += 1
        elif m := _FOCUS.match(text, i):
            i = m.end()
        else:
            while i < n:
                if text.startswith("(*", i):
                    i = _skip_comment(text, i + 2)
                elif text[i] == '"':
                    i = _skip_string(text, i + 1)
                elif _is_terminator(text, i):
                    i += 1
                    break
                else:
                    i += 1
        sentences.append(Sentence(text[start:i], start, i, text.count("\n", 0, start) + 1))
    return sentences
