"""The coqidetop XML protocol (Coq 8.16): encode the few calls we make, decode their answers.

Only what the session and the tracer need: Init, Add, Subgoals, Status, Query, Edit_at, Quit.
Messages arrive as rich pretty-printing (``<richpp>``); we keep its text. Coq emits ``&nbsp;``,
which is not an XML entity.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
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


@dataclass(frozen=True)
class Answer:
    """One ``<value>``: good with its payload element, or fail with Coq's message."""

    good: bool
    payload: ET.Element
    message: str = ""
    state_id: int | None = None  # for a failure: the last state that is still valid


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
    text = raw.decode("utf-8", errors="replace").replace("&nbsp;", "&#160;")
    try:
        el = ET.fromstring(text)
    except ET.ParseError as e:
        raise ProtocolError(f"unreadable answer from coqidetop: {e}: {text[:200]!r}") from None
    if el.tag != "value":
        raise ProtocolError(f"expected <value>, got <{el.tag}>")
    if el.get("val") == "good":
        return Answer(True, el)
    sid = el.find("state_id")
    return Answer(
        False,
        el,
        message=_text(el.find("richpp")),
        state_id=int(sid.get("val")) if sid is not None else None,
    )


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


def _goal_record(answer: Answer) -> list[ET.Element] | None:
    """The four goal lists (focused, background, shelved, given up), or None when no proof is open."""
    opt = answer.payload.find("option")
    if opt is None or opt.get("val") == "none":
        return None
    lists = opt.findall("goals/list")
    if len(lists) != 4:
        raise ProtocolError(f"goal record with {len(lists)} lists, expected 4")
    return lists


def parse_goals(answer: Answer) -> Goals | None:
    """None when no proof is open (after the last goal of the theorem is closed, still Some [])."""
    lists = _goal_record(answer)
    if lists is None:
        return None
    return Goals(focused=tuple(_goal(g) for g in lists[0].findall("goal")))


def parse_unfocused(answer: Answer, focused: Goals) -> Goals:
    """`focused` (from `parse_goals`) completed with the goal ids of an `unfocused_goal_call` answer."""
    lists = _goal_record(answer)
    if lists is None:
        return focused
    background = tuple(g.findtext("string", default="") for g in lists[1].iter("goal"))
    shelved, given_up = ([g.findtext("string", default="") for g in lst.findall("goal")] for lst in lists[2:])
    return Goals(focused.focused, background, tuple(shelved), tuple(given_up))


def parse_open_goals(answer: Answer) -> OpenGoals:
    """The goals of an `open_goals_call` answer; no proof open reads as no goals at all."""
    lists = _goal_record(answer)
    if lists is None:
        return OpenGoals((), (), ())
    focused, background, shelved, given_up = ([_named_goal(g) for g in lst.iter("goal")] for lst in lists)
    return OpenGoals((*focused, *background), tuple(shelved), tuple(given_up))


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


def _goal(el: ET.Element) -> tuple[str, Goal]:
    gid = el.findtext("string", default="")
    hyps = tuple(parse_hypothesis(_text(h)) for h in el.findall("list/richpp"))
    return gid, Goal(hypotheses=hyps, conclusion=_text(el.find("richpp")))


def _named_goal(el: ET.Element) -> tuple[str | None, Goal]:
    name = el.find("option/string")
    return (name.text if name is not None else None), _goal(el)[1]


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
