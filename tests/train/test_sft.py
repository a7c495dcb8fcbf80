"""SFT of the tiny model on real traced data (see `families_library`), through `proofzero train`."""

import json

import pytest
import yaml

from tests.train.conftest import FAST, metrics, run_cli

pytestmark = pytest.mark.slow

ARGS = ["max_steps=200", "data.batch_size=16", "data.val_batches=3", "val_every_n_steps=100",
        "checkpoint_every_n_steps=100", "optim.lr=2e-3", "optim.warmup_steps=20"]


@pytest.fixture(scope="module")
def sft_run(traced_dataset, tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("sft") / "run"
    run_cli("train", "sft", f"data.path={traced_dataset}", f"run_dir={run_dir}", *FAST,
            *ARGS)
    return run_dir


def test_sft_loss_falls_and_validation_improves(sft_run):
    rows = metrics(sft_run)
    train = [r for r in rows if r["kind"] == "train"]
    val = [r for r in rows if r["kind"] == "val"]
    assert [r["step"] for r in train] == list(range(1, 201))
    first, last = sum(r["loss"] for r in train[:10]) / 10, sum(r["loss"] for r in train[-10:]) / 10
    assert last < 0.5 * first, (first, last)
    assert all(r["value_loss"] > 0 for r in train)  # traced states carry value targets: the value head trains
    assert [r["step"] for r in val] == [0, 100, 200]
    assert val[-1]["loss"] < 0.5 * val[0]["loss"]
    assert val[-1]["token_acc"] > val[0]["token_acc"] + 0.2
    assert val[0]["tactic_acc"] == 0.0  # an untrained model writes no tactic exactly
    assert val[-1]["tactic_acc"] > 0.2  # greedy decoding now writes the right tactic for a fifth or more


def test_a_run_leaves_its_config_checkpoints_summary_and_plot(sft_run):
    cfg = yaml.safe_load((sft_run / "config.yaml").read_text())
    assert cfg["stage"] == "sft" and cfg["max_steps"] == 200
    names = sorted(p.name for p in (sft_run / "checkpoints").iterdir())
    assert names == ["last.ckpt", "step00000100.ckpt", "step00000200.ckpt"]
    summary = json.loads((sft_run / "summary.json").read_text())
    assert summary["steps"] == 200 and summary["data"]["train_pairs"] > 500
    assert summary["tokens_per_s"] > 0
    assert (sft_run / "loss.png").read_bytes()[:4] == b"\x89PNG"
    assert list((sft_run / "csv").glob("version_*/metrics.csv"))


def test_rerunning_a_finished_run_resumes_and_changes_nothing(sft_run):
    before = (sft_run / "metrics.jsonl").read_text()
    data = json.loads((sft_run / "summary.json").read_text())["data"]["path"]
    proc = run_cli("train", "sft", f"data.path={data}", f"run_dir={sft_run}", *FAST, *ARGS)
    assert "resuming from" in proc.stderr
    assert (sft_run / "metrics.jsonl").read_text() == before


def test_the_trained_checkpoint_runs_end_to_end_through_eval(sft_run, tmp_path):
    """`proofzero eval` with the run directory as the model: AND-OR and best-first side by side on unseen
    members of the trained families, beam decoding so the run is deterministic."""
    suite = tmp_path / "suite"
    suite.mkdir()
    for i in (1000, 1001):
        (suite / f"add_comm_{i}.v").write_text(
            f"From Coq Require Import Lia.\n\nTheorem add_comm_{i} : forall n : nat, n + {i} = {i} + n.\nProof.\n")
    (suite / "negb_twice_1000.v").write_text("Theorem negb_twice_1000 : forall b : bool, negb (negb b) = b "
                                             "/\\ 1000 = 1000.\nProof.\n")
    out = tmp_path / "eval"
    proc = run_cli("eval", "--no-progress", "--suite", str(suite), "--checkpoint", str(sft_run), "--out", str(out),
                   "--prover", "eval/andor", "--prover", "eval/bestfirst", "workers=1", "policy.method=beam",
                   "andor.k=4", "andor.max_expansions=12", "bestfirst.k=4", "bestfirst.max_expansions=12",
                   "policy.max_batch=8")
    comp = json.loads((out / "comparison.json").read_text())
    assert set(comp["theorems"]) == {"add_comm_1000", "add_comm_1001", "negb_twice_1000"}
    for prover in ("andor", "bestfirst"):
        rows = json.loads((out / prover / "results.json").read_text())["results"]
        assert {r["status"] for r in rows} <= {"proved", "failed"}, rows
        assert all(0 < r["env"]["expansions"] <= 12 for r in rows)
        for r in rows:
            if r["status"] == "proved":
                assert r["message"] == "verified" and r["proof"]
    # The model learnt `intros n. lia.` for this family: the search turns that into checked proofs.
    assert comp["provers"]["andor"]["proved"] >= 1, proc.stdout
    assert (out / "proved_vs_budget.png").exists()
