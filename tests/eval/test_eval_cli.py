"""`proofzero eval` end to end on real Coq with a scripted policy: provers side by side, pass@k, tree
views, search records and the comparison report. (The trained-checkpoint run is in tests/train/test_sft.py.)"""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO, requires_coq

pytestmark = requires_coq

FILES = {
    "add_zero": "Require Import Arith.\n\nTheorem add_zero : forall n : nat, n + 0 = n.\nProof.\n",
    # lia cannot do the second conjunct: the proof must split (an AND node), then close each side.
    "both_sides": "Require Import Arith.\n\nTheorem both_sides : forall n : nat, n + 0 = n /\\ (forall m : nat, m = m).\nProof.\n",
    "false_nat": "Require Import Arith.\n\nTheorem false_nat : forall n : nat, n = n + 1.\nProof.\n",
    "broken": "Require Import Arith.\n\nTheorem broken : undefined_function 3 = 3.\nProof.\n",
}
TACTICS = "[intros,split,lia,simpl,'exact I',reflexivity]"
SCRIPTED = ["policy.kind=scripted", f"policy.tactics={TACTICS}", "workers=1"]


def _suite(tmp_path: Path) -> Path:
    d = tmp_path / "suite"
    d.mkdir()
    for name, text in FILES.items():
        (d / f"{name}.v").write_text(text)
    return d


def _eval(*args, check=True):
    p = subprocess.run([sys.executable, "-m", "proofzero.cli", "eval", "--no-progress", *map(str, args)],
                       capture_output=True, text=True, cwd=REPO, timeout=900)
    if check:
        assert p.returncode == 0, p.stderr[-3000:]
    return p


