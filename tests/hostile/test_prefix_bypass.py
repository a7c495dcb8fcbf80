"""Hostile input, class 1: commands hidden behind control prefixes, attributes and literal forms.

Coq 8.16 strips `Time`, `Fail`, `Succeed`, `Instructions`, `Timeout <number>` and `Redirect "f"` in
front of a command, reads attributes before it in any order, does not need blanks between tokens
(`Timeout 5Print nat` runs Print) and reads numbers as `1_0`, `0x5` or `1e3`. Whatever the
disguise, a forbidden command must be refused before Coq runs: the tests replace the process
runner by one that fails the test, so a verdict from Coq itself would be caught.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from formal.coq import checker
from formal.coq.allowlist import sentence_problem
from formal.coq.checker import CheckerConfig, verify_source
from formal.coq.sentences import split_sentences
from formal.coq.vernac import parse_command
from tests.conftest import requires_coq

REPO = Path(__file__).resolve().parents[2]
FAST = CheckerConfig(timeout_s=30)

# Commands that read or write files, load code, leave Coq or weaken the kernel.
FORBIDDEN = [
    'Redirect "out" Print nat',
    'Extraction "pwned/evil.sh" nat',
    "Recursive Extraction nat",
    'Separate Extraction nat',
    "Extraction Library Datatypes",
    'Extract Constant plus => "foo"',
    'Cd "/tmp"',
    'Load "evil"',
    "Load evil",
    'Declare ML Module "evil_plugin"',
    'Add LoadPath "/tmp" as Evil',
    'Add Rec LoadPath "/tmp" as Evil',
    'Add ML Path "/tmp"',
    "Drop",
    "Quit",
    'Print Universes "/tmp/u.dot"',
    "Unset Guard Checking",
    "Unset Positivity Checking",
    "Unset Universe Checking",
    "Set Definitional UIP",
    "Set Lia Cache",
    'Register bool as core.bool.type',
    "Ltac2 Eval ()",
    "Reset Initial",
]
# Prefixes Coq accepts before a command, with the literal forms its lexer reads.
NUMERALS = ["5", "1_0", "0x5", "0X1_f", "1e3", "1_000", "0x0.8p1", "2.5"]
CONTROLS = ["Time", "Fail", "Succeed", "Instructions"] + [f"Timeout {n}" for n in NUMERALS]
ATTRIBUTES = ["#[local]", "#[global]", "#[export]", "#[ local , program ]", '#[deprecated(note="]")]',
              "#[universes(polymorphic)]", "Local", "Global", "Polymorphic", "Monomorphic", "Program",
              "Cumulative", "Private"]
SEPARATORS = [" ", "\n", "\t", "  ", "(* a comment *)", "(* nested (* comment *) *)"]


@pytest.fixture(autouse=True)
def coq_must_not_run(monkeypatch):
    monkeypatch.setattr(checker, "run_isolated", lambda *a, **k: pytest.fail("Coq ran on a forbidden file"))


def _check(src: str):
    return verify_source(f"Lemma ok : True. exact I. Qed.\n{src}\n", None, FAST)


@pytest.mark.parametrize(
    "src",
    [
        'Timeout 1_0 Redirect "x" Print nat.',
        'Timeout 0x5 Extraction "f" nat.',
        'Timeout 5Redirect "x" Print nat.',  # no blank after the numeral
        'Time#[local]Timeout 5 Redirect "x" Print nat.',
        '#[local] Time Fail Redirect "x" Print nat.',
        'Fail Fail Succeed Time Timeout 1e3 Cd "/".',
        'Local Timeout 0x1_0 Extraction "f" nat.',
        'Redirect "x" Timeout 3 Print nat.',
        'Time(* hidden *)Declare(* ML *) ML Module "evil".',
        'Instructions Time Load evil.',
        '#[bypass_check(guard)] Fixpoint f (n : nat) : False := f n.',
        '#[ bypass_check ( positivity ) ] Inductive D := c : (D -> False) -> D.',
        "Export Unset Guard Checking.",
        "Global Unset Universe Checking.",
        'Timeout Redirect "x" Print nat.',  # malformed: Coq would refuse, so must we
        '#[local Drop.',  # unclosed attribute
    ],
)
def test_listed_bypasses_are_refused(src):
    v = _check(src)
    assert v.reason == "forbidden", v.message
    assert v.message.startswith("line 2:")


def _sentence(draw_prefixes: list[str], separator: str, command: str) -> str:
    return separator.join([*draw_prefixes, command]) + "."


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    prefixes=st.lists(st.sampled_from(CONTROLS + ATTRIBUTES), max_size=5),
    separator=st.sampled_from(SEPARATORS),
    command=st.sampled_from(FORBIDDEN),
)
def test_every_prefix_combination_of_a_forbidden_command_is_refused(prefixes, separator, command):
    src = _sentence(prefixes, separator, command)
    assert sentence_problem(split_sentences(src)[0].body), src
    assert _check(src).reason == "forbidden", src


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(prefixes=st.lists(st.sampled_from(CONTROLS + ATTRIBUTES), min_size=1, max_size=5),
       separator=st.sampled_from(SEPARATORS))
def test_prefixes_are_stripped_to_the_command_coq_runs(prefixes, separator):
    body = split_sentences(_sentence(prefixes, separator, "Print nat"))[0].body
    assert parse_command(body).words == ("Print", "nat")


@pytest.mark.parametrize("command", ["Frobnicate x", "Test Search Output Name Only", "Comments foo",
                                     "Set Ltac Debug", "Set Extraction Output Directory \"/tmp\"",
                                     "Declare Foo", "Add Foo Bar", "Hint Foo x"])
def test_unknown_commands_are_refused_by_the_allowlist(command):
    v = _check(f"{command}.")
    assert v.reason == "forbidden", v.message


def test_set_definitional_uip_says_what_it_is():
    v = _check("Set Definitional UIP.")
    assert v.reason == "forbidden" and "definitional UIP" in v.message and "seq" not in v.message


def test_commands_in_comments_and_strings_are_not_commands(monkeypatch):
    monkeypatch.undo()  # this file must reach Coq
    v = verify_source('(* Redirect "x" Print nat. *)\nRequire Import String.\n'
                      'Definition s := " Redirect ""x"" Print nat. "%string.\nLemma a : True. exact I. Qed.',
                      None, FAST)
    assert v.verified, v.message


@requires_coq
def test_every_bundled_benchmark_file_passes_the_allowlist():
    """The allowlist must not refuse what real statement files contain."""
    files = sorted((REPO / "benchmarks").rglob("*.v")) + sorted((REPO / "tests" / "fixtures" / "coq").rglob("*.v"))
    assert len(files) > 200
    for f in files:
        for s in split_sentences(f.read_text()):
            assert sentence_problem(s.body) is None, (f.name, s.line, s.body)
