"""WE-Math's four-dimensional scorer on the bundled testmini: the reference outputs of the official
scorer (benchmarks/wemath/SOURCE.md) reproduced exactly, the answer extraction's quirks kept, each of
the four cases on a hand-made group, the knowledge tree roll-up, and clear errors for bad responses."""

import json
import subprocess
import sys

import pytest

from data.wemath import WeMathDataError, load_testmini
from eval.wemath import Dimensions, ResponsesError, extract_answer, match_responses, read_responses, score
from tests.conftest import REPO


@pytest.fixture(scope="module")
def testmini():
    return load_testmini()


def responses(testmini, answer) -> dict:
    return {i.ref: answer(i) for i in testmini.items}


def pct(x: float) -> str:
    return f"{100 * x:.2f}%"  # the official scripts print "{:.2%}"


# -- the data --------------------------------------------------------------------------------------

def test_testmini_has_the_published_shape(testmini):
    assert len(testmini.items) == 1740 and len(testmini.composites) == 525 and len(testmini.one_step) == 1215
    assert sum(g.startswith("2steps") for g in testmini.groups) == 360
    assert sum(g.startswith("3steps") for g in testmini.groups) == 165
    assert len(testmini.tree) == 67
    assert {len({n.path[0] for n in testmini.tree.values()}), len({n.path[:2] for n in testmini.tree.values()})} == {5, 12}


# -- the reference outputs -------------------------------------------------------------------------

def test_gold_responses_score_full_marks(testmini):
    s = score(testmini, responses(testmini, lambda i: f"<Thought process>: ... <Answer>: <<{i.answer}>>"))
    assert s.strict == s.loose == Dimensions(IK=0, IG=0, CM=525, RM=0, total=525)
    assert s.strict.score == s.loose.score == 1.0
    assert (s.s1.rate, s.s2.rate, s.s3.rate) == (1.0, 1.0, 1.0)
    assert all(c.accuracy == 1.0 for c in s.concepts)


def test_every_response_A_reproduces_the_official_scorer(testmini):
    s = score(testmini, responses(testmini, lambda i: "<Answer>: A"))
    assert s.strict == Dimensions(IK=365, IG=7, CM=55, RM=98, total=525)
    assert s.loose == Dimensions(IK=365, IG=7, CM=150, RM=3, total=525)
    assert (pct(s.strict.score), pct(s.strict.rates["RM"])) == ("11.14%", "64.05%")
    assert (pct(s.loose.score), pct(s.loose.rates["RM"])) == ("29.24%", "1.96%")
    assert (pct(s.s1.rate), pct(s.s2.rate), pct(s.s3.rate)) == ("35.56%", "29.72%", "27.88%")
    assert (s.s1.total, s.s2.total, s.s3.total) == (1215, 360, 165)
    # the score is (N - 0.5 IG - RM - IK) / N with RM a count, i.e. (CM + 0.5 IG) / N
    for d in (s.strict, s.loose):
        assert d.IK + d.IG + d.CM + d.RM == 525
        assert d.score == pytest.approx((d.CM + 0.5 * d.IG) / 525)


# -- the answer extraction -------------------------------------------------------------------------

@pytest.mark.parametrize("response, letter", [
    ("<Thought process>: the area is 12 <Answer>: <<B>>", "B"),
    ("Answer: A. Wait, no. Answer: D.", "D"),  # the last "Answer" counts
    ("C", "C"),  # no "Answer" at all: the whole response
    ("<Answer>: <<E>>", "E"),
    ("<Answer>: H", "H"),
    ("<Answer>: I", None),  # only A-H
    ("<Answer>: b", None),  # case matters, as upstream
    ("The Answer is C.", None),  # upstream reads "is C" and takes the "i": kept, to match its numbers
    ("answer: C", None),  # lower-case "answer" is no marker: the whole text, which starts with "a"
    ("", None),
])
def test_extraction_matches_the_official_rule(response, letter):
    assert extract_answer(response) == letter


# -- the four cases --------------------------------------------------------------------------------

