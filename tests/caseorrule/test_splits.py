"""Case-or-Rule splits against upstream's files: the shipped test sets byte for byte, the others by their
length and quoted records (tests/fixtures/case_or_rule/upstream_checks.json), through the CLI too."""

import json
import subprocess
import sys

import pytest

from data.caseorrule.formats import cot_records
from data.caseorrule.splits import dumps, leave_squares_out, length_split, one_hole, random_split, read_records
from data.caseorrule.squares import Squares, draw_squares, parse_squares
from data.caseorrule.tasks import TASKS
from tests.conftest import FIXTURES, REPO

HERE = FIXTURES / "case_or_rule"
SQUARES = REPO / "benchmarks" / "case-or-rule" / "squares"
CHECKS = json.loads((HERE / "upstream_checks.json").read_text())


def squares_of(name: str) -> Squares:
    return parse_squares((SQUARES / f"{name}.txt").read_text())


@pytest.mark.parametrize("task, squares, fixture", [
    ("addition", "addition_3hole_1411", "addition_3hole_1411_test.json"),
    ("mod_addition", "mod_addition_3hole_2803", "mod_addition_3hole_2803_test.json"),
])
def test_three_hole_test_sets_are_upstreams_byte_for_byte(task, squares, fixture):
    split = leave_squares_out(TASKS[task], squares_of(squares))
    assert dumps(split.test) == (HERE / fixture).read_text()
    assert split.name == {"addition": "3hole_1411_0-100", "mod_addition": "3hole_2803_0-113"}[task]
    grid = TASKS[task].grid
    assert len(split.train) + len(split.test) == grid * grid
    assert not {r["id"] for r in split.train} & {r["id"] for r in split.test}


def test_one_hole_and_its_scratchpad_file_are_upstreams():
    split = one_hole(TASKS["addition"], (50, 50), 10)
    assert split.name == "1hole_(50, 50)_10_441_0-100"
    assert dumps(split.test) == (HERE / "addition_1hole_50_50_10_441_test.json").read_text()
    assert dumps(cot_records("addition", split.test)) == (HERE / "addition_1hole_50_50_10_441_cot_test.json").read_text()


def _build(check: dict) -> list[dict]:
    task = TASKS[check["task"]]
    if check["split"] == "random":
        split = random_split(task)
    elif check["split"].startswith("one_hole"):
        x, y, k = (int(v) for v in check["split"].split()[1].split(","))
        split = one_hole(task, (x, y), k)
    else:
        split = leave_squares_out(task, squares_of(check["split"]))
    records = getattr(split, check["side"])
    return cot_records(task.name, records) if check.get("format") == "scratchpad" else records


@pytest.mark.parametrize("check", CHECKS["lengths"], ids=lambda c: c["file"].split("datasets/")[1])
def test_other_upstream_files_have_upstreams_length(check):
    assert len(dumps(_build(check))) == check["chars"]


def test_random_split_is_torchs_permutation_seeded_42():
    split = random_split(TASKS["addition"])
    assert split.name == "random_split_0.7_7000_3000_0-100"
    assert [r["id"] for r in split.test[:20]] == CHECKS["random_split_first_test_ids"]["ids"]
    assert random_split(TASKS["mod_addition"]).name == "random_split_0.7_8938_3831_0-113"


@pytest.mark.parametrize("quoted", CHECKS["records"], ids=lambda q: f"{q['task']}-{q['record']['id']}")
def test_quoted_upstream_records_are_reproduced(quoted):
    task = TASKS[quoted["task"]]
    want = quoted["record"]
    ours = {r["id"]: r for r in task.records()}[want["id"]]
    if "gt" in want:
        ours = cot_records(task.name, [ours])[0]
    assert json.dumps(ours) == json.dumps(want)  # same keys, same order, same values


def test_rabbits_squares_live_in_the_legs_over_two_plane():
    split = leave_squares_out(TASKS["rabbits_and_chickens"], squares_of("rabbits_and_chickens_3hole_363"))
    # (130, 82) half 5: legs/2 in 125..135, heads in 77..87
    assert all(2 * r["b"] <= r["a"] <= 4 * r["b"] for r in split.test)
    assert {"a": 260, "b": 82} in [{"a": r["a"], "b": r["b"]} for r in split.test]
    assert len(split.test) == 363  # upstream draws rabbits' squares inside the region of real farms


