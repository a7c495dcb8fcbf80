"""The goal-record reader against ElementTree: the same goals from every answer, or a fall-back to it.

`xml.parse_answer` reads a good goal record by position; anything it does not know is read as a
tree, as before. Each case reads an answer both ways: `Answer(True, text)` has no record, so the
`parse_*` functions build it from the element tree.
"""

import pytest

from formal.coq import xml
from formal.coq.process import CoqProcess
from formal.coq.session import CoqConfig
from tests.conftest import requires_coq


def pp(text: str) -> str:
    return f"<richpp><_><pp>{text}</pp></_></richpp>"


def goal(gid: str, hyps: list[str], ccl: str, name: str | None = "Goal") -> str:
    hl = "<list/>" if not hyps else "<list>" + "".join(pp(h) for h in hyps) + "</list>"
    opt = '<option val="none"/>' if name is None else f'<option val="some"><string>{name}</string></option>'
    return f"<goal><string>{gid}</string>{hl}{pp(ccl)}{opt}</goal>"


def glist(goals: list[str]) -> str:
    return "<list/>" if not goals else "<list>" + "".join(goals) + "</list>"


def record(focused: list[str], background: list[str | tuple[list[str], list[str]]], shelved: list[str],
           given_up: list[str]) -> bytes:
    """A goal record; the background as goals (each made a pair of its own) or (before, after) pairs."""
    pairs = [p if isinstance(p, tuple) else ([p], []) for p in background]
    bg = glist([f"<pair>{glist(before)}{glist(after)}</pair>" for before, after in pairs])
    body = glist(focused) + bg + glist(shelved) + glist(given_up)
    return f'<value val="good"><option val="some"><goals>{body}</goals></option></value>'.encode()


V = "<constr.variable>{}</constr.variable>"
N = "<constr.notation>{}</constr.notation>"

# Answers the reader takes: (answer, what it must read).
READ = {
    "one goal": record([goal("5", ["n,&nbsp;m&nbsp;:&nbsp;" + V.format("nat")],
                             V.format("m") + N.format("&nbsp;+") + "&nbsp;" + V.format("n"))], [], [], []),
    "no goal left": record([], [], [], []),
    "no proof open": b'<value val="good"><option val="none"/></value>',
    "references": record([goal("7", ["z&nbsp;:=&nbsp;1" + N.format("&nbsp;&lt;=") + "&nbsp;2&nbsp;:&nbsp;Prop"],
                               "&quot;a&amp;b&quot;" + N.format("&nbsp;-&gt;") + "&nbsp;&apos;x&apos;&#160;&#x41;&#955;"
                               "&amp;lt;")], [], [], []),
    "unicode and line breaks": record([goal("3", ["H&nbsp;:&nbsp;∀&nbsp;x,&nbsp;x\n&nbsp;&nbsp;=&nbsp;x"],
                                            "λ\n&nbsp;&nbsp;→&nbsp;True")], [], [], []),
    "all four lists, names": record([goal("1", [], "True", "Goal0")], [goal("2", [], "False", None)],
                                    [goal("3", [], V.format("nat"), "k")], [goal("4", [], "True", "")]),
    "focus levels in the background": record([goal("5", [], "True")],
                                             [([goal("4", [], "A")], [goal("6", [], "B"), goal("7", [], "C")]),
                                              ([], []), ([], [goal("8", [], "D")])], [], []),
    "a goal without a name field": record(["<goal><string>9</string><list/>" + pp("True") + "</goal>"],
                                          [], [], []),
    "empty richpp": record([goal("1", ["<pp></pp>"], "")], [], [], []),
}

# Answers it leaves to ElementTree, which reads them as before (or refuses them, as before).
UNUSUAL = {
    "a failure": b'<value val="fail" loc_s="0" loc_e="3"><state_id val="3"/>'
                 b"<richpp><_><pp>No&nbsp;such&nbsp;goal.</pp></_></richpp></value>",
    "an Add": b'<value val="good"><pair><state_id val="7"/><union val="in_l"><unit/></union></pair></value>',
    "blanks between tags": record([goal("1", [], "True").replace("<list/>", "<list/> ")], [], [], []),
    "an attribute in richpp": record([goal("1", [], '<constr.variable x="1">n</constr.variable>')], [], [], []),
    "CDATA": record([goal("1", [], "<![CDATA[a<b]]>")], [], [], []),
    "a comment": record([goal("1", [], "a<!-- > -->b")], [], [], []),
    "a carriage return": record([goal("1", [], "a\r\nb")], [], [], []),
    "&#13;": record([goal("1", [], "a&#13;b")], [], [], []),
    "three lists": b'<value val="good"><option val="some"><goals><list/><list/><list/></goals></option></value>',
}

