"""Tactics are untrusted: exactly one tactic expression passes, every escape hatch is refused."""

import pytest

from formal.coq.sandbox import TacticRejected, check_tactic
from formal.coq.sentences import CoqSyntaxError, split_sentences, strip_comments

ACCEPTED = {
    "lia.": "lia",
    "  intros x y H  ": "intros x y H",
    "split; [lia | exists 0; lia].": "split; [lia | exists 0; lia]",
    "rewrite Nat.add_comm.": "rewrite Nat.add_comm",
    "(* a hint *) nra": "nra",
    'idtac "a. b (* c"': 'idtac "a. b (* c"',
    "pose proof (Nat.div_mod n 11 ltac:(lia)) as E1": "pose proof (Nat.div_mod n 11 ltac:(lia)) as E1",
    "induction n as [| n [k Hk]]": "induction n as [| n [k Hk]]",
    "assert (X : Type) by exact nat": "assert (X : Type) by exact nat",
    "apply/eqP; move=> x": "apply/eqP; move=> x",
    "exact (fun x : R => x)": "exact (fun x : R => x)",
}


@pytest.mark.parametrize("text", ACCEPTED)
def test_one_tactic_is_accepted_and_normalised(text):
    assert check_tactic(text) == ACCEPTED[text]


REJECTED = [
    # gives up or skips the type checker
    "admit", "admit.", "give_up", "split; admit", "exact_no_check I", "vm_cast_no_check I",
    "change_no_check True",
    # proof enders and injection after a tactic
    "Admitted", "Abort", "Abort All", "Qed", "Defined", "Save foo", "lia. Qed", "lia. Qed.",
    "lia.\nDefined.", "lia. Admitted.", "exact I. Axiom cheat : False",
    # declarations
    "Axiom cheat : False", "Parameter p : nat", "Hypothesis h : False", "Variable v : nat",
    "Definition d := 0", "Lemma l : True", "Theorem t : True", "Fixpoint f (n : nat) := n",
    "Ltac t := idtac", "Tactic Notation \"x\" := idtac",
    # commands that touch the system or the environment
    "Drop", "Load \"x.v\"", "Redirect \"out\" Print nat", "Extraction \"f.ml\" nat",
    "Recursive Extraction nat", "Cd \"/tmp\"", "Add LoadPath \"/tmp\" as X", "Add Rec LoadPath \"/\"",
    "Declare ML Module \"evil\"", "Require Import Lia", "Import Nat", "From Coq Require Lia",
    "Set Printing All", "Unset Guard Checking", "Local Set Universe Polymorphism",
    "#[local] Set x", "Timeout 1 lia", "Fail lia", "Time lia", "Print Assumptions x",
    "Unshelve", "Focus 1", "Show",
    # several sentences, selectors, bullets, braces
    "lia. lia", "intros. lia.", "intros... lia", "lia...", "all: lia", "2: lia", "1-2: lia", "[g]: lia", "par: lia", "!: lia",
    "- lia", "+ lia", "* lia", "{", "}", "2: {",
    # comments and strings that could hide a sentence
    "lia (* ", "idtac (* . Qed. ", "idtac \"", "idtac \" . Qed.", "(* *) (* ",
    # junk
    "", "   ", ".", "\0lia", "x" * 5000,
]


@pytest.mark.parametrize("text", REJECTED)
def test_escape_hatches_are_rejected(text):
    with pytest.raises(TacticRejected):
        check_tactic(text)


def test_rejection_says_why():
    with pytest.raises(TacticRejected, match="several sentences"):
        check_tactic("lia. Qed.")
    with pytest.raises(TacticRejected, match="forbidden tactic 'admit'"):
        check_tactic("split; admit")
    with pytest.raises(TacticRejected, match="unterminated comment"):
        check_tactic("lia (* .")


def test_non_string_is_rejected():
    with pytest.raises(TacticRejected):
        check_tactic(None)  # type: ignore[arg-type]


def test_sentences_respect_comments_strings_bullets_and_qualified_names():
    text = 'Lemma a : 1 = 1. (* a. comment *) Proof.\n- idtac "x. y".\n  + reflexivity.\n2: { lia. }\nQed.'
    got = [s.text for s in split_sentences(text)]
    assert got == [
        "Lemma a : 1 = 1.", "Proof.", "-", 'idtac "x. y".', "+", "reflexivity.", "2: {", "lia.", "}", "Qed.",
    ]
    assert [s.line for s in split_sentences(text)][:3] == [1, 1, 2]
    assert [s.text for s in split_sentences("rewrite Nat.add_comm. lia.")] == ["rewrite Nat.add_comm.", "lia."]
    # `Proof with`'s terminator `...` ends a sentence; the notation token `..` does not.
    got = [s.text for s in split_sentences("intros... split. Notation \"[ x ; .. ; y ]\" := (f x .. y).")]
    assert got == ["intros...", "split.", 'Notation "[ x ; .. ; y ]" := (f x .. y).']


def test_nested_comments_and_escaped_quotes():
    assert strip_comments('a (* b (* c *) "*)" d *) e "f "" (*"') == 'a   e "f "" (*"'
    with pytest.raises(CoqSyntaxError):
        split_sentences("Lemma x : True. (* (* *) Proof.")
