"""A real Slurm for the sbatch files: the one-node cluster of `slurm/local/start.sh`, started once per
test session (and stopped at its end, unless it was already running: then it is left as it was).

When these tests run: as root (CI runs `make test` as root on a fresh machine; `make test` installs the
Slurm packages first) or with PROOFZERO_SLURM=1 (start.sh then uses sudo). Anywhere else they skip,
saying so. Where they run, a cluster that does not come up fails them: they never skip silently there.
The node has the machine's CPUs, so jobs ask for one CPU per task and no GPUs.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import REPO

START, STOP = REPO / "slurm" / "local" / "start.sh", REPO / "slurm" / "local" / "stop.sh"
LOCAL = ["--gpus-per-node=0", "--cpus-per-task=1"]  # on top of each sbatch file's own (GPU) header
ENDED = {"COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "OUT_OF_MEMORY", "NODE_FAIL", "PREEMPTED", "BOOT_FAIL",
         "DEADLINE"}


def skip_reason() -> str | None:
    if os.environ.get("PROOFZERO_SLURM") == "1" or os.geteuid() == 0:
        return None
    return "the Slurm tests start a local cluster: run them as root or with PROOFZERO_SLURM=1 (sudo)"


@dataclass
class Slurm:
    """The commands a user types, against the local cluster."""

    conf: str

    @property
    def env(self) -> dict[str, str]:
        return {**os.environ, "SLURM_CONF": self.conf, "OMP_NUM_THREADS": "1"}

    def run(self, *args: str, timeout: float = 60, check: bool = True) -> subprocess.CompletedProcess:
        proc = subprocess.run(list(args), capture_output=True, text=True, cwd=REPO, env=self.env, timeout=timeout)
        if check and proc.returncode != 0:
            raise AssertionError(f"{' '.join(args)} exited {proc.returncode}: {proc.stderr.strip()[-2000:]}")
        return proc

    def sbatch(self, script: str, *args: str, options: list[str] = (), env: dict | None = None) -> str:
        """Submit `slurm/SCRIPT ARGS` with sbatch OPTIONS; the job id."""
        proc = subprocess.run(["sbatch", "--parsable", *LOCAL, *options, f"slurm/{script}", *args], capture_output=True,
                              text=True, cwd=REPO, env={**self.env, **(env or {})}, timeout=60)
        assert proc.returncode == 0, f"sbatch {script} failed: {proc.stderr.strip()}"
        return proc.stdout.strip().split(";")[0]

    def jobs(self, job: str) -> list[dict[str, str]]:
        """`scontrol show job` records of a job (one per array task), as key -> value."""
        proc = self.run("scontrol", "-o", "show", "job", job, check=False)
        return [dict(re.findall(r"(\w+)=(\S*)", line)) for line in proc.stdout.splitlines() if line.strip()]

    def state(self, job: str) -> str:
        records = self.jobs(job)
        return records[0]["JobState"] if records else "UNKNOWN"

    def wait(self, job: str, timeout: float = 300, until=None) -> list[dict[str, str]]:
        """Poll until every record of `job` has ended (or `until(records)` holds); the records."""
        deadline = time.monotonic() + timeout
        while True:
            records = self.jobs(job)
            if records and (until(records) if until else all(r["JobState"] in ENDED for r in records)):
                return records
            if time.monotonic() > deadline:
                self.run("scancel", job, check=False)
                raise AssertionError(f"job {job} still {[r.get('JobState') for r in records]} after {timeout:.0f} s")
            time.sleep(1.0)

    def cancel(self, job: str) -> None:
        self.run("scancel", job, check=False)


def job_log(path: Path, chars: int = 4000) -> str:
    return "\n".join(p.read_text(errors="replace")[-chars:] for p in sorted(path.parent.glob(path.name)))


@pytest.fixture(scope="session")
def slurm() -> Slurm:
    reason = skip_reason()
    if reason:
        pytest.skip(reason)
    if shutil.which("apt-get") is None and shutil.which("sinfo") is None:
        pytest.fail("no Slurm and no apt-get to install it: the local cluster needs Debian's packages")
    already = subprocess.run([str(START), "--status"], capture_output=True, timeout=60).returncode == 0
    proc = subprocess.run([str(START)], capture_output=True, text=True, timeout=600)
    if proc.returncode != 0:
        pytest.fail(f"the local Slurm cluster did not start:\n{proc.stderr[-3000:]}")
    match = re.search(r"export SLURM_CONF=(\S+)", proc.stdout)
    assert match, f"start.sh printed no SLURM_CONF: {proc.stdout!r}"
    yield Slurm(match[1])
    if not already:
        subprocess.run([str(STOP)], capture_output=True, timeout=120)
