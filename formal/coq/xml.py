"""The coqidetop XML protocol (Coq 8.16): encode the few calls we make, decode their answers.

Only what the session and the tracer need: Init, Add, Subgoals, Status, Query, Edit_at, Quit.
Messages arrive as rich pretty-printing (``<richpp>``); we keep its text. Coq emits ``&nbsp;``,
which is not an XML entity.

A session reads one goal record per tactic, so the two answers it gets most (a good Add, a goal
record) are read by hand: their layout is fixed (Coq's printer puts no blanks between tags) and a
richpp's text is its markup with the tags taken out. Whatever else arrives, or anything unusual in
those two (another layout, a character or entity XML refuses), goes through ElementTree as before.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from xml.sax.saxutils import escape

from formal.goal import Goal, Hypothesis


class ProtocolError(RuntimeError):
    """coqidetop answered something we cannot read."""


def init_call() -> bytes:
    return b'<call val="Init"><option val="none"/></call>'


def add_call(sentence: str, state_id: int) -> bytes:
    # 8.16: ((((text, edit_id), (state_id, verbose)), bp), (line_nb, bol_pos)).
    return (
        '<call val="Add"><pair><pair><pair><pair>'
        f"<string>{escape(sentence)}</string><int>-1</int></pair>"
        f'<pair><state_id val="{state_id}"/><bool val="false"/></pair></pair>'
        "<int>0</int></pair><pair><int>0</int><int>0</int></pair></pair></call>"
    ).encode()


def goal_call() -> bytes:
    """The focused goals only: printing background goals at every step is wasted work.

    (``Subgoals`` with goal flags: mode, foreground, background, shelved, given up.)
    """
    return (
        b'<call val="Subgoals"><goal_flags><string>full</string><bool val="true"/>'
        b'<bool val="false"/><bool val="false"/><bool val="false"/></goal_flags></call>'
    )


def unfocused_goal_call() -> bytes:
    """The background, shelved and given-up goals, for the tracer: it needs only their ids (to tell
    a goal a tactic closed from one that left the focus), so ``short`` mode skips their hypotheses.
    """
    return (
        b'<call val="Subgoals"><goal_flags><string>short</string><bool val="false"/>'
        b'<bool val="true"/><bool val="true"/><bool val="true"/></goal_flags></call>'
    )


def open_goals_call() -> bytes:
    """Every goal the proof still has, printed in full: focused, background, shelved and given up
    (for the session to tell a finished block from one that left shelved evars behind)."""
    return (
        b'<call val="Subgoals"><goal_flags><string>full</string><bool val="true"/>'
        b'<bool val="true"/><bool val="true"/><bool val="true"/></goal_flags></call>'
    )


def query_call(command: str, state_id: int) -> bytes:
    """A query command (``Guarded.``) run at `state_id` without joining the document."""
    return (
        '<call val="Query"><pair><route_id val="0"/><pair>'
        f'<string>{escape(command)}</string><state_id val="{state_id}"/></pair></pair></call>'
    ).encode()


def status_call() -> bytes:
    """The open proof's name and the module path (``force`` false: the document is already run)."""
    return b'<call val="Status"><bool val="false"/></call>'


def edit_at_call(state_id: int) -> bytes:
    return f'<call val="Edit_at"><state_id val="{state_id}"/></call>'.encode()


def quit_call() -> bytes:
    return b'<call val="Quit"><unit/></call>'


# A goal as the fast reader leaves it: (id, hypotheses' texts, conclusion's text, evar name or None).
RawGoal = tuple[str, tuple[str, ...], str, "str | None"]
# The four goal lists of a record (focused, background, shelved, given up); () when no proof is open.
Record = tuple[tuple[RawGoal, ...], ...]


@dataclass(frozen=True)
class Answer:
    """One ``<value>``: good with its payload element, or fail with Coq's message.

    `record` is the goal record when the fast reader read it (then `payload`, the element tree, is
    built only if someone asks for it); None when the answer is not one it reads."""

    good: bool
    text: str = field(repr=False)  # the <value> element as Coq wrote it
    message: str = ""
    state_id: int | None = None  # for a failure: the last state that is still valid
    record: Record | None = field(default=None, repr=False)

    @cached_property
    def payload(self) -> ET.Element:
        return _tree(self.text)


