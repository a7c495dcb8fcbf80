"""Scratchpad, its line checker, and RFFT: against upstream's files and the paper's 59+13 example.

The checker grades a line against the rule applied to the model's own previous line. For 57+68:

    57+68,,C:0     ok   the question restated
    5+6,4,C:1      BAD  7+8+0 = 15 writes 5, not 4
    +,24,C:1       ok   5+6+1 = 12 writes 2 before the model's own "4"
    +,124,C:0      ok   the carry written
    124            ok   the model's last result -- which is not the answer 125
"""

import subprocess
import sys

import pytest

from data.caseorrule.formats import answer_of, check_format, is_correct, make_example
from data.caseorrule.rfft import rfft_answer, rfft_prompt, rfft_target
from data.caseorrule.scratchpad import SCRATCHPAD_TASKS, grade_scratchpad, scratchpad
from data.caseorrule.tasks import TASKS
from tests.conftest import FIXTURES, REPO

HERE = FIXTURES / "case_or_rule"


def test_rfft_prompt_and_target_of_59_plus_13_are_the_papers():
    assert rfft_prompt(59, 13) == (HERE / "rfft_59_13_input.txt").read_text()
    assert rfft_target(59, 13) == (HERE / "rfft_59_13_output.txt").read_text()
    assert (len(rfft_prompt(59, 13)), len(rfft_target(59, 13))) == (785, 1566)
    ex = make_example("addition", {"id": 0, "question": "59+13=", "a": 59, "b": 13, "answers": ["72"]}, "rfft")
    assert (ex.prompt, ex.target) == (rfft_prompt(59, 13), rfft_target(59, 13))


@pytest.mark.parametrize("a, b", [(0, 0), (5, 98), (999, 1), (123456789, 987654321), (40, 7)])
def test_rfft_trace_returns_the_sum(a, b):
    trace = rfft_target(a, b)
    assert rfft_answer(trace) == str(a + b)
    assert trace.count("2.2 one iteration") == max(len(str(a)), len(str(b)))
    assert ("bool(carry)=True" in trace) == (len(str(a + b)) > max(len(str(a)), len(str(b))))


def test_base_nine_rfft_uses_base_nine():
    # 80 + 7 = 87 = 106 in base 9, written 88+7
    ex = make_example("base_addition", {"id": 0, "question": "88+7=", "a": 80, "b": 7, "answers": ["106"]}, "rfft")
    assert "88+7=" in ex.prompt and "total%9" in ex.prompt
    assert rfft_answer(ex.target) == "106"


def test_scratchpad_of_every_shipped_record_and_its_grade():
    import json

    for r in json.loads((HERE / "addition_1hole_50_50_10_441_cot_test.json").read_text()):
        assert scratchpad("addition", r["a"], r["b"]) == r["answers"][0]
        g = grade_scratchpad("addition", r["a"], r["b"], r["answers"][0])
        assert g.answer_ok and g.first_error is None


@pytest.mark.parametrize("task", SCRATCHPAD_TASKS)
def test_gold_scratchpads_pass_the_checker_everywhere(task):
    grid = TASKS[task].grid
    for a in range(0, grid, 3):
        for b in range(0, grid, 5):
            text = scratchpad(task, a, b)
            g = grade_scratchpad(task, a, b, text)
            assert g.answer_ok and g.first_error is None, (a, b, text)
            assert is_correct("scratchpad", {"answers": [TASKS[task].answer(a, b)], "gt": TASKS[task].answer(a, b)}, text)


