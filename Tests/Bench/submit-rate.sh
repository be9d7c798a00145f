#!/usr/bin/env bash
# Sequential submits of a trivial job per second: `junction submit` against a local controller
# and one pool agent, and `sbatch` of the same job in the same run where a Slurm cluster answers
# here (or, as root with Slurm installed, on a one-node cluster Tests/Slurm/slurm.sh starts for
# the run). What a user waiting on each submit in a shell loop sees.
#
#   Tests/Bench/submit-rate.sh [COUNT] [JUNCTION]     defaults: 300, .build/release/junction
set -euo pipefail
cd "$(dirname "$0")/../.."
count=${1:-300}
junction=${2:-.build/release/junction}
[[ -x "$junction" ]] || { echo "submit-rate.sh: no $junction; build it with swift build -c release" >&2; exit 2; }

work=$(mktemp -d)
pids=()
slurm_dir=""
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    if [[ -n "$slurm_dir" ]]; then Tests/Slurm/slurm.sh stop "$slurm_dir" || true; fi
    rm -rf "$work"
}
trap cleanup EXIT

source Tests/Bench/local-pool.sh

rate() { python3 -c "import sys; print(f'{int(sys.argv[1]) / float(sys.argv[2]):.1f}')" "$1" "$2"; }

start=$(date +%s.%N)
for _ in $(seq "$count"); do
    "$junction" submit --controller "$clients" --from New_York --cpu 0.01 -- /bin/true >/dev/null
done
seconds=$(python3 -c "import sys; print(float(sys.argv[2]) - float(sys.argv[1]))" "$start" "$(date +%s.%N)")
echo "junction submit: $count in $(printf %.2f "$seconds") s, $(rate "$count" "$seconds")/s"

if command -v sbatch >/dev/null && ! sinfo >/dev/null 2>&1 && [[ "$(id -u)" -eq 0 ]]; then
    slurm_dir="$work/slurm"
    if conf=$(Tests/Slurm/slurm.sh start "$slurm_dir" 2>/dev/null); then
        export SLURM_CONF=$conf
        echo "sbatch against a one-node cluster started for this run (Tests/Slurm/slurm.sh)"
    fi
fi
if command -v sbatch >/dev/null && sinfo >/dev/null 2>&1; then
    start=$(date +%s.%N)
    for _ in $(seq "$count"); do sbatch --wrap=true --output=/dev/null >/dev/null; done
    seconds=$(python3 -c "import sys; print(float(sys.argv[2]) - float(sys.argv[1]))" "$start" "$(date +%s.%N)")
    echo "sbatch:          $count in $(printf %.2f "$seconds") s, $(rate "$count" "$seconds")/s"
else
    echo "sbatch: no Slurm cluster answers here (sbatch and sinfo); Junction alone"
fi
