"""MWPBench-style answer scoring on the bundled Fresh Gaokao Math 2023 records: the benchmark's own judge
(its extraction, normalisation and lenient rules, quirks included) and the by-value judge, side by
side on hand-written answers; clear errors for bad responses; the command."""

import json
import subprocess
import sys

import pytest

from eval.latex_value import Unreadable, equal_values
from eval.mwpbench import (
    MWPError,
    extract_answer,
    judge_equivalent,
    judge_mwpbench,
    load_problems,
    read_responses,
    score,
    strip_string,
)
from tests.conftest import REPO


@pytest.fixture(scope="module")
def gaokao():
    problems, _ = load_problems("fresh_gaokao")
    return problems


def test_the_bundled_set(gaokao):
    assert len(gaokao) == 30 and gaokao[0].id == "fresh_gaokao.1"


@pytest.mark.parametrize("form", ["The answer is \\boxed{{{a}}}.", "So the final answer is {a}", "Thus \\boxed{{{a}}}"])
def test_gold_answers_score_full_marks_under_both_judges(gaokao, form):
    result = score(gaokao, {p.id: form.format(a=p.answer) for p in gaokao})
    assert result["mwpbench"]["correct"] == result["equivalent"]["correct"] == 30


def test_wrong_answers_score_nothing(gaokao):
    result = score(gaokao, {p.id: "\\boxed{12345}" for p in gaokao})
    assert result["mwpbench"]["correct"] == result["equivalent"]["correct"] == 0


# (prediction, reference, the benchmark's judge, the by-value judge)
CASES = [
    ("80.0", "80", True, True),
    ("8", "80", False, False),
    ("x=4", "4", True, True),
    ("(1, 3)", "(1,3)", True, True),
    ("(1,3]", "(1,3)", False, False),  # another interval
    ("[2,3)", "[2, 3)", True, True),
    ("\\{-2\\}", "\\{-2\\}", True, True),
    ("0.5", "\\frac12", True, True),  # upstream maps exactly "0.5" to \frac{1}{2}
    ("\\frac{1}{4}", "0.25", False, True),  # ... and no other decimal
    ("-0.75", "\\( -\\frac{3}{4} \\)", False, True),
    ("-\\frac{3}{4}", "\\( -\\frac{3}{4} \\)", False, True),  # upstream: a wrapped reference rejects a negative answer
    ("\\pi/3", "\\( \\frac{\\pi}{3} \\)", False, True),
    ("-1-i\\sqrt{3}", "\\( -1 - \\sqrt{3}i \\)", False, True),
    ("\\frac{1-\\sqrt{5}}{-4}", "\\( \\frac{-1+\\sqrt{5}}{4} \\)", False, True),
    ("x^2 + y^2 = 2", "\\[ \\frac{x^2}{2} + \\frac{y^2}{2} = 1 \\]", False, True),  # the same circle, both sides scaled
    ("x^2 + y^2 = 3", "\\[ \\frac{x^2}{2} + \\frac{y^2}{2} = 1 \\]", False, False),
    ("\\frac{\\sqrt{7}}{4}", "\\[ \\sin A = \\frac{\\sqrt{7}}{4} \\]", True, True),
    ("\\frac{1}", "\\( \\frac{1}{9} \\)", True, False),  # upstream: containment of 3+ characters
    ("\\sqrt{5}", "\\( \\sqrt{5} \\)", True, True),
    ("[\\frac{\\sqrt{5}-1}{2},-1)", "\\[ \\left[ \\frac{\\sqrt{5}-1}{2}, -1 \\right) \\]", True, True),
    (None, "1", False, False),
]


@pytest.mark.parametrize("pred, ref, mwpbench, equivalent", CASES)
def test_the_two_judges(pred, ref, mwpbench, equivalent):
    assert judge_mwpbench(pred, ref.lower()) is mwpbench
    assert judge_equivalent(pred, ref.lower()) is equivalent


