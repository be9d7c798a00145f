# Sourced by the benchmark scripts: starts a controller on Abilene (its store in $work/state)
# and one pool agent "bench" at New_York with room for any number of small jobs, on ephemeral
# loopback ports. Needs $junction and $work, appends the two processes to the pids array, and
# sets $clients (the clients endpoint) and $pool_pid. The controller logs at
# $controller_log_level (default warning) to $work/controller.err.

"$junction" controller --topology Topologies/abilene.yaml --state "$work/state" --log-level "${controller_log_level:-warning}" \
    --pools 'tcp://127.0.0.1:*' --clients 'tcp://127.0.0.1:*' --events 'tcp://127.0.0.1:*' >"$work/controller.out" 2>"$work/controller.err" &
pids+=($!)
for _ in $(seq 100); do grep -q "events " "$work/controller.out" 2>/dev/null && break; sleep 0.1; done
endpoint() { awk -v name="$1" '$1 == name { print $NF }' "$work/controller.out"; }
pools=$(endpoint pools)
clients=$(endpoint clients)
[[ -n "$clients" ]] || { echo "$(basename "$0"): the controller did not start:" >&2; cat "$work/controller.err" >&2; exit 1; }
"$junction" pool --id bench --node New_York --pools "$pools" --cpu 100000 --memory-gib 1000 --work-dir "$work/jobs" --log-level warning >"$work/pool.out" 2>"$work/pool.err" &
pool_pid=$!
pids+=($pool_pid)
for _ in $(seq 100); do "$junction" pools --controller "$clients" --json 2>/dev/null | grep -q '"bench"' && break; sleep 0.1; done
