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


@pytest.fixture(scope="session")
def traced_dataset(tmp_path_factory) -> Path:
    """Real traced data: Coq's Bool and Arith libraries traced, then split (~1,100 state-tactic pairs)."""
    if requires_coq.args[0]:
        pytest.skip("Coq is not installed")
    coqlib = subprocess.run(["coqc", "-where"], capture_output=True, text=True, check=True).stdout.strip()
    root = tmp_path_factory.mktemp("traced")
    run_cli("trace", f"{coqlib}/theories/Bool", f"{coqlib}/theories/Arith", "--out", str(root / "trace"))
    run_cli("dataset", str(root / "trace"), "--out", str(root / "dataset"))
    return root / "dataset"
