"""Slurm's warning signal on a GPU under the `slurm-gpu` profile (DeepSpeed ZeRO-3, bf16): the requeue
checkpoint is a ZeRO directory, written under a temporary name and renamed, and the run resumes from it.

The GPU machine has no Slurm, so the job is one task whose Slurm variables this script sets (what
`srun` would set for `--ntasks-per-node=1`); `scontrol` is absent, so after the save the requeue fails
and training goes on — the script then kills the run (-9) as Slurm would end it, and starts the same
command again, as the requeued job would. It checks: `hpc_ckpt_N.ckpt` is a DeepSpeed directory, the
rerun resumed from it (no step of metrics.jsonl written twice, none missing), and the run finished.

    python3 bench/gpu_requeue.py --data runs/demo/dataset [--profile slurm-gpu] [--steps 40]

On a CPU (`--profile slurm-cpu`) the same path runs under DDP (gloo): the dry run before a GPU session.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def slurm_env(port: int) -> dict[str, str]:
    """The variables `srun` sets for one task of a one-node job (Lightning's SLURMEnvironment reads them)."""
    return {"SLURM_JOB_ID": "4242", "SLURM_JOB_NAME": "requeue-check", "SLURM_NTASKS": "1",
            "SLURM_NTASKS_PER_NODE": "1", "SLURM_JOB_NUM_NODES": "1", "SLURM_NNODES": "1", "SLURM_PROCID": "0",
            "SLURM_LOCALID": "0", "SLURM_NODEID": "0", "SLURM_NODELIST": "127.0.0.1", "MASTER_PORT": str(port)}


def metrics(run_dir: Path) -> list[dict]:
    path = run_dir / "metrics.jsonl"
    return [json.loads(x) for x in path.read_text().splitlines() if x.strip()] if path.exists() else []


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", required=True, help="an SFT dataset (proofzero dataset)")
    ap.add_argument("--profile", default="slurm-gpu")
    ap.add_argument("--steps", type=int, default=40)
    ap.add_argument("--signal-at", type=int, default=12, help="send the signal once this step is logged")
    ap.add_argument("--run-dir", type=Path, default=None)
    ap.add_argument("--timeout", type=float, default=400)
    a = ap.parse_args()
    run_dir = a.run_dir or Path(tempfile.mkdtemp(prefix="requeue-")) / "run"
    cmd = [sys.executable, "-m", "proofzero.cli", "train", "sft", "train/sft.yaml", "--profile", a.profile,
           f"data.path={a.data}", f"run_dir={run_dir}", f"max_steps={a.steps}", "model=tiny", "log_every_n_steps=1",
           "val_every_n_steps=1000", "checkpoint_every_n_steps=1000", "optim.warmup_steps=5", "wandb.enabled=false",
           "data.val_batches=2"]
    env = {**os.environ, **slurm_env(29731), "PYTHONPATH": str(REPO), "PYTHONUNBUFFERED": "1"}
    t0 = time.time()
    first = subprocess.Popen(cmd, cwd=REPO, env=env, start_new_session=True)
    while not any(r.get("kind") == "train" and r["step"] >= a.signal_at for r in metrics(run_dir)):
        if first.poll() is not None or time.time() - t0 > a.timeout:
            print(f"FAIL: the run ended or stalled before step {a.signal_at} (rc {first.poll()})")
            return 1
        time.sleep(0.5)
    os.kill(first.pid, signal.SIGUSR1)
    while not list(run_dir.glob("hpc_ckpt_*.ckpt")):
        if first.poll() is not None or time.time() - t0 > a.timeout:
            print(f"FAIL: no hpc_ckpt after the signal (rc {first.poll()})")
            return 1
        time.sleep(0.2)
    time.sleep(1.0)  # the rank renames, then logs that the requeue failed (no scontrol here)
    os.killpg(first.pid, signal.SIGKILL)
    first.wait()
    (ckpt,) = run_dir.glob("hpc_ckpt_*.ckpt")
    saved_at = int(ckpt.name.split("_")[-1].split(".")[0])
    layout = "directory (DeepSpeed)" if ckpt.is_dir() else "file"
    leftovers = sorted(p.name for p in run_dir.glob(".hpc_ckpt_*"))
    print(f"signal at step >= {a.signal_at}: saved {ckpt.name} ({layout}), temporary leftovers {leftovers}")
    second = subprocess.run(cmd, cwd=REPO, env=env, timeout=a.timeout)
    steps = [r["step"] for r in metrics(run_dir) if r.get("kind") == "train"]
    dup = sorted({s for s in steps if steps.count(s) > 1})
    missing = sorted(set(range(1, a.steps + 1)) - set(steps))
    ok = second.returncode == 0 and not dup and not missing and max(steps) == a.steps and not leftovers
    print(json.dumps({"profile": a.profile, "saved_step": saved_at, "layout": layout, "rerun_rc": second.returncode,
                      "final_step": max(steps), "duplicated_steps": dup, "missing_steps": missing,
                      "wall_s": round(time.time() - t0, 1), "result": "PASS" if ok else "FAIL"}))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