def test_each_case_on_its_own_group(testmini):
    """Five two-step groups, answered to fall in one case each:

        group  s1  s2  c   strict  loose
        0      x   x   x   IK      IK
        1      v   v   x   IG      IG
        2      v   v   v   CM      CM
        3      v   x   v   RM      CM   (some, not all, steps right)
        4      x   x   v   RM      RM
    """
    small = testmini.first_groups(5)
    gids = list(small.groups)
    right = {0: (0, 0, 0), 1: (1, 1, 0), 2: (1, 1, 1), 3: (1, 0, 1), 4: (0, 0, 1)}
    got = {}
    for k, gid in enumerate(gids):
        rows = small.groups[gid]
        for flag, key in zip(right[k], ("2steps_1", "2steps_2", "2steps_multi")):
            gold = rows[key].answer
            got[(gid, key)] = f"<Answer>: {gold if flag else ('B' if gold == 'A' else 'A')}"
    s = score(small, match_responses(small, [{"ID": a, "key": b, "response": r} for (a, b), r in got.items()]))
    assert s.strict == Dimensions(IK=1, IG=1, CM=1, RM=2, total=5)
    assert s.loose == Dimensions(IK=1, IG=1, CM=2, RM=1, total=5)
    assert s.strict.rates["RM"] == 2 / 3 and s.loose.rates["RM"] == 1 / 3
    assert (s.s1.correct, s.s1.total, s.s2.correct, s.s2.total, s.s3.total) == (5, 10, 3, 5, 0)
    assert s.s3.rate is None


def test_a_node_is_the_mean_of_its_leaves(testmini):
    """Every sub-problem right but those of one leaf: that leaf 0, its second-level node (k leaves) (k-1)/k."""
    leaf = next(n for n in testmini.tree.values() if sum(m.path[:2] == n.path[:2] for m in testmini.tree.values()) == 3)
    s = score(testmini, responses(testmini, lambda i: "Answer: Z" if i.concept == leaf.leaf else f"Answer: {i.answer}"))
    by_path = {c.path: c for c in s.concepts}
    assert by_path[leaf.path].accuracy == 0.0 and by_path[leaf.path].total > 0
    assert by_path[leaf.path[:2]].accuracy == pytest.approx(2 / 3)
    parent = by_path[leaf.path[:1]]
    assert parent.accuracy == pytest.approx((parent.leaves - 1) / parent.leaves)
    assert sum(c.total for c in s.concepts if c.depth == 1) == 1215
    assert sum(1 for c in s.concepts if c.leaves == 1 and c.depth == len(c.path)) == 67


# -- bad responses ---------------------------------------------------------------------------------

def _write(tmp_path, records, name="r.jsonl"):
    p = tmp_path / name
    p.write_text("".join(json.dumps(r) + "\n" for r in records))
    return p


def _all(testmini):
    return [{"ID": i.id, "key": i.key, "response": f"<Answer>: {i.answer}"} for i in testmini.items]


def test_missing_duplicate_and_unknown_responses_are_named(testmini, tmp_path):
    recs = _all(testmini)
    with pytest.raises(ResponsesError, match=r"no response for 2 of 1740 rows: 2steps_1/2steps_1, 2steps_2/2steps_1"):
        match_responses(testmini, read_responses(_write(tmp_path, recs[2:])))
    with pytest.raises(ResponsesError, match=r"1 duplicate responses: 2steps_1/2steps_1 \(line 1 and line 1741\)"):
        match_responses(testmini, read_responses(_write(tmp_path, recs + recs[:1])))
    with pytest.raises(ResponsesError, match=r"1 responses name no row .*: 2steps_999/2steps_1 \(line 1741\)"):
        match_responses(testmini, read_responses(_write(tmp_path, recs + [{"ID": "2steps_999", "key": "2steps_1", "response": ""}])))


