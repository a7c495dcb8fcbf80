import os
import shutil
from pathlib import Path

import pytest

# As `proofzero.cli` does for every command, before any test imports torch: spinning OpenMP threads
# slow torch several-fold when another job shares the cores (and the tests run torch in-process too).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"
FIXTURES = REPO / "tests" / "fixtures"


def _coq_children() -> list[int]:
    """coqidetop/coqc processes whose parent is this test process."""
    me, found = os.getpid(), []
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            stat = (d / "stat").read_text()
        except OSError:
            continue
        name = stat[stat.index("(") + 1 : stat.rindex(")")]
        ppid = int(stat[stat.rindex(")") + 2 :].split()[1])
        if ppid == me and name.startswith(("coqidetop", "coqc", "coqtop")):
            found.append(int(d.name))
    return found


@pytest.fixture(scope="session", autouse=True)
def no_leaked_coq_processes():
    yield
    leaked = _coq_children()
    assert not leaked, f"Coq processes left behind after the tests: {leaked}"


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    if not SHARED.is_dir():
        pytest.skip("../shared is not beside the repository")
    return SHARED


requires_coq = pytest.mark.skipif(shutil.which("coqidetop.opt") is None, reason="Coq is not installed")