@pytest.mark.parametrize("completion, reference, extracted", [
    ("first \\boxed{3} then \\boxed{\\frac{1}{2}}", "5", "\\frac{1}{2}"),  # the last box
    ("we get 12 apples, then 15.5 in all", "7", "15.5"),  # numeric reference: the last number
    ("so the answer is: (1, 3).\nDone", "(2,4)", "(1, 3)"),
    ("the set is {x | x > 1}", "{x | x > 2}", "{x | x > 1}"),  # after the last "is"
    ("no marker here", "{x}", None),
    ("The Answer Is \\Boxed{X}", "y", "x"),  # everything is lower-cased first
])
def test_extraction(completion, reference, extracted):
    assert extract_answer(completion, reference) == extracted


@pytest.mark.parametrize("raw, clean", [
    ("\\frac12", "\\frac{1}{2}"), ("\\dfrac{3}{4}", "\\frac{3}{4}"), ("3/4", "\\frac{3}{4}"), ("k = 5", "5"),
    ("\\sqrt3", "\\sqrt{3}"), ("5\\%", "5"), ("10^{\\circ}", "10"), ("1,000", "1000"), (".5", "\\frac{1}{2}"),
    ("\\left( 1, 2 \\right)", "(12)"), ("4 \\text{ cm}", "4"),
])
def test_normalisation_follows_the_benchmark(raw, clean):
    assert strip_string(raw) == clean


def test_values_of_latex():
    assert equal_values("2\\sqrt{3}", "\\sqrt{12}") and equal_values("\\frac{\\pi}{2}", "1.5707963267948966")
    assert equal_values("\\sqrt[3]{8}", "2") and equal_values("|{-3}|", "3") and equal_values("2^{10}", "1024")
    assert equal_values("(x+1)^2", "x^2+2x+1") and not equal_values("(x+1)^2", "x^2+1")
    assert not equal_values("x+1", "y+1")  # other variables
    with pytest.raises(Unreadable):
        equal_values("\\sin x", "1")


# -- responses -------------------------------------------------------------------------------------

def _write(tmp_path, rows, name="r.jsonl"):
    p = tmp_path / name
    p.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return p


def test_bad_responses_are_named(tmp_path, gaokao):
    rows = [{"question_number": p.id, "response": "\\boxed{1}"} for p in gaokao]
    with pytest.raises(MWPError, match=r"no response for 1 questions: fresh_gaokao.30"):
        read_responses(_write(tmp_path, rows[:-1]), gaokao)
    with pytest.raises(MWPError, match=r"record 31: a second response to fresh_gaokao.1"):
        read_responses(_write(tmp_path, rows + rows[:1]), gaokao)
    with pytest.raises(MWPError, match=r"record 1: no question 'nope'"):
        read_responses(_write(tmp_path, [{"question_number": "nope", "response": ""}]), gaokao)
    with pytest.raises(MWPError, match=r"record 1 needs question_number \(or id\) and a string response"):
        read_responses(_write(tmp_path, [{"question_number": "fresh_gaokao.1", "response": 3}]), gaokao)
    with pytest.raises(MWPError, match="no such file"):
        load_problems(str(tmp_path / "none.jsonl"))


def test_score_command(tmp_path, gaokao):
    rows = [{"question_number": p.id, "response": f"The answer is \\boxed{{{p.answer}}}" if k % 2 else "\\boxed{0}"}
            for k, p in enumerate(gaokao)]
    done = subprocess.run([sys.executable, "-m", "proofzero.cli", "mathscale", "score", str(_write(tmp_path, rows)),
                           "--json", "--out", str(tmp_path / "out")], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["mwpbench"]["correct"] == result["equivalent"]["correct"] == 15
    assert json.loads((tmp_path / "out/score.json").read_text()) == result
    bad = subprocess.run([sys.executable, "-m", "proofzero.cli", "mathscale", "score", str(_write(tmp_path, rows[1:], "s.jsonl"))],
                         capture_output=True, text=True, cwd=REPO, timeout=120)
    assert bad.returncode == 2 and "no response for 1 questions: fresh_gaokao.1" in bad.stderr and "Traceback" not in bad.stderr