@dataclass(frozen=True)
class Goals:
    """Coq's goal record: the focused goals, with Coq's ids. The ids of the other goals are filled
    only when asked for (`unfocused_goal_call`); `goal_call` leaves them empty."""

    focused: tuple[tuple[str, Goal], ...]
    background: tuple[str, ...] = ()
    shelved: tuple[str, ...] = ()
    given_up: tuple[str, ...] = ()

    def ids(self) -> frozenset[str]:
        """Every goal id the proof still has, focused or not."""
        return frozenset((*(gid for gid, _ in self.focused), *self.background, *self.shelved, *self.given_up))


@dataclass(frozen=True)
class OpenGoals:
    """Every goal of an `open_goals_call` answer as (evar name, goal); the name is None unless the
    document has ``Set Printing Goal Names``. `live`: the focused and background goals, the ones
    tactics still work on."""

    live: tuple[tuple[str | None, Goal], ...]
    shelved: tuple[tuple[str | None, Goal], ...]
    given_up: tuple[tuple[str | None, Goal], ...]


@dataclass(frozen=True)
class Status:
    """Where the document stands: the module path (file, modules, sections) and the open proof."""

    path: tuple[str, ...]
    proof_name: str | None


def parse_answer(raw: bytes) -> Answer:
    text = raw.decode("utf-8", errors="replace")
    if text.startswith(_RECORD_START):
        try:
            return Answer(True, text, record=_read_record(text))
        except _Unusual:
            pass  # read it as a tree
    el = _tree(text)
    if el.get("val") == "good":
        answer = Answer(True, text)
    else:
        sid = el.find("state_id")
        answer = Answer(
            False,
            text,
            message=_text(el.find("richpp")),
            state_id=int(sid.get("val")) if sid is not None else None,
        )
    answer.__dict__["payload"] = el  # the tree is built already: keep it (cached_property's slot)
    return answer


def _tree(text: str) -> ET.Element:
    try:
        el = ET.fromstring(text.replace("&nbsp;", "&#160;"))
    except ET.ParseError as e:
        raise ProtocolError(f"unreadable answer from coqidetop: {e}: {text[:200]!r}") from None
    if el.tag != "value":
        raise ProtocolError(f"expected <value>, got <{el.tag}>")
    return el


def state_id_of_init(answer: Answer) -> int:
    sid = answer.payload.find("state_id")
    if sid is None:
        raise ProtocolError("Init answered without a state id")
    return int(sid.get("val"))


_GOOD_ADD = re.compile(rb'^<value val="good"><pair><state_id val="(\d+)"/>')


def good_add_state_id(raw: bytes) -> int | None:
    """The new state id of a successful Add, or None for anything else (then parse it fully)."""
    m = _GOOD_ADD.match(raw)
    return int(m.group(1)) if m else None


def state_id_of_add(answer: Answer) -> int:
    sid = answer.payload.find("pair/state_id")
    if sid is None:
        raise ProtocolError("Add answered without a state id")
    return int(sid.get("val"))


def record_of(answer: Answer) -> Record:
    """The four goal lists (focused, background, shelved, given up) as `RawGoal`s; () when no proof
    is open."""
    if answer.record is not None:
        return answer.record
    opt = answer.payload.find("option")
    if opt is None or opt.get("val") == "none":
        return ()
    lists = opt.findall("goals/list")
    if len(lists) != 4:
        raise ProtocolError(f"goal record with {len(lists)} lists, expected 4")
    # iter, not findall: the background list holds pairs of lists (the goals before and after the
    # focus, one pair per level of focusing), and its goals are read in document order.
    return tuple(tuple(_raw_goal(g) for g in lst.iter("goal")) for lst in lists)


def parse_goals(answer: Answer) -> Goals | None:
    """None when no proof is open (after the last goal of the theorem is closed, still Some [])."""
    lists = record_of(answer)
    if not lists:
        return None
    return Goals(focused=tuple((gid, _goal(hyps, ccl)) for gid, hyps, ccl, _ in lists[0]))


def parse_unfocused(answer: Answer, focused: Goals) -> Goals:
    """`focused` (from `parse_goals`) completed with the goal ids of an `unfocused_goal_call` answer."""
    lists = record_of(answer)
    if not lists:
        return focused
    background, shelved, given_up = (tuple(g[0] for g in lst) for lst in lists[1:])
    return Goals(focused.focused, background, shelved, given_up)


