"""`proofzero geometry eval|solve|synth` end to end on the real engine (newclid + yuclid), small problems."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("newclid")
pytest.importorskip("py_yuclid")

from tests.conftest import REPO

SETS = REPO / "benchmarks" / "alphageometry"
L053 = "examples/complete2/014/complete_008_7_Book_LLL_L053-1.gex"  # saturates alone; one intersection solves it


def _cli(*args, check=True):
    p = subprocess.run([sys.executable, "-m", "proofzero.cli", "geometry", *map(str, args)],
                       capture_output=True, text=True, cwd=REPO, timeout=600)
    if check:
        assert p.returncode == 0, p.stderr[-3000:]
    return p


def _problem_lines(name: str) -> str:
    lines = (SETS / "jgex_ag_231.txt").read_text().splitlines()
    i = lines.index(name)
    return f"{lines[i]}\n{lines[i + 1]}\n"


@pytest.fixture
def problems(tmp_path) -> Path:
    f = tmp_path / "problems.txt"
    f.write_text("orthocenter\na b c = triangle; h = on_tline b a c, on_tline c a b ? perp a h b c\n"
                 + _problem_lines(L053)
                 + "unreadable\na b = frobnicate a b ? perp a b a b\n"
                 + "undrawable\na b = segment a b; c = midpoint c a b; d = on_line d a b, on_line d a c ? coll a b d\n")
    return f


def test_solve_prints_the_proof_and_writes_the_figure(tmp_path):
    fig = tmp_path / "o.png"
    p = _cli("solve", SETS / "examples.txt", "--problem", "orthocenter_aux", "--figure", fig)
    assert "orthocenter_aux: solved" in p.stdout
    assert "=(r43 Orthocenter theorem)=> AD ⟂ BC  ✓" in p.stdout
    assert "1/1 steps hold numerically on a fresh drawing" in p.stdout
    assert fig.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_eval_none_rows_summary_and_resume(problems, tmp_path):
    run = tmp_path / "run"
    p = _cli("eval", problems, f"run_dir={run}", "--no-progress")
    rows = {r["name"]: r for r in map(json.loads, (run / "rows.jsonl").read_text().splitlines())}
    assert {n: r["status"] for n, r in rows.items()} == {
        "orthocenter": "solved", L053: "saturated", "unreadable": "build_error", "undrawable": "build_error"}
    assert "unknown construction 'frobnicate'" in rows["unreadable"]["error"]
    assert rows["orthocenter"]["rechecked"] == "1/1" and Path(rows["orthocenter"]["figure"]).is_file()
    assert all(r["budget"] == "1 DD+AR run" for r in rows.values())
    summary = json.loads((run / "summary.json").read_text())
    assert summary["solved"] == 1 and summary["build_error"] == 2 and summary["problems"] == 4
    assert "solved 1/4" in p.stdout
    # a rerun solves nothing again; another config in the same run_dir is refused
    _cli("eval", problems, f"run_dir={run}", "--no-progress")
    assert len((run / "rows.jsonl").read_text().splitlines()) == 4
    bad = _cli("eval", problems, f"run_dir={run}", "seed=3", "--no-progress", check=False)
    assert bad.returncode == 2 and "another config" in bad.stderr


def test_eval_heuristic_solves_with_an_auxiliary_point(problems, tmp_path):
    run = tmp_path / "h"
    _cli("eval", problems, "--aux", "heuristic", f"run_dir={run}", "problems=[complete_008_7_Book_LLL_L053-1.gex]",
         "beam.max_engine_runs=20", "--no-progress")
    (row,) = map(json.loads, (run / "rows.jsonl").read_text().splitlines())
    assert row["status"] == "solved" and len(row["aux"]) == 1
    assert 1 < row["engine_runs"] <= 21 and "<= 20 DD+AR runs" in row["budget"]
    proof = json.loads((run / "proofs.jsonl").read_text().splitlines()[0])
    assert any(s["aux"] for s in proof["steps"])


@pytest.mark.parametrize("args, message", [
    (["eval", "missing.txt"], "cannot read"),
    (["eval", SETS / "examples.txt", "--aux", "model"], "needs --checkpoint"),
    (["solve", SETS / "examples.txt", "--problem", "nope"], "no problem"),
    (["eval", SETS / "examples.txt", "beam.depth=0"], "bad config"),
    (["synth", "--out", "{file}/out"], "--out"),
    (["eval", "{binary}"], "not a UTF-8 text file"),
])
def test_user_errors_are_one_line(args, message, tmp_path):
    (tmp_path / "file").write_text("")
    (tmp_path / "binary").write_bytes(b"\xff\xfe\x00 not text")
    args = [str(a).replace("{file}", str(tmp_path / "file")).replace("{binary}", str(tmp_path / "binary")) for a in args]
    p = _cli(*args, check=False)
    assert p.returncode == 2
    assert message in p.stderr and len(p.stderr.strip().splitlines()) == 1


@pytest.mark.slow
def test_synth_train_export_and_model_eval(tmp_path):
    """The whole loop on a laptop scale: synthetic pairs -> the proposer (a few SFT steps) -> HF export ->
    beam search over its proposals. A few steps teach it little: the test checks the plumbing, not a gain."""
    synth = tmp_path / "synth"
    p = _cli("synth", "--out", synth, "--n", 16, "chunk=8", "--no-progress")
    assert "training pairs" in p.stdout
    summary = json.loads((synth / "summary.json").read_text())
    assert summary["pairs"] >= 1, summary
    run, export = tmp_path / "proposer", tmp_path / "export"
    subprocess.run([sys.executable, "-m", "proofzero.cli", "train", "sft", "geometry/proposer_tiny.yaml",
                    f"data.path={synth}/dataset", f"run_dir={run}", "max_steps=4", "data.batch_size=1",
                    "val_every_n_steps=4", "checkpoint_every_n_steps=4", "progress=false"],
                   cwd=REPO, check=True, capture_output=True, timeout=600)
    subprocess.run([sys.executable, "-m", "proofzero.cli", "export", run, export], cwd=REPO, check=True,
                   capture_output=True, timeout=600)
    out = tmp_path / "m"
    f = tmp_path / "one.txt"
    f.write_text(_problem_lines(L053))
    _cli("eval", f, "--aux", "model", "--checkpoint", export, f"run_dir={out}", "beam.max_engine_runs=4",
         "beam.proposals=4", "beam.beam_size=2", "--no-progress")
    (row,) = map(json.loads, (out / "rows.jsonl").read_text().splitlines())
    assert row["status"] in ("solved", "saturated", "budget")
    assert row["proposer_calls"] >= 1  # the model was asked (a 4-step model may suggest nothing drawable)
    assert row["engine_runs"] >= 1 and "<= 4 DD+AR runs" in row["budget"]
