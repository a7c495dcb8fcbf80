"""slurm/local/start.sh and stop.sh: idempotent, and stopping only what they started. A second cluster
(its own state directory and ports) comes up beside the session's, and goes again without touching it."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.slurm.conftest import START, STOP

pytestmark = pytest.mark.slurm


def test_start_twice_is_one_cluster_and_stop_ends_only_its_own(slurm, tmp_path):
    state = tmp_path / "second"
    env = {**os.environ, "PROOFZERO_SLURM_DIR": str(state), "PROOFZERO_SLURM_PORT": "26817"}
    run = lambda script: subprocess.run([str(script)], capture_output=True, text=True, env=env, timeout=300)  # noqa: E731
    try:
        first = run(START)
        assert first.returncode == 0, first.stderr
        assert first.stdout.strip() == f"export SLURM_CONF={state}/slurm.conf"
        conf = (state / "slurm.conf").read_text()
        assert "NodeAddr=127.0.0.1" in conf and "AuthInfo=cred_expire=10" in conf and "SlurmctldPort=26817" in conf
        pids = {d: (state / f"{d}.pid").read_text() for d in ("slurmctld", "slurmd")}
        again = run(START)
        assert again.returncode == 0 and "already running" in again.stderr
        assert {d: (state / f"{d}.pid").read_text() for d in pids} == pids, "no second set of daemons"
        sinfo = subprocess.run(["sinfo", "-h", "-o", "%t %c"], capture_output=True, text=True, timeout=30,
                               env={**env, "SLURM_CONF": str(state / "slurm.conf")})
        assert sinfo.stdout.split()[0] == "idle"
    finally:
        stopped = run(STOP)
    assert stopped.returncode == 0, stopped.stderr
    assert not any((state / f"{d}.pid").exists() for d in ("slurmctld", "slurmd", "munged"))
    for pid in pids.values():
        assert not Path(f"/proc/{pid}").exists(), f"daemon {pid} still running"
    assert slurm.run("sinfo", "-h", "-o", "%t").stdout.split()[0] in ("idle", "mix", "alloc")  # the session's: up
    assert run(STOP).returncode == 0  # stopping a stopped cluster is a no-op