def parse_open_goals(answer: Answer) -> OpenGoals:
    """The goals of an `open_goals_call` answer; no proof open reads as no goals at all."""
    lists = record_of(answer)
    if not lists:
        return OpenGoals((), (), ())
    focused, background, shelved, given_up = (
        tuple((name, _goal(hyps, ccl)) for _, hyps, ccl, name in lst) for lst in lists
    )
    return OpenGoals((*focused, *background), shelved, given_up)


def parse_status(answer: Answer) -> Status:
    st = answer.payload.find("status")
    if st is None:
        raise ProtocolError("Status answered without a status")
    path = tuple(e.text or "" for e in st.findall("list")[0].findall("string")) if st.find("list") is not None else ()
    name = st.find("option/string")
    return Status(path, name.text if name is not None else None)


def _text(el: ET.Element | None) -> str:
    if el is None:
        return ""
    return "".join(el.itertext()).replace("\xa0", " ").strip()


def _raw_goal(el: ET.Element) -> RawGoal:
    name = el.find("option/string")
    return (
        el.findtext("string", default=""),
        tuple(_text(h) for h in el.findall("list/richpp")),
        _text(el.find("richpp")),
        name.text if name is not None else None,
    )


def _goal(hyps: tuple[str, ...], conclusion: str) -> Goal:
    return Goal(hypotheses=tuple(map(_hypothesis, hyps)), conclusion=conclusion)


# -- the fast reader: a goal record without a tree ------------------------------------------------


class _Unusual(Exception):
    """The text is not laid out the way the fast reader knows: read it with ElementTree instead."""


_RECORD_START = '<value val="good"><option val="'
_NO_PROOF = '<value val="good"><option val="none"/></value>'
_GOALS_START = '<value val="good"><option val="some"><goals>'
_GOALS_END = "</goals></option></value>"
_FOCUSED_ONLY_END = "<list/><list/><list/>" + _GOALS_END
# What a goal's text may hold: not `<` (markup), `"` (Coq's printer escapes it in text: one here is
# an attribute), nor characters ElementTree would refuse (XML does not allow them) or read otherwise
# (\r: it normalises line ends). A richpp's inner markup: tags without attributes around such text,
# up to its ``</richpp>``; no comment, CDATA section or processing instruction (``<!``, ``<?``).
_CHAR = r'[^<"\x00-\x08\x0b-\x1f\ufffe\uffff]'
_INNER = rf"{_CHAR}*(?:<(?!/richpp>|!|\?){_CHAR}*)*"
# One goal: id, hypotheses, conclusion, evar name (ids and names are plain text, no references).
_PLAIN = r'[^<&"\x00-\x08\x0b-\x1f\ufffe\uffff]*'
_GOAL = re.compile(
    rf"<goal><string>({_PLAIN})</string>"
    rf"(?:<list/>|<list>(<richpp>{_INNER}</richpp>(?:<richpp>{_INNER}</richpp>)*)</list>)"
    rf"<richpp>({_INNER})</richpp>"
    rf'(?:<option val="none"/>|<option val="some"><string>({_PLAIN})</string></option>)?'
    r"</goal>"
)
_TEXT = re.compile(r">([^<]+)")  # the text after each tag, up to the next
_ENTITY = re.compile(r"&(?:(lt|gt|amp|quot|apos|nbsp)|#([0-9]+)|#x([0-9a-fA-F]+));")
_NAMED = {"lt": "<", "gt": ">", "amp": "&", "quot": '"', "apos": "'", "nbsp": "\xa0"}


def _read_record(text: str) -> Record:
    """The goal record of a good Subgoals answer, read by position; `_Unusual` for anything else."""
    if text == _NO_PROOF:
        return ()
    if not text.startswith(_GOALS_START):
        raise _Unusual
    if text.endswith(_FOCUSED_ONLY_END):  # what `goal_call` asks for: the other three lists empty
        goals: list[RawGoal] = []
        if _read_list(text, len(_GOALS_START), goals, _read_goal) != len(text) - len(_FOCUSED_ONLY_END):
            raise _Unusual
        return (tuple(goals), (), (), ())
    pos, lists = len(_GOALS_START), []
    for k in range(4):
        goals = []
        if k == 1:  # the background: a list of pairs of goal lists, one pair per focus level
            pos = _read_list(text, pos, goals, _read_pair)
        else:
            pos = _read_list(text, pos, goals, _read_goal)
        lists.append(tuple(goals))
    if text[pos:] != _GOALS_END:
        raise _Unusual
    return tuple(lists)


