#!/usr/bin/env bash
# What starting a job costs a pool agent: COUNT jobs (/bin/true, or the command given) submitted
# by PARALLEL shell loops to a local controller and one agent; prints the agent's own CPU time
# per job (user + system, from /proc; a started job's time is its own), its resident memory,
# which a fork would copy the page tables of for every job, and how many dispatches it answered
# after the controller's dispatch timeout (5 s) because it had fallen behind.
#
#   Tests/Bench/job-starts.sh [COUNT] [PARALLEL] [JUNCTION] [COMMAND...]
#   defaults: 1000, 3, .build/release/junction, /bin/true
set -euo pipefail
cd "$(dirname "$0")/../.."
count=${1:-1000}
parallel=${2:-3}
junction=${3:-.build/release/junction}
command=("${@:4}")
[[ ${#command[@]} -gt 0 ]] || command=(/bin/true)
[[ -x "$junction" ]] || { echo "job-starts.sh: no $junction; build it with swift build -c release" >&2; exit 2; }

work=$(mktemp -d)
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
controller_log_level=info
source Tests/Bench/local-pool.sh

# Fields 14 and 15 of /proc/PID/stat: user and system time in clock ticks.
ticks() { awk '{ print $14 + $15 }' "/proc/$pool_pid/stat"; }
before=$(ticks)
start=$(date +%s.%N)
seq "$count" | xargs -P "$parallel" -I{} "$junction" submit --controller "$clients" --from New_York --cpu 0.01 -- "${command[@]}" >/dev/null
until [[ $("$junction" status --controller "$clients" --active | wc -l) -le 1 ]]; do sleep 0.2; done
seconds=$(python3 -c "import sys; print(float(sys.argv[2]) - float(sys.argv[1]))" "$start" "$(date +%s.%N)")
after=$(ticks)
late=$(grep -c "did not answer the dispatch" "$work/controller.err" || true)
resident=$(awk '/VmRSS/ { print $2 / 1024 }' "/proc/$pool_pid/status")
python3 -c "
import os, sys
count, seconds, ticks, resident = int(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
print(f'{count} jobs ({sys.argv[7]}) submitted by {sys.argv[5]} loops, all finished in {seconds:.1f} s ({count / seconds:.0f}/s)')
print(f'agent CPU per job: {ticks / os.sysconf(\"SC_CLK_TCK\") / count * 1e3:.2f} ms; agent resident memory {resident:.0f} MiB')
print(f'dispatches answered after the dispatch timeout: {sys.argv[6]}')
" "$count" "$seconds" "$((after - before))" "$resident" "$parallel" "$late" "${command[*]}"