def test_checker_grades_each_line_locally():
    gold = scratchpad("addition", 57, 68).split("\n")
    assert gold == ["57+68,,C:0", "5+6,5,C:1", "+,25,C:1", "+,125,C:0", "125"]
    slip = ["57+68,,C:0", "5+6,4,C:1", "+,24,C:1", "+,124,C:0", "124"]  # 7+8 -> 4, then consistent
    g = grade_scratchpad("addition", 57, 68, "\n".join(slip))
    assert [x.ok for x in g.lines] == [True, False, True, True, True]
    assert g.lines[1].expected == "5+6,5,C:1" and not g.answer_ok and g.first_error.index == 1
    # a model that jumps back to the gold line after a slip is wrong there too: the line does not follow
    jump = ["57+68,,C:0", "5+6,4,C:1", "+,25,C:1", "+,125,C:0", "125"]
    assert [x.ok for x in grade_scratchpad("addition", 57, 68, "\n".join(jump)).lines] == [True, False, False, True, True]
    # stopping short, garbage and extra lines
    g = grade_scratchpad("addition", 57, 68, "57+68,,C:0\nhello")
    assert [x.ok for x in g.lines] == [True, False, False, False, False] and g.lines[2].text == ""
    g = grade_scratchpad("addition", 57, 68, "\n".join(gold + ["125"]))
    assert g.answer_ok and not g.lines[-1].ok and g.lines[-1].expected == ""


def test_checker_follows_modular_and_base_nine_scratchpads():
    text = scratchpad("mod_addition", 79, 73)  # 152 >= 113: subtract
    assert text.split("\n")[4:7] == ["152", "152>=113", "152-113="] and text.endswith("\n39")
    slip = text.replace("15-11,9,C:-1", "15-11,8,C:-1").replace("1-1,39", "1-1,38").replace("-,039", "-,038")
    g = grade_scratchpad("mod_addition", 79, 73, slip[: -len("39")] + "38")
    assert [x.index for x in g.lines if not x.ok] == [8] and not g.answer_ok
    g = grade_scratchpad("mod_addition", 79, 73, text.replace("15-11,9,C:-1", "15-11,8,C:-1"))  # slip not carried on
    assert [x.index for x in g.lines if not x.ok] == [8, 9] and g.answer_ok
    # base 9: digits 9 are not base-9 digits; the rule never writes them
    assert all(set(line.split(",")[1]) <= set("012345678") for line in scratchpad("base_addition", 80, 80).split("\n")[:-1])
    g = grade_scratchpad("base_addition", 80, 7, "88+7,,C:0\n8+,9,C:1\n+,19,C:0\n19\n19")
    assert not g.answer_ok and g.lines[1].expected == "8+,6,C:1"


def test_answers_are_read_back_per_format():
    assert answer_of("plain", " 86 ") == "86" and answer_of("plain", "") is None
    assert answer_of("scratchpad", "53+33,,C:0\n5+3,6,C:0\n+,86,C:0\n86") == "86"
    assert answer_of("rfft", rfft_target(53, 33)) == "86" and answer_of("rfft", "result=[8, 6]\n\n[8, x]") is None
    record = {"answers": [28], "a": 4, "b": 24}  # modular addition stores ints
    assert is_correct("plain", record, "28") and not is_correct("plain", record, "028")
    with pytest.raises(ValueError):
        check_format("linear_regression", "scratchpad")
    with pytest.raises(ValueError):
        check_format("mod_addition", "rfft")


def cli(*args, stdin=None):
    return subprocess.run([sys.executable, "-m", "proofzero.cli", "caseorrule", *args], cwd=REPO, capture_output=True,
                          text=True, timeout=120, input=stdin)


def test_example_and_grade_commands(tmp_path):
    proc = cli("example", "addition", "59", "13", "--format", "rfft")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == f"--- prompt ---\n{rfft_prompt(59, 13)}\n--- target ---\n{rfft_target(59, 13)}\n"
    proc = cli("grade", "addition", "57", "68", "-", stdin="57+68,,C:0\n5+6,4,C:1\n+,24,C:1\n+,124,C:0\n124")
    assert proc.returncode == 1 and "4/5 lines follow the rule; final answer wrong" in proc.stdout
    assert "expected 5+6,5,C:1" in proc.stdout
    proc = cli("grade", "addition", "57", "68", str(tmp_path / "missing.txt"))
    assert proc.returncode == 2 and "cannot read" in proc.stderr
