#!/bin/bash
# Slurm's timings that the sbatch files and tests/slurm depend on, measured on the local cluster
# (slurm/local/start.sh; started here if it is not running, and then stopped again):
#   - how long before the time limit `--signal=USR1@30` reaches the srun tasks, and `B:USR1@30` the batch shell;
#   - how long a job that requeues itself waits before it runs again (the requeue hold).
# Usage: bench/slurm_timing.sh [REPEATS]   (about 2 minutes for 3; one CPU per probe)
set -euo pipefail
cd "$(dirname "$0")/.."
REPEATS=${1:-3}
started=0
slurm/local/start.sh --status || { eval "$(slurm/local/start.sh)"; started=1; }
export SLURM_CONF=${SLURM_CONF:-${PROOFZERO_SLURM_DIR:-/tmp/proofzero-slurm}/slurm.conf}
out=$(mktemp -d)
trap 'rm -rf "$out"; [ $started = 1 ] && slurm/local/stop.sh' EXIT

cat >"$out/probe.sh" <<EOF
#!/bin/bash
start=\$(date +%s)
srun bash -c "trap 'echo steps \\\$(( \$start + 60 - \\\$(date +%s) )) >> $out/lead; exit 0' USR1; while sleep 0.2; do :; done" &
S=\$!
trap "echo batch \\\$(( \$start + 60 - \\\$(date +%s) )) >> $out/lead; kill \\\$S; exit 0" USR1
wait \$S
EOF
wait_for() { while [ -n "$(squeue -h -j "$(IFS=,; echo "$*")" 2>/dev/null)" ]; do sleep 2; done; }
jobs=()
for _ in $(seq "$REPEATS"); do
    for signal in USR1@30 B:USR1@30; do
        jobs+=("$(sbatch --parsable --cpus-per-task=1 --time=1 --signal=$signal -o /dev/null "$out/probe.sh")")
    done
done
wait_for "${jobs[@]}"
jobs=()  # one at a time, on an otherwise idle node: the hold alone
for _ in $(seq "$REPEATS"); do
    jobs=("$(sbatch --parsable --requeue --open-mode=append --cpus-per-task=1 --time=2 -o "$out/requeue-%j" --wrap \
        'date +%s; if [ "${SLURM_RESTART_COUNT:-0}" = 0 ]; then scontrol requeue $SLURM_JOB_ID; sleep 60; fi')")
    wait_for "${jobs[@]}"
done

echo "signal lead before a 60 s limit with @30 (s):"
for who in steps batch; do echo "  $who: $(awk -v w=$who '$1==w{printf "%s ", $2}' "$out/lead")"; done
echo "requeue hold, scontrol requeue -> the batch script again (s):"
echo "  $(for f in "$out"/requeue-*; do awk 'NR==1{a=$1} /^[0-9]+$/{b=$1} END{printf "%d ", b-a}' "$f"; done)"
