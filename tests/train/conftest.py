import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO, requires_coq

pytest.importorskip("lightning")


def run_cli(*args: str, timeout: float = 600, check: bool = True) -> subprocess.CompletedProcess:
    """`proofzero ARGS` in a fresh interpreter, as a user runs it (DDP re-launches this command)."""
    proc = subprocess.run([sys.executable, "-m", "proofzero.cli", *args], check=False, cwd=REPO, capture_output=True,
                          text=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(f"proofzero {' '.join(args)} exited {proc.returncode}:\n{proc.stderr[-3000:]}")
    return proc


def metrics(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]


def train_losses(run_dir: Path) -> dict[int, float]:
    return {r["step"]: r["loss"] for r in metrics(run_dir) if r["kind"] == "train"}


# Small and fast: states cut to 128 bytes, no W&B, no progress bars, every step logged.
FAST = ["wandb.enabled=false", "progress=false", "log_every_n_steps=1", "model_overrides.max_state_length=128",
        "data.scheme=random"]


def families_library(k: int = 100) -> str:
    """A Coq file of 3k lemmas in three families whose tactics follow from the goal's shape (a bool
    identity, linear arithmetic, a conjunction swap), so that a tiny model learns to choose tactics
    from the state within a couple of hundred steps."""
    lines = ["From Coq Require Import Lia.", ""]
    for i in range(k):
        lines += [f"Lemma negb_twice_{i} : forall b : bool, negb (negb b) = b /\\ {i} = {i}.", "Proof.",
                  "  intros b.", "  split.", "  - destruct b; reflexivity.", "  - reflexivity.", "Qed.", ""]
        lines += [f"Lemma add_comm_{i} : forall n : nat, n + {i} = {i} + n.", "Proof.", "  intros n.", "  lia.",
                  "Qed.", ""]
        lines += [f"Lemma and_swap_{i} : forall P Q : Prop, P /\\ Q -> Q /\\ P \\/ {i} = {i + 1}.", "Proof.",
                  "  intros P Q H.", "  left.", "  destruct H as [HP HQ].", "  split.", "  - exact HQ.", "  - exact HP.",
                  "Qed.", ""]
    return "\n".join(lines)


@pytest.fixture(scope="session")
def traced_dataset(tmp_path_factory) -> Path:
    """Real traced data: `families_library()` traced by the real tracer on Coq, then split (random
    scheme: ~640 train, ~40 val state-tactic pairs)."""
    if requires_coq.args[0]:
        pytest.skip("Coq is not installed")
    root = tmp_path_factory.mktemp("traced")
    (root / "src").mkdir()
    (root / "src" / "Families.v").write_text(families_library())
    run_cli("trace", str(root / "src"), "--out", str(root / "trace"))
    run_cli("dataset", str(root / "trace"), "--out", str(root / "dataset"))
    return root / "dataset"


# The RL loop's tests: what the candidate tactics prove at a tiny budget, a false one, and a hard one.
EASY = {f"easy_{i}": f"forall n : nat, n + {i} = {i} + n" for i in range(8)}
EASY |= {f"le_{i}": f"forall a : nat, a <= a + {i}" for i in range(4)}
EASY |= {"false_1": "2 + 2 = 5", "hard_1": "forall x y : nat, x * y * y = y * x + 1"}


@pytest.fixture(scope="module")
def rl_setup(tmp_path_factory) -> dict:
    """A suite of easy and impossible statements and an untrained tiny model: the RL loop's tests."""
    from model.config import ProofNetConfig
    from model.export import save_pretrained
    from model.proofnet import ProofNet

    root = tmp_path_factory.mktemp("rl")
    suite = root / "suite"
    suite.mkdir()
    for name, stmt in EASY.items():
        (suite / f"{name}.v").write_text(f"Require Import Arith.\n\nTheorem {name}:\n  {stmt}.\nProof.\nAdmitted.\n")
    model = save_pretrained(ProofNet(ProofNetConfig.preset("tiny", max_state_length=128)), root / "init")
    return {"suite": suite, "init": model}
