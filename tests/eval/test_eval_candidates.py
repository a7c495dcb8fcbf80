"""`proofzero eval` with candidate tactics: the model-free candidate search, and a network that ranks
the candidates, on real Coq, through the batching server (threads) and Ray."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.conftest import REPO, requires_coq

pytestmark = requires_coq

THEOREMS = {
    # intros, then a decision procedure: what the candidates are for.
    "lt_gt": "Require Import Reals Lra.\nOpen Scope R_scope.\n\nTheorem lt_gt : forall x y : R, x < y -> y > x.\nProof.\n",
    "add_comm": "Theorem add_comm : forall a b : nat, a + b = b + a.\nProof.\n",
    "both": "Theorem both : forall n : nat, n + 0 = n /\\ True.\nProof.\n",
    "false_nat": "Theorem false_nat : forall n : nat, n = n + 1.\nProof.\n",
}
CANDIDATES = "policy.candidates=[intros,split,lia,lra,'exact I',reflexivity]"


@pytest.fixture(scope="module")
def suite(tmp_path_factory):
    d = tmp_path_factory.mktemp("suite")
    for name, text in THEOREMS.items():
        (d / f"{name}.v").write_text(text)
    return d


def _eval(suite, out, *args):
    p = subprocess.run([sys.executable, "-m", "proofzero.cli", "eval", "--no-progress", "--suite", str(suite),
                        "--out", str(out), *args, "trees=none", "records=false", "workers=2"],
                       capture_output=True, text=True, cwd=REPO, timeout=600)
    assert p.returncode == 0, p.stderr[-3000:]
    return p


def _rows(out, label):
    data = json.loads((out / label / "results.json").read_text())
    return data, {r["name"]: r for r in data["results"]}


def test_the_model_free_candidate_search_proves_what_intros_then_a_procedure_proves(suite, tmp_path):
    out = tmp_path / "out"
    p = _eval(suite, out, "--prover", "eval/andor", "policy.kind=candidates", CANDIDATES,
              "andor.k=1", "andor.max_expansions=8")
    data, rows = _rows(out, "andor")
    assert {n for n, r in rows.items() if r["status"] == "proved"} == {"lt_gt", "add_comm", "both"}
    assert rows["false_nat"]["status"] == "failed"
    assert "6 candidate tactics, uniform priors (no model)" in data["budget"]
    assert "candidate tactics" in p.stdout


@pytest.mark.slow
def test_a_network_ranks_the_candidates_through_the_batching_server_and_ray(suite, tmp_path):
    torch = pytest.importorskip("torch")
    from model.config import ProofNetConfig
    from model.export import save_pretrained
    from model.proofnet import ProofNet

    torch.manual_seed(0)  # untrained: the candidates, not the samples, are what can prove here
    export = save_pretrained(ProofNet(ProofNetConfig.preset("tiny", max_tactic_length=16)).eval(),
                             tmp_path / "model")
    for runner, extra in (("threads", []), ("ray", ["runner=ray", "ray.num_actors=2"])):
        out = tmp_path / runner
        _eval(suite, out, "--checkpoint", str(export), "--prover", "eval/andor", "--prover", "eval/htps",
              "--prover", "eval/bestfirst", CANDIDATES, "andor.k=2", "andor.max_expansions=8", "htps.k=2",
              "htps.max_expansions=8", "bestfirst.k=2", "bestfirst.max_expansions=8", *extra)
        for label in ("andor", "htps", "bestfirst"):
            data, rows = _rows(out, label)
            assert "+ 6 candidate tactics ranked by the network" in data["budget"]
            proved = {n for n, r in rows.items() if r["status"] == "proved"}
            assert {"lt_gt", "add_comm"} <= proved, (runner, label, rows)
            assert rows["false_nat"]["status"] == "failed"