def test_squares_file_parsing_and_errors():
    sq = parse_squares("centers:[(53, 33), (73, 78), (13, 31)]\nlengths:[10, 10, 11]")
    assert sq.centres == ((53, 33), (73, 78), (13, 31)) and sq.halves == (10, 10, 11) and sq.nominal_size == 1411
    assert parse_squares(sq.text()) == sq
    for bad in ("", "centers:[(1, 2)]", "centers:[(1, 2), (3, 4)]\nlengths:[5]", "centers:[(1, x)]\nlengths:[5]",
                "centers:[(1, 2)]\nlengths:[-1]", "centers:[]\nlengths:[]", "lengths:[1]\ncenters:[(1, 2)]"):
        with pytest.raises(ValueError):
            parse_squares(bad)
    with pytest.raises(ValueError, match="outside"):
        leave_squares_out(TASKS["addition"], parse_squares("centers:[(150, 3)]\nlengths:[2]"))


def test_drawn_squares_are_seeded_disjoint_and_inside():
    for name in ("addition", "rabbits_and_chickens"):
        task = TASKS[name]
        a, b = draw_squares(task, 3, seed=7), draw_squares(task, 3, seed=7)
        assert a == b and a != draw_squares(task, 3, seed=8)
        width, height = task.plane_size()
        for (cx, cy), k in zip(a.centres, a.halves):
            assert 0 <= cx - k and cx + k < width and 0 <= cy - k and cy + k < height
        for i in range(3):
            for j in range(i + 1, 3):
                (xi, yi), ki, (xj, yj), kj = a.centres[i], a.halves[i], a.centres[j], a.halves[j]
                assert abs(xi - xj) > ki + kj or abs(yi - yj) > ki + kj
        leave_squares_out(task, a)  # a valid split


def test_length_split_lengths_and_seed():
    split = length_split(train_per_pair=5, test_per_length=4, seed=3)
    assert split.name == "length_1-5_6-12" and len(split.train) == 25 * 5 and len(split.test) == 7 * 4
    assert all(max(len(str(r["a"])), len(str(r["b"]))) <= 5 for r in split.train)
    assert sorted({max(len(str(r["a"])), len(str(r["b"]))) for r in split.test}) == list(range(6, 13))
    assert all(r["answers"] == [str(r["a"] + r["b"])] for r in split.train + split.test)
    assert dumps(split.test) == dumps(length_split(train_per_pair=5, test_per_length=4, seed=3).test)


def test_read_records_refuses_what_is_not_a_split(tmp_path):
    good = tmp_path / "good.json"
    good.write_text(dumps(TASKS["addition"].records()[:3]))
    assert len(read_records(good)) == 3
    for text in ("[]", "{}", "not json", '[{"id": "1", "question": "1+1=", "answers": ["2"]}]',
                 '[{"id": 1, "question": "1+1=", "answers": []}]', '[{"id": 1, "question": "1+1=", "a": 1.5, "answers": ["2"]}]'):
        bad = tmp_path / "bad.json"
        bad.write_text(text)
        with pytest.raises(ValueError, match="bad.json"):
            read_records(bad)


def cli(*args):
    return subprocess.run([sys.executable, "-m", "proofzero.cli", "caseorrule", *args], cwd=REPO, capture_output=True,
                          text=True, timeout=120)


def test_split_command_writes_upstreams_files(tmp_path):
    proc = cli("split", "mod_addition", "--squares", "mod_addition_3hole_2803", "--out", str(tmp_path / "m"))
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "m" / "test.json").read_text() == (HERE / "mod_addition_3hole_2803_test.json").read_text()
    assert parse_squares((tmp_path / "m" / "test_squares.txt").read_text()) == squares_of("mod_addition_3hole_2803")
    proc = cli("split", "addition", "--centre", "50,50", "--half", "10", "--format", "scratchpad", "--out", str(tmp_path / "c"))
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "c" / "test.json").read_text() == (HERE / "addition_1hole_50_50_10_441_cot_test.json").read_text()
    assert "9559 train, 441 test" in proc.stdout
    # a squares file that is not one, a format the task has not: one line, exit 2, nothing written
    (tmp_path / "bad.txt").write_text("centers:[(1, 2)]\n")
    for args in (["addition", "--squares", str(tmp_path / "bad.txt")], ["linear_regression", "--random", "0.7", "--format", "scratchpad"],
                 ["addition", "--centre", "5", "--half", "2"], ["addition", "--random", "1.5"]):
        proc = cli("split", *args, "--out", str(tmp_path / "x"))
        assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
        assert not (tmp_path / "x").exists()
