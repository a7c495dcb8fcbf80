#!/bin/bash
# A one-node Slurm cluster on this machine, to try the sbatch files and to test them (tests/slurm/).
#
#   eval "$(slurm/local/start.sh)"     # prints `export SLURM_CONF=...`; progress goes to stderr
#   sbatch ...; squeue; sinfo
#   slurm/local/stop.sh                # cancels the jobs, stops what start.sh started
#
# Idempotent: installs Debian's slurmctld, slurmd, slurm-client and munge if missing
# (--no-install-recommends), writes a single-node slurm.conf from what `slurmd -C` detects, starts
# munged (unless one already answers), slurmctld and slurmd by hand (no systemd needed), and waits
# until the node is idle. A cluster already running from this state directory is reused as it is.
#   start.sh --install   only install the packages      start.sh --status   exit 0 iff the cluster answers
#
# Needs root (or sudo). Everything lives in PROOFZERO_SLURM_DIR (default /tmp/proofzero-slurm):
# slurm.conf, pid files, logs, spool. Its own ports (PROOFZERO_SLURM_PORT, default 16817, and the next
# one) keep it apart from a site Slurm on the default 6817/6818.
set -euo pipefail

STATE=${PROOFZERO_SLURM_DIR:-/tmp/proofzero-slurm}
PORT=${PROOFZERO_SLURM_PORT:-16817}
CONF=$STATE/slurm.conf
PACKAGES="slurmctld slurmd slurm-client munge"
SUDO=""
[ "$(id -u)" = 0 ] || SUDO=sudo

say() { echo "slurm/local: $*" >&2; }
alive() {  # alive DIR/NAME.pid: that pid runs NAME (a stale file's pid may have been reused)
    local pid
    pid=$(cat "$1" 2>/dev/null) || return 1
    [ -n "$pid" ] && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$(basename "$1" .pid)" ]
}
answers() { SLURM_CONF=$CONF timeout 10 sinfo -h -o %t >/dev/null 2>&1; }

install_packages() {
    local missing=""
    for p in $PACKAGES; do dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"; done
    [ -z "$missing" ] && return 0
    say "installing$missing"
    # The packages' post-install scripts try to start the services; where policy-rc.d forbids it (or
    # there is no systemd) that fails harmlessly: the daemons are started below, by hand.
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null 2>&1 ||
        { $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq &&
          $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null; }
}

case "${1:-}" in
    --install) install_packages; exit 0 ;;
    --status) command -v sinfo >/dev/null && alive "$STATE/slurmctld.pid" && alive "$STATE/slurmd.pid" && answers; exit ;;
    "") ;;
    *) echo "usage: $0 [--install|--status]" >&2; exit 2 ;;
esac

if [ -n "$SUDO" ]; then  # the daemons run as root: the whole script does
    exec sudo --preserve-env=PROOFZERO_SLURM_DIR,PROOFZERO_SLURM_PORT "$0" "$@"
fi

if alive "$STATE/slurmctld.pid" && alive "$STATE/slurmd.pid" && answers; then
    say "already running ($CONF)"
    echo "export SLURM_CONF=$CONF"
    exit 0
fi

install_packages
mkdir -p "$STATE/ctld" "$STATE/spool"

# munge: Slurm's authentication. Reuse a munged that answers; else start one as the munge user.
if ! (munge -n | unmunge) >/dev/null 2>&1; then
    [ -s /etc/munge/munge.key ] || runuser -u munge -- mungekey --create
    install -d -o munge -g munge -m 0755 /run/munge
    runuser -u munge -- munged
    cp /run/munge/munged.pid "$STATE/munged.pid"  # stop.sh stops only a munged it finds here
    for _ in $(seq 50); do (munge -n | unmunge) >/dev/null 2>&1 && break; sleep 0.1; done
    (munge -n | unmunge) >/dev/null 2>&1 || { say "munged did not start"; exit 1; }
fi

# The node as slurmd sees it: more CPUs, sockets or memory than it detects would drain the node.
NODE=$(hostname -s)
HW=$(slurmd -C | head -1 | sed -E 's/^NodeName=[^ ]+ //')
cat >"$CONF.tmp" <<EOF
# Written by slurm/local/start.sh: a one-node cluster for trying and testing the sbatch files.
ClusterName=proofzero-local
# Addresses, not names: nothing depends on DNS or /etc/hosts.
SlurmctldHost=$NODE(127.0.0.1)
SlurmctldPort=$PORT
SlurmdPort=$((PORT + 1))
SlurmUser=root
AuthType=auth/munge
# A requeued job waits cred_expire + 1 s before it may start again (default 120 s); the scheduler's
# intervals bound how soon it is then picked. Both are read only when the daemons start.
AuthInfo=cred_expire=10
SchedulerType=sched/backfill
SchedulerParameters=sched_interval=10,bf_interval=5
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
# No cgroup set-up needed.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
ReturnToService=2
KillWait=10
MinJobAge=600
StateSaveLocation=$STATE/ctld
SlurmdSpoolDir=$STATE/spool
SlurmctldPidFile=$STATE/slurmctld.pid
SlurmdPidFile=$STATE/slurmd.pid
SlurmctldLogFile=$STATE/slurmctld.log
SlurmdLogFile=$STATE/slurmd.log
NodeName=$NODE NodeAddr=127.0.0.1 $HW State=UNKNOWN
PartitionName=local Nodes=$NODE Default=YES MaxTime=INFINITE State=UP
EOF
mv "$CONF.tmp" "$CONF"
export SLURM_CONF=$CONF

# Stale daemons of an earlier start (one died, or the config changed): stop them first.
for d in slurmd slurmctld; do
    if alive "$STATE/$d.pid"; then kill "$(cat "$STATE/$d.pid")"; fi
done
for _ in $(seq 100); do alive "$STATE/slurmd.pid" || alive "$STATE/slurmctld.pid" || break; sleep 0.1; done
rm -f "$STATE/slurmd.pid" "$STATE/slurmctld.pid"

slurmctld -c -f "$CONF"   # -c: no jobs resurrected from an earlier cluster's state
slurmd -c -f "$CONF" -N "$NODE"

for _ in $(seq 120); do
    state=$(sinfo -h -n "$NODE" -o %t 2>/dev/null || true)
    [ "$state" = idle ] && break
    sleep 0.5
done
if [ "$state" != idle ]; then
    say "the node is not idle after 60 s (state: ${state:-no answer}); logs in $STATE:"
    tail -n 5 "$STATE/slurmctld.log" "$STATE/slurmd.log" >&2 || true
    exit 1
fi
say "node $NODE idle ($(sinfo -h -o '%c CPUs, %m MB'))"
echo "export SLURM_CONF=$CONF"
