"""Slurm's warning signal before a time limit or a pre-emption: remember it, then requeue the job.

`sbatch --signal=USR1@90` sends SIGUSR1 to every task of the job's steps 90 s (give or take Slurm's
polling) before the limit. Lightning's own handler (`SLURMEnvironment(auto_requeue=True)`) saves the
checkpoint inside the signal handler, wherever each rank happens to be: under DDP or DeepSpeed one rank
can then enter the checkpoint's collectives while another is still in the step's, and the ranks hang or
mix up their messages. Here the handler only raises a flag, installed as the process starts (a signal
during start-up is then not fatal); `train.callbacks.SlurmRequeue` acts on it at the next optimizer
step, on every rank at once. Standard library only: the CLI installs the handler before torch loads.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import threading

log = logging.getLogger(__name__)

REQUEUE_SIGNAL = signal.SIGUSR1
_signalled = threading.Event()


def in_slurm_job() -> bool:
    """A task of a Slurm job, as Lightning's SLURMEnvironment sees it (jobs named bash/interactive are
    interactive shells, for which Lightning does not use Slurm's ranks)."""
    return "SLURM_NTASKS" in os.environ and os.environ.get("SLURM_JOB_NAME") not in ("bash", "interactive")


def catch_requeue_signal() -> bool:
    """Route SIGUSR1 to the flag, in a Slurm job's task and from the main thread; whether it is routed."""
    if not in_slurm_job() or threading.current_thread() is not threading.main_thread():
        return False
    if signal.getsignal(REQUEUE_SIGNAL) is not _on_signal:
        signal.signal(REQUEUE_SIGNAL, _on_signal)
    return True


def _on_signal(signum, frame) -> None:
    _signalled.set()


def signalled() -> bool:
    return _signalled.is_set()


def clear() -> None:
    _signalled.clear()


def job_id() -> str | None:
    """The id `scontrol requeue` takes: ARRAYJOB_TASK for an array task, else the job id."""
    array, task = os.environ.get("SLURM_ARRAY_JOB_ID"), os.environ.get("SLURM_ARRAY_TASK_ID")
    if array and task:
        return f"{array}_{task}"
    return os.environ.get("SLURM_JOB_ID")


def requeue() -> bool:
    """Ask Slurm to requeue this job (it ends this run and starts the same batch script again)."""
    job = job_id()
    if not job or not job.replace("_", "").isdigit():
        log.warning("no Slurm job id to requeue")
        return False
    try:
        proc = subprocess.run(["scontrol", "requeue", job], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as e:
        log.warning("scontrol requeue %s failed: %s", job, e)
        return False
    if proc.returncode != 0:
        log.warning("scontrol requeue %s failed: %s", job, (proc.stderr or proc.stdout).strip()[:300])
        return False
    log.info("requeued Slurm job %s", job)
    return True
