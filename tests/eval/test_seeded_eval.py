"""`proofzero eval` with a sampling network is reproducible: each attempt samples from its own generator,
seeded by (theorem, attempt, seed), so two runs of the same eval give the same rows, although two
theorems run at once and the batching server merges their states differently each time."""

import json
import subprocess
import sys

import pytest

from tests.conftest import REPO, requires_coq

pytestmark = requires_coq
torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

THEOREMS = {
    "add_zero": "Theorem add_zero : forall n : nat, n + 0 = n.\nProof.\n",
    "add_comm": "Theorem add_comm : forall a b : nat, a + b = b + a.\nProof.\n",
    "truth": "Theorem truth : True /\\ 2 + 2 = 4.\nProof.\n",
    "false_nat": "Theorem false_nat : forall n : nat, n = n + 1.\nProof.\n",
}
TIMING = ("seconds", "switch_ms")  # the only fields that may differ between two runs


TACTICS = ["intros", "lia", "split", "simpl", "auto", "reflexivity"]


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    """The tiny model taught to answer any state with one of a few Coq tactics, about equally often (so
    that what it samples, and so what the search does, depends on the noise), exported as
    `proofzero train` would."""
    from model.config import ProofNetConfig
    from model.export import save_pretrained
    from model.proofnet import ProofNet
    from tests.model.memorise import batch

    torch.manual_seed(0)
    model = ProofNet(ProofNetConfig.preset("tiny", max_tactic_length=24))
    pairs = [(f"{s}\n", t, -1.0) for s in ("n : nat\n|- n + 0 = n", "|- True /\\ 2 = 2", "a b : nat\n|- a = b")
             for t in TACTICS]
    ids, mask, labels, returns = batch(model.config, pairs)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    for _ in range(40):
        opt.zero_grad()
        model(ids, mask, labels, returns).loss.backward()
        opt.step()
    return save_pretrained(model.eval(), tmp_path_factory.mktemp("model") / "export")


def _eval(suite, out, checkpoint, *overrides):
    p = subprocess.run([sys.executable, "-m", "proofzero.cli", "eval", "--no-progress", "--suite", str(suite),
                        "--out", str(out), "--checkpoint", str(checkpoint), "--prover", "eval/andor",
                        "workers=2", "policy.method=sample", "policy.temperature=1.5", "policy.max_wait_ms=20",
                        "andor.k=4", "andor.max_expansions=6", "trees=none", "records=false", *overrides],
                       capture_output=True, text=True, cwd=REPO, timeout=600)
    assert p.returncode == 0, p.stderr[-3000:]
    rows = json.loads((out / "andor" / "results.json").read_text())["results"]
    return {r["name"]: untimed(r) for r in rows}


def untimed(row: dict) -> dict:
    return {k: untimed(v) if isinstance(v, dict) else v for k, v in row.items() if k not in TIMING}


def test_two_runs_of_a_sampling_eval_give_the_same_rows(tmp_path, checkpoint):
    suite = tmp_path / "suite"
    suite.mkdir()
    for name, text in THEOREMS.items():
        (suite / f"{name}.v").write_text(text)
    first = _eval(suite, tmp_path / "a", checkpoint)
    second = _eval(suite, tmp_path / "b", checkpoint)
    assert set(first) == set(THEOREMS)
    assert sum(r["tactics_used"] for r in first.values()) > 2 * len(THEOREMS)  # the network proposed tactics
    assert any(r["status"] == "proved" for r in first.values())
    assert first == second
