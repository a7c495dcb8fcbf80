"""`proofzero ttrl` end to end on real Coq: variants -> filters -> RL rounds on target + variants ->
target attempts, the report, resuming after kill -9, and a target proof that the checker re-checks."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import REPO, requires_coq
from tests.train.conftest import run_cli

pytestmark = [pytest.mark.slow, requires_coq]

CANDIDATES = '["intros", "lia", "reflexivity", "split"]'
TARGETS = {
    "nsq": "forall n : nat, 2 <= n -> n * n >= 2 * n",  # needs nia: the candidates never prove it
    "lin": "forall a b : nat, a = 3 -> b = a + 2 -> b * 2 = 10 /\\ a + b = 8",  # lia proves it at once
    "zero": "forall n : nat, n + 0 = n",
}


@pytest.fixture(scope="module")
def setup(tmp_path_factory) -> dict:
    from model.config import ProofNetConfig
    from model.export import save_pretrained
    from model.proofnet import ProofNet

    root = tmp_path_factory.mktemp("ttrl")
    suite = root / "suite"
    suite.mkdir()
    for name, stmt in TARGETS.items():
        (suite / f"{name}.v").write_text(f"Require Import Arith.\nRequire Import Lia.\n\nTheorem {name}:\n  {stmt}.\nProof.\nAdmitted.\n")
    model = save_pretrained(ProofNet(ProofNetConfig.preset("tiny", max_state_length=128)), root / "init")
    return {"suite": suite, "init": model}


def args(setup, run_dir: Path, *more: str, theorem: str = "nsq") -> list[str]:
    # filters.trivial=false: the specialisations lia closes stay in the pool, so games prove some and
    # the specialist has something to learn within two short rounds.
    # --theorem right before the overrides: its nargs="+" must not swallow them
    return ["ttrl", "--suite", str(setup["suite"]), "--checkpoint", str(setup["init"]), "--theorem", theorem,
            f"run_dir={run_dir}", "sft_data=\"\"", "sft_fraction=0", "rounds=2", "attempts_per_round=6",
            "steps_per_round=3", "publish_every=3", "target.budget=2", "budget.start=2", "budget.cap=4",
            "filters.trivial=false", "filters.disprove_budget=2", "variants.per_strategy=3",
            f"actors.policy.candidates={CANDIDATES}", "actors.andor.k=2", "learner.wandb.enabled=false",
            "learner.data.batch_size=4", "learner.data.val_batches=0", "--no-progress", *more]


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text().splitlines() if x.strip()] if path.exists() else []


def check_run(run_dir: Path, target: str = "nsq", rounds: int = 2) -> dict:
    d = run_dir / target
    summary = json.loads((d / "ttrl" / "summary.json").read_text())
    gens = [json.loads((d / "ttrl" / f"gen_{r:04d}.json").read_text()) for r in range(rounds)]
    kept: set[str] = set()
    for r, gen in enumerate(gens):
        assert gen["round"] == r and sum(gen["counts"].values()) == gen["generated"] == len(gen["variants"])
        parents = {target} | kept
        for v in gen["variants"]:  # provenance: every variant names its parent, strategy and round
            assert v["round"] == r and v["parent"] in parents and v["name"].startswith(f"{target}__{v['strategy']}_")
        assert gen["seed"] in parents
        kept |= {v["name"] for v in gen["variants"] if v["reason"] == "kept"}
    games = {g["id"]: g for g in read_jsonl(d / "games.jsonl")}
    assert len(games) == rounds * 6, "every planned game counted exactly once"
    for r in range(1, rounds):  # the seed: a kept variant not decided before the round, when there is one
        decided = {g["problem"] for g in games.values() if g["round"] < r and g["status"] in ("proved", "disproved")}
        open_ = {v["name"] for g in gens[:r] for v in g["variants"] if v["reason"] == "kept"} - decided - {g["seed"] for g in gens[:r]}
        assert gens[r]["seed"] in open_ if open_ else gens[r]["seed"] == target
    assert {g["problem"] for g in games.values()} <= kept | {target}, "games only on the target and kept variants"
    attempts = [json.loads((d / "rounds" / f"heldout_{r:04d}.json").read_text()) for r in range(rounds + 1)]
    assert [a["round"] for a in attempts] == list(range(rounds + 1)), "the target attempted before and after every round"
    filters = sum(g["tactics"] for g in gens)
    assert summary["tactics"] == sum(g["tactics"] for g in games.values()) + filters + sum(a["tactics"] for a in attempts)
    assert filters > 0 and summary["rounds"] == rounds and summary["variants_kept"] == len(kept)
    replay = read_jsonl(d / "replay.jsonl")
    decided = {i for i, g in games.items() if g["status"] in ("proved", "disproved")}
    disproof_data = {f"filter-{v['name']}" for g in gens for v in g["variants"] if v["reason"] == "disproved_by_search"}
    assert {r["game"] for r in replay} <= decided | disproof_data, "only verified proofs and disproofs reach replay"
    tree = (d / "ttrl" / "tree.txt").read_text()
    assert tree.startswith(f"{target}  [target]") and (d / "ttrl" / "ttrl.png").stat().st_size > 0
    return summary


def test_specialist_rounds_generate_filter_play_learn_and_report(setup, tmp_path):
    proc = run_cli(*args(setup, tmp_path / "run"), timeout=900)
    summary = check_run(tmp_path / "run")
    assert summary["result"] == "not proved" and summary["stop"] == "rounds spent"
    assert summary["variants_decided"] >= 1, "lia proves the specialisations that the filters kept"
    assert summary["learner_steps"] == 6 and summary["specialist"], "the specialist learned from them and was published"
    assert "variant tree:" in proc.stdout and "nsq  [target]  open" in proc.stdout
    assert summary["found"] is None and not (tmp_path / "run" / "nsq" / "ttrl" / "proof.v").exists()


def test_a_target_the_network_proves_stops_with_a_proof_the_checker_accepts(setup, tmp_path):
    """Two targets, one specialist each; both proved by the first target attempt, so no round runs."""
    from formal.coq.checker import verify_proof
    from formal.theorem import Theorem

    a = args(setup, tmp_path / "run", theorem="lin")
    a.insert(a.index("lin") + 1, "zero")
    proc = run_cli(*a, timeout=600)
    assert "TTRL: 2/2 targets proved (lin, zero)" in proc.stdout
    assert json.loads((tmp_path / "run" / "zero" / "ttrl" / "summary.json").read_text())["result"] == "proved"
    summary = json.loads((tmp_path / "run" / "lin" / "ttrl" / "summary.json").read_text())
    assert (summary["result"], summary["rounds"], summary["found"]["how"]) == ("proved", 0, "target attempt")
    text = (tmp_path / "run" / "lin" / "ttrl" / "proof.v").read_text()
    assert "Theorem lin" in text and text.rstrip().endswith("Qed.")
    target = Theorem("lin", TARGETS["lin"], header="Require Import Arith.\nRequire Import Lia.")
    assert verify_proof(target, summary["found"]["proof"]).verified  # re-checked from scratch, here


def test_kill_9_mid_run_resumes_without_losing_or_double_counting(setup, tmp_path):
    run_dir = tmp_path / "run"
    cmd = [sys.executable, "-m", "proofzero.cli", *args(setup, run_dir)]
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    games = run_dir / "nsq" / "games.jsonl"
    deadline = time.time() + 600
    while len(read_jsonl(games)) < 8:  # round 2's games under way: its variants were made and filtered
        assert proc.poll() is None and time.time() < deadline, "the run ended before the kill point"
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    gen0 = (run_dir / "nsq" / "ttrl" / "gen_0000.json").read_text()
    run_cli(*args(setup, run_dir), timeout=900)
    check_run(run_dir)
    assert (run_dir / "nsq" / "ttrl" / "gen_0000.json").read_text() == gen0, "a finished round's variants are not remade"


def test_unknown_target_and_no_target_are_clear_errors(setup, tmp_path):
    proc = run_cli(*args(setup, tmp_path / "run", theorem="nope"), check=False, timeout=300)
    assert proc.returncode != 0 and "no theorem nope" in proc.stderr and "Traceback" not in proc.stderr
    bare = [a for a in args(setup, tmp_path / "run") if a not in ("--theorem", "nsq")]
    proc = run_cli(*bare, check=False, timeout=300)
    assert proc.returncode != 0 and "--theorem" in proc.stderr and "Traceback" not in proc.stderr


def test_checkpoint_may_name_an_rl_run(setup, tmp_path):
    """--checkpoint RUN_DIR: its newest published checkpoint, or before any publish the model it started from."""
    from proofzero.ttrl import _rl_run_checkpoint

    run = tmp_path / "rl"
    run.mkdir()
    (run / "games.jsonl").write_text("")
    (run / "config.json").write_text(json.dumps({"init_from": str(setup["init"])}))
    assert _rl_run_checkpoint(run) == Path(setup["init"])
    step = run / "published" / "step_3"
    step.mkdir(parents=True)
    (run / "published" / "LATEST").write_text(json.dumps({"step": 3, "path": "step_3"}))
    assert _rl_run_checkpoint(run).name == "step_3"