REFUSED = {
    "an undefined entity": record([goal("1", [], "&copy;")], [], [], []),
    "a control character": record([goal("1", [], "a\x01b")], [], [], []),
    "a bare ampersand": record([goal("1", [], "a & b")], [], [], []),
    "&#0;": record([goal("1", [], "&#0;")], [], [], []),
    "malformed": b'<value val="good"><option val="some"><goals><list><goal>',
}


def both_ways(raw: bytes):
    fast = xml.parse_answer(raw)
    tree = xml.Answer(fast.good, fast.text)  # no record: the parse_* functions read the tree
    return fast, tree


def views(answer: xml.Answer):
    focused = xml.parse_goals(answer)
    return (focused, xml.parse_open_goals(answer),
            xml.parse_unfocused(answer, focused) if focused is not None else None)


@pytest.mark.parametrize("case", list(READ))
def test_the_reader_reads_what_elementtree_reads(case):
    fast, tree = both_ways(READ[case])
    assert fast.record is not None  # read by position
    assert views(fast) == views(tree)


def test_what_the_reader_makes_of_references_and_names():
    focused = xml.parse_goals(xml.parse_answer(READ["references"])).focused
    ((gid, g),) = focused
    assert gid == "7" and g.hypotheses[0].body == "1 <= 2" and g.hypotheses[0].type == "Prop"
    assert g.conclusion == "\"a&b\" -> 'x' Aλ&lt;"
    named = xml.parse_open_goals(xml.parse_answer(READ["all four lists, names"]))
    assert [n for n, _ in named.live] == ["Goal0", None]
    assert [n for n, _ in named.shelved] == ["k"] and [n for n, _ in named.given_up] == [None]


@pytest.mark.parametrize("case", list(UNUSUAL))
def test_what_the_reader_does_not_know_goes_to_elementtree(case):
    answer = xml.parse_answer(UNUSUAL[case])
    assert answer.record is None
    if case == "three lists":
        with pytest.raises(xml.ProtocolError, match="3 lists"):
            xml.parse_goals(answer)
    elif answer.good and case != "an Add":
        fast, tree = both_ways(UNUSUAL[case])
        assert views(fast) == views(tree)


def test_a_cdata_section_keeps_its_text():
    (_, g), = xml.parse_goals(xml.parse_answer(UNUSUAL["CDATA"])).focused
    assert g.conclusion == "a<b"


@pytest.mark.parametrize("case", list(REFUSED))
def test_what_elementtree_refuses_is_still_refused(case):
    with pytest.raises(xml.ProtocolError):
        xml.parse_answer(REFUSED[case])


def test_a_failure_keeps_its_message_and_state():
    answer = xml.parse_answer(UNUSUAL["a failure"])
    assert not answer.good and answer.message == "No such goal." and answer.state_id == 3


# -- live: every goal record of a script with varied goals, read both ways ----------------------

SCRIPT = [
    "Require Import Arith Lia String.", "Set Printing Goal Names.", "Open Scope string_scope.",
    "Goal forall (n : nat) (l : list nat), exists k, k = n /\\ (n < 3 -> True) /\\ (\"a&b<c>\" = \"a&b<c>\")"
    " /\\ (forall f : nat -> nat, f = (fun x => x + 0) -> f 0 = 0 + 0 + 0 + 0 + 0 + 0 + 0 + 0 + 0 + 0 + 0"
    " + 0 + 0 + 0 + 0 + 0 + 0 + 0 + 0 + 0 + 0 + 0 + 0 + 0 + 0 + 0 + 0 + 0 + 0 + 0 + 0 + 0 + 0 + 0).",
    "intros n l.", "set (z := n + 1 <= 2).", "eexists.", "split.", "2: split.", "shelve.",
    "2: split.", "3: intros f Hf.", "3: subst f.", "2: {", "reflexivity.", "}", "2: {", "simpl.",
]
CALLS = {"focused": xml.goal_call(), "unfocused": xml.unfocused_goal_call(), "open": xml.open_goals_call()}


@requires_coq
def test_every_record_of_a_real_script_reads_the_same_both_ways():
    cfg = CoqConfig()
    proc = CoqProcess(cfg.argv(), cfg.memory_mb, cfg.start_timeout_s)
    seen = set()
    try:
        for sentence in SCRIPT:
            assert proc.add(sentence, 60).good, sentence
            for call in CALLS.values():
                answer = proc.query(call, 60)
                assert answer.good and answer.record is not None, answer.text[:300]  # read by position
                assert views(answer) == views(xml.Answer(True, answer.text))
                seen.update(g.printed for _, g in xml.parse_open_goals(answer).live)
    finally:
        proc.close()
    printed = "\n".join(seen)
    for what in ('"a&b<c>"', "z := n + 1 <= 2 : Prop", "?k", "\n"):  # the cases the script is for
        assert what in printed, what
    # Inside a block: the goals around it come as pairs of lists, read by position too.
    assert "<pair><list><goal>" in answer.text and views(answer)[2].background