def _read_list(text: str, pos: int, goals: list[RawGoal], item) -> int:
    """``<list/>`` or ``<list>`` items ``</list>`` at `pos`; `item(text, pos, goals)` reads one item
    into `goals` and returns the position after it, or -1 when there is none at `pos`."""
    if text.startswith("<list/>", pos):
        return pos + 7
    if not text.startswith("<list>", pos):
        raise _Unusual
    pos += 6
    while (after := item(text, pos, goals)) != -1:
        pos = after
    if not text.startswith("</list>", pos):
        raise _Unusual
    return pos + 7


def _read_pair(text: str, pos: int, goals: list[RawGoal]) -> int:
    if not text.startswith("<pair>", pos):
        return -1
    pos = _read_list(text, pos + 6, goals, _read_goal)
    pos = _read_list(text, pos, goals, _read_goal)
    if not text.startswith("</pair>", pos):
        raise _Unusual
    return pos + 7


def _read_goal(text: str, pos: int, goals: list[RawGoal]) -> int:
    """One ``<goal>`` at `pos` into `goals` (id, hypotheses, conclusion, name); -1 if none is there."""
    m = _GOAL.match(text, pos)
    if m is None:
        if text.startswith("<goal>", pos):
            raise _Unusual
        return -1
    gid, hyps, conclusion, name = m.groups()
    goals.append((
        gid,
        tuple(_richpp_text(h) for h in hyps[8:-9].split("</richpp><richpp>")) if hyps else (),
        _richpp_text(conclusion),
        name or None,  # as ElementTree reads <string></string>
    ))
    return m.end()


def _richpp_text(inner: str) -> str:
    """A richpp's text as `_text` reads it, from its inner markup: what follows each tag up to the
    next, references replaced. (That the tags pair up is the printer's business, as it was
    ElementTree's to refuse.)"""
    text = "".join(_TEXT.findall(">" + inner))
    if "&" in text:
        text = text.replace("&nbsp;", " ")
        if "&" in text:
            text = _references(text)
    return text.replace("\xa0", " ").strip()


def _references(text: str) -> str:
    """`text` with its character and entity references replaced; `_Unusual` for a bare `&` or one
    XML does not define."""
    if "&" in _ENTITY.sub("", text):
        raise _Unusual
    return _ENTITY.sub(_entity, text)


def _entity(m: re.Match) -> str:
    if m.group(1):
        return _NAMED[m.group(1)]
    code = int(m.group(2)) if m.group(2) else int(m.group(3), 16)
    if code in (0x9, 0xA) or 0x20 <= code <= 0xD7FF or 0xE000 <= code <= 0xFFFD or 0x10000 <= code <= 0x10FFFF:
        return chr(code)
    raise _Unusual  # a character XML refuses, or &#13; (left to ElementTree)


def _split_top(text: str, sep: str) -> int:
    """Index of the last `sep` outside brackets, or -1."""
    depth, found = 0, -1
    for i, c in enumerate(text):
        if c in "([{":
            depth += 1
        elif c in ")]}":
            depth -= 1
        elif depth == 0 and text.startswith(sep, i):
            found = i
    return found


def parse_hypothesis(text: str) -> Hypothesis:
    """``x, y : T`` or ``f := body : T`` (Coq's layout); anything else keeps its text as the type."""
    text = " ".join(text.split())
    colon = text.find(" : ")
    defn = text.find(" := ")
    if defn != -1 and (colon == -1 or defn < colon):
        names, rest = text[:defn], text[defn + 4 :]
        cut = _split_top(rest, " : ")
        body, typ = (rest[:cut], rest[cut + 3 :]) if cut != -1 else (rest, "")
        return Hypothesis(tuple(n.strip() for n in names.split(",")), typ, body)
    if colon == -1:
        return Hypothesis((), text)
    names = tuple(n.strip() for n in text[:colon].split(","))
    return Hypothesis(names, text[colon + 3 :])


# Most hypotheses outlive the tactic that printed them (a proof keeps its context), so each text is
# parsed once; a Hypothesis is immutable, and the same text always gives the same one.
_hypothesis = lru_cache(maxsize=1 << 14)(parse_hypothesis)
