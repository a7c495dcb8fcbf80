#!/bin/bash
# Stop the local cluster of slurm/local/start.sh: cancel its jobs first (a stopped slurmd leaves job
# steps running), then stop slurmd, slurmctld, and munged if start.sh started it (pid files in
# PROOFZERO_SLURM_DIR). Nothing else is touched; stopping a cluster that is not running is a no-op.
set -euo pipefail

STATE=${PROOFZERO_SLURM_DIR:-/tmp/proofzero-slurm}
export SLURM_CONF=$STATE/slurm.conf

if [ "$(id -u)" != 0 ]; then
    exec sudo --preserve-env=PROOFZERO_SLURM_DIR "$0" "$@"
fi

say() { echo "slurm/local: $*" >&2; }
alive() {  # alive DIR/NAME.pid: that pid runs NAME (a stale file's pid may have been reused)
    local pid
    pid=$(cat "$1" 2>/dev/null) || return 1
    [ -n "$pid" ] && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$(basename "$1" .pid)" ]
}

stop() {  # stop NAME: TERM the pid in NAME.pid, wait for it, KILL if it lingers
    local pidfile=$STATE/$1.pid
    if alive "$pidfile"; then
        local pid
        pid=$(cat "$pidfile")
        kill "$pid" 2>/dev/null || true
        for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -0 "$pid" 2>/dev/null && kill -9 "$pid" 2>/dev/null || true
        say "stopped $1 ($pid)"
    fi
    rm -f "$pidfile"
}

if alive "$STATE/slurmctld.pid" && [ -f "$SLURM_CONF" ]; then
    if [ -n "$(squeue -h -o %i 2>/dev/null)" ]; then
        scancel --partition=local 2>/dev/null || true
        for _ in $(seq 60); do [ -z "$(squeue -h -t R,CG,S -o %i 2>/dev/null)" ] && break; sleep 0.5; done
        left=$(squeue -h -t R,CG,S -o %i 2>/dev/null || true)
        [ -n "$left" ] && say "jobs still ending after 30 s: $left"
    fi
fi
stop slurmd
stop slurmctld
stop munged
