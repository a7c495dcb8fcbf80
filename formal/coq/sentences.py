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
    while (j := text.find('"', i)) != -1:
        if text.startswith('""', j):
            i = j + 2
            continue
        return j + 1
    raise CoqSyntaxError("unterminated string")


_COMMENT_PART = re.compile(r'\(\*|\*\)|"')


def _skip_comment(text: str, i: int) -> int:
    """`i` is just after an opening ``(*``; return the index just after the matching ``*)``."""
    depth = 1
    while (m := _COMMENT_PART.search(text, i)) is not None:
        i = m.end()
        if m.group() == "(*":
            depth += 1
        elif m.group() == "*)":
            depth -= 1
            if depth == 0:
                return i
        else:
            i = _skip_string(text, i)
    raise CoqSyntaxError("unterminated comment")


_COMMENT_OR_STRING = re.compile(r'\(\*|"')


def strip_comments(text: str) -> str:
    """Replace every comment by one space (strings are kept verbatim)."""
    if "(*" not in text and '"' not in text:
        return text
    out, i = [], 0
    while (m := _COMMENT_OR_STRING.search(text, i)) is not None:
        j = m.start()
        out.append(text[i:j])
        if m.group() == "(*":
            i = _skip_comment(text, j + 2)
            out.append(" ")
        else:
            i = _skip_string(text, j + 1)
            out.append(text[j:i])
    out.append(text[i:])
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


_SPECIAL = re.compile(r'\(\*|"|\.')  # what can end or hide a sentence end: comments, strings, '.'


def split_sentences(text: str) -> list[Sentence]:
    """All sentences of `text`. Trailing text with no terminator is returned as a last sentence.

    Linear in the length of the text: the scan jumps between comment, string and '.' positions,
    and line numbers are counted incrementally (a hostile 1 MB file must not cost minutes)."""
    sentences: list[Sentence] = []
    i, n = 0, len(text)
    line, counted = 1, 0  # line number of offset `counted`
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
            i = _sentence_end(text, i)
        line += text.count("\n", counted, start)
        counted = start
        sentences.append(Sentence(text[start:i], start, i, line))
    return sentences


def _sentence_end(text: str, i: int) -> int:
    """The index just past the terminator of the sentence starting at `i` (or the text's end)."""
    n = len(text)
    while (m := _SPECIAL.search(text, i)) is not None:
        j = m.start()
        if m.group() == "(*":
            i = _skip_comment(text, j + 2)
        elif m.group() == '"':
            i = _skip_string(text, j + 1)
        elif _is_terminator(text, j):
            return j + 1
        else:
            i = j + 1
    return n