@pytest.mark.parametrize("text, message", [
    ('{"ID": "2steps_1", "key": "2steps_1"}\n', "line 1 needs string fields ID, key and response"),
    ('{"ID": "2steps_1", "key": "2steps_1", "response": 3}\n', "line 1 needs string fields"),
    ('{"ID": \n', "line 1 is not JSON"),
    ('[{"ID": 1}', "not a JSON list"),
    ('[7]', "record 1 needs string fields"),
    ('\n\n', "no responses"),
])
def test_malformed_responses_are_one_line_errors(tmp_path, text, message):
    p = tmp_path / "bad.jsonl"
    p.write_text(text)
    with pytest.raises(ResponsesError, match=message):
        read_responses(p)


def test_bad_data_files_are_named(tmp_path, testmini):
    rows = [r for r in json.loads((REPO / "benchmarks/wemath/testmini_nodesc.json").read_text())
            if r["ID"] in ("2steps_1", "3steps_1")]
    p = tmp_path / "testmini.json"
    p.write_text(json.dumps(rows))
    assert len(load_testmini(str(p)).groups) == 2 and len(rows) == 7
    p.write_text(json.dumps([r for r in rows if r["key"] != "3steps_2"]))
    with pytest.raises(WeMathDataError, match=r"group 3steps_1 has rows \['3steps_1', '3steps_3', '3steps_multi'\]"):
        load_testmini(str(p))
    p.write_text(json.dumps([{**rows[0], "answer": "Z"}, *rows[1:]]))
    with pytest.raises(WeMathDataError, match=r"row 0: answer 'Z' is not one letter"):
        load_testmini(str(p))
    p.write_text(json.dumps([{**rows[0], "knowledge concept": "Astrology"}, *rows[1:]]))
    with pytest.raises(WeMathDataError, match="'Astrology' is not a leaf"):
        load_testmini(str(p))
    with pytest.raises(WeMathDataError, match="no such file"):
        load_testmini(str(tmp_path / "nope.json"))


def test_the_hugging_face_source_is_read_offline_with_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))  # an empty cache
    monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path / "hf" / "datasets"))
    with pytest.raises(WeMathDataError, match=r"We-Math/We-Math: cannot load the testmini split .*HF_HUB_OFFLINE=0"):
        load_testmini("hf")


# -- the command -----------------------------------------------------------------------------------

def _cli(*args):
    return subprocess.run([sys.executable, "-m", "proofzero.cli", "wemath", *map(str, args)],
                          capture_output=True, text=True, cwd=REPO, timeout=300)


def test_cli_scores_a_json_list_in_the_official_output_format(testmini, tmp_path):
    """The official scripts' output: the dataset's rows with a `response` field, as one JSON list."""
    rows = json.loads((REPO / "benchmarks/wemath/testmini_nodesc.json").read_text())
    p = tmp_path / "official.json"
    p.write_text(json.dumps([{**r, "response": "<Thought process>: hmm <Answer>: <<A>>"} for r in rows]))
    done = _cli("score", p, "--json", "--out", tmp_path / "report")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["strict"]["counts"] == {"IK": 365, "IG": 7, "CM": 55, "RM": 98}
    assert result["loose"]["counts"]["CM"] == 150 and result["S1"]["correct"] == 432
    assert json.loads((tmp_path / "report/score.json").read_text()) == result
    table = (tmp_path / "report/score.txt").read_text()
    assert "11.14%" in table and "29.24%" in table and "Understanding Length (Using a Ruler)" in table
    assert (tmp_path / "report/wemath.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_cli_table_and_errors(testmini, tmp_path):
    recs = _all(testmini)
    done = _cli("score", _write(tmp_path, recs))
    assert done.returncode == 0, done.stderr
    assert "strict    100.00%" in done.stdout and "Plane Figures" in done.stdout
    bad = _cli("score", _write(tmp_path, recs[:-1], "short.jsonl"))
    assert bad.returncode == 2 and bad.stdout == ""
    assert bad.stderr.strip().count("\n") == 0 and "no response for 1 of 1740 rows: 3steps_165/3steps_multi" in bad.stderr
    assert "Traceback" not in bad.stderr