@pytest.fixture(scope="module")
def compared(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("eval")
    out = tmp / "out"
    p = _eval("--suite", _suite(tmp), "--out", out, "--prover", "eval/andor", "--prover", "eval/bestfirst",
              "--prover", "eval/htps", "--prover", "eval/automation", *SCRIPTED,
              "andor.max_expansions=30", "bestfirst.max_expansions=30", "htps.max_expansions=30",
              "andor.k=6", "bestfirst.k=6", "htps.k=6", "automation.portfolio=[reflexivity,lia]")
    return out, p.stdout


def _rows(out: Path, prover: str) -> dict:
    data = json.loads((out / prover / "results.json").read_text())
    return data, {r["name"]: r for r in data["results"]}


def test_every_prover_gets_a_row_per_theorem_and_proofs_are_verified(compared):
    out, _ = compared
    for prover in ("andor", "bestfirst", "htps", "automation"):
        data, rows = _rows(out, prover)
        assert set(rows) == set(FILES), prover
        assert rows["broken"]["status"] == "invalid_statement"
        assert rows["false_nat"]["status"] == "failed"
        assert rows["add_zero"]["status"] == "proved" and rows["add_zero"]["message"] == "verified"
        assert data["budget"].startswith("pass@1, ")
        assert len(data["suite_sha256"]) == 64 and data["config"]["prover"] == prover
    for prover in ("andor", "bestfirst", "htps"):
        _, rows = _rows(out, prover)
        assert rows["both_sides"]["status"] == "proved", prover
        assert "split" in rows["both_sides"]["proof"]
        assert 0 < rows["add_zero"]["env"]["expansions"] <= 30
    assert _rows(out, "andor")[0]["budget"] == "pass@1, 30 expansions x 6 samples (andor)"


def test_the_comparison_table_json_and_plot(compared):
    out, stdout = compared
    comp = json.loads((out / "comparison.json").read_text())
    assert list(comp["provers"]) == ["andor", "bestfirst", "htps", "automation"]
    assert comp["provers"]["andor"]["proved"] == 2 and comp["provers"]["andor"]["invalid_statement"] == 1
    assert comp["theorems"]["false_nat"] == {p: "failed" for p in comp["provers"]}
    assert (out / "proved_vs_budget.png").stat().st_size > 10_000
    table = (out / "comparison.txt").read_text()
    assert "andor" in table and "30 expansions x 6 samples" in table and table.strip() in stdout


def test_tree_views_and_search_records_for_proved_theorems(compared):
    out, _ = compared
    for prover in ("andor", "htps"):
        pages = sorted((out / prover / "trees").glob("*.html"))
        assert {p.name.split(".")[0] for p in pages} == {"add_zero", "both_sides"}, prover
        assert "class='proof'" in pages[0].read_text()
    assert not (out / "bestfirst" / "trees").exists()  # best-first keeps no tree
    from data.records import to_state_tactics
    from data.shards import find_trace_files, origin_of, read_theorems

    (file,) = find_trace_files([out / "andor" / "records.jsonl"])
    records = {t.full_name: t for t in read_theorems(file)}
    assert set(records) == {"add_zero", "both_sides"}
    both = records["both_sides"]
    assert origin_of(both, file) == "search"
    # AlphaProof value targets (policy target = the proof's tactic): 0 at a closed goal, -1 + the child's
    # target at an OR node, the min over subgoals at an AND node.
    by_goal = {t.goal_ids[0]: t for t in both.traced_tactics}
    for t in both.traced_tactics:
        assert t.value_target == -1 + min((by_goal[c].value_target for c in t.children), default=0)
    split = next(t for t in both.traced_tactics if t.tactic == "split")
    assert len(split.children) == 2 and split.value_target <= -2
    closing = [t for t in both.traced_tactics if t.state_after == "no goals"]
    assert len(closing) == 2 and all(t.value_target == -1 for t in closing)
    assert all("====" in t.state_before for t in both.traced_tactics)
    pairs = to_state_tactics(both, "search")
    assert pairs[0].state.endswith("n + 0 = n /\\ (forall m : nat, m = m)") and pairs[0].value_target <= -2


def test_pass_at_k_runs_up_to_k_attempts_and_counts_their_budget(tmp_path):
    out = tmp_path / "out"
    _eval("--suite", _suite(tmp_path), "--out", out, "--prover", "eval/andor", "--attempts", "3", *SCRIPTED,
          "andor.max_expansions=2", "andor.k=2")
    data, rows = _rows(out, "andor")
    assert data["budget"] == "pass@3, 2 expansions x 2 samples (andor)"
    assert rows["false_nat"]["env"]["attempts"] == 3 and rows["false_nat"]["env"]["expansions"] <= 6
    assert rows["false_nat"]["status"] == "failed"
    for r in rows.values():
        if r["status"] == "proved":
            assert 1 <= r["env"]["attempts"] <= 3


def test_user_errors_are_one_line(tmp_path):
    suite = _suite(tmp_path)
    p = _eval("--suite", suite, "--out", tmp_path / "o", check=False)  # the network prover needs a model
    assert p.returncode == 2 and "needs a model" in p.stderr and "Traceback" not in p.stderr
    p = _eval("--suite", suite, "--out", tmp_path / "o", "--prover", "eval/andor", "prover=magic", check=False)
    assert p.returncode == 2 and "unknown prover" in p.stderr
    p = _eval("--suite", suite, "--prover", "eval/andor", "--checkpoint", tmp_path / "nothing", check=False)
    assert p.returncode == 2 and "nothing" in p.stderr and "Traceback" not in p.stderr
    p = _eval("--suite", suite, "--prover", "eval/andor", "--prover", "eval/andor", *SCRIPTED, check=False)
    assert p.returncode == 2 and "label" in p.stderr


def test_the_ray_runner_gives_the_same_rows(compared, tmp_path):
    """runner=ray: two prover actors (local Ray, capped memory) instead of threads; same rows as threads."""
    pytest.importorskip("ray")
    out = tmp_path / "out"
    _eval("--suite", _suite(tmp_path), "--out", out, "--prover", "eval/andor", *SCRIPTED, "runner=ray",
          "ray.num_actors=2", "ray.num_cpus=2", "andor.max_expansions=30", "andor.k=6")
    _, rows = _rows(out, "andor")
    _, threads = _rows(compared[0], "andor")
    assert {n: r["status"] for n, r in rows.items()} == {n: r["status"] for n, r in threads.items()}
    assert rows["both_sides"]["proof"] == threads["both_sides"]["proof"]  # seeded per theorem: same search
    assert sorted(p.name for p in (out / "andor" / "trees").glob("*.html")) == ["add_zero.0.html", "both_sides.0.html"]


def test_the_ray_runner_joins_a_running_cluster_and_says_when_there_is_none(tmp_path):
    """runner=ray ray.address=auto: a Ray head started apart (`ray start --head`, as on a cluster) runs the
    actors; with no cluster at the address the error is one line."""
    pytest.importorskip("ray")
    import os
    import shutil

    ray_cli = shutil.which("ray", path=str(Path(sys.executable).parent))
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0"}
    suite = _suite(tmp_path)
    p = _eval("--suite", suite, "--out", tmp_path / "none", "--prover", "eval/andor", *SCRIPTED, "runner=ray",
              "ray.address=127.0.0.1:1", check=False)
    assert p.returncode == 2 and "Ray:" in p.stderr and "Traceback" not in p.stderr
    subprocess.run([ray_cli, "start", "--head", "--port=6391", "--num-cpus=2", "--include-dashboard=false"],
                   check=True, capture_output=True, env=env, timeout=120)
    try:
        out = tmp_path / "out"
        _eval("--suite", suite, "--out", out, "--prover", "eval/andor", *SCRIPTED, "runner=ray", "ray.address=auto",
              "ray.num_actors=2", "andor.max_expansions=30", "andor.k=6")
        _, rows = _rows(out, "andor")
        assert {n: r["status"] for n, r in rows.items()} == {
            "add_zero": "proved", "both_sides": "proved", "false_nat": "failed", "broken": "invalid_statement"}
    finally:
        subprocess.run([ray_cli, "stop", "--force"], capture_output=True, env=env, timeout=120)
