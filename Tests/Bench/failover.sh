#!/usr/bin/env bash
# Failover time of controllers sharing a PostgreSQL store: two controllers and one pool agent
# on loopback, a throwaway PostgreSQL server (Tests/Postgres/postgres.sh); each round kills the
# leader with SIGKILL and times until a submit, sent again and again through both controllers'
# endpoints, is acknowledged by the new leader. The killed controller comes back as a standby.
#
#   Tests/Bench/failover.sh [ROUNDS] [LEASE_MS] [JUNCTION]   defaults: 5, 6000, .build/release/junction
set -euo pipefail
cd "$(dirname "$0")/../.."
rounds=${1:-5}
lease=${2:-6000}
junction=${3:-.build/release/junction}
[[ -x "$junction" ]] || { echo "failover.sh: no $junction; build it with swift build -c release" >&2; exit 2; }

# FAILOVER_WORK=DIR keeps the controllers' logs there (an empty folder); else a temporary one goes.
work=${FAILOVER_WORK:-$(mktemp -d)}
keep=${FAILOVER_WORK:+1}
declare -A pids
cleanup() {
    for pid in "${pids[@]}"; do kill -9 "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    Tests/Postgres/postgres.sh stop "$work/pg" >/dev/null 2>&1 || true
    [[ -n "$keep" ]] || rm -rf "$work"
}
trap cleanup EXIT
chmod 755 "$work"
url=$(Tests/Postgres/postgres.sh start "$work/pg")
# Three free ports per controller, asked of the kernel at once so they differ; each controller
# comes back on its own after a kill.
ports=($(python3 -c '
import socket
sockets = [socket.socket() for _ in range(6)]
for s in sockets: s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in sockets))'))
declare -A pools_port clients_port events_port
pools_port[a]=${ports[0]}; clients_port[a]=${ports[1]}; events_port[a]=${ports[2]}
pools_port[b]=${ports[3]}; clients_port[b]=${ports[4]}; events_port[b]=${ports[5]}

start_controller() {
    local name=$1
    "$junction" controller --topology Topologies/abilene.yaml --store "$url" --name "$name" --lease-ms "$lease" \
        --pools "tcp://127.0.0.1:${pools_port[$name]}" --clients "tcp://127.0.0.1:${clients_port[$name]}" \
        --events "tcp://127.0.0.1:${events_port[$name]}" --log-level notice >>"$work/$name.out" 2>>"$work/$name.err" &
    pids[$name]=$!
    # Killed on purpose: no job-control notice for it.
    disown "${pids[$name]}"
}
start_controller a
for _ in $(seq 100); do grep -q leading "$work/a.err" 2>/dev/null && break; sleep 0.1; done
start_controller b
pools="tcp://127.0.0.1:${pools_port[a]},tcp://127.0.0.1:${pools_port[b]}"
clients="tcp://127.0.0.1:${clients_port[a]},tcp://127.0.0.1:${clients_port[b]}"
"$junction" pool --id bench --node New_York --pools "$pools" --cpu 1000 --memory-gib 100 --work-dir "$work/jobs" --log-level warning >"$work/pool.out" 2>"$work/pool.err" &
pids[pool]=$!
for _ in $(seq 100); do "$junction" pools --controller "$clients" --json 2>/dev/null | grep -q '"bench"' && break; sleep 0.1; done

leader() {
    for name in a b; do
        if "$junction" pools --controller "tcp://127.0.0.1:${clients_port[$name]}" --timeout 2 >/dev/null 2>&1; then echo "$name"; return; fi
    done
}

echo "lease $lease ms; kill -9 of the leader to the first submit the new leader acknowledges:"
for round in $(seq "$rounds"); do
    old=$(leader)
    [[ -n "$old" ]] || { echo "failover.sh: no controller leads" >&2; exit 1; }
    "$junction" submit --controller "$clients" --from New_York --cpu 1 -- /bin/true >/dev/null
    start=$(date +%s.%N)
    kill -9 "${pids[$old]}"
    until "$junction" submit --controller "$clients" --timeout 1 --from New_York --cpu 1 -- /bin/true >/dev/null 2>&1; do
        if python3 -c "import sys; sys.exit(0 if float(sys.argv[2]) - float(sys.argv[1]) > 60 else 1)" "$start" "$(date +%s.%N)"; then
            echo "failover.sh: no controller took over within 60 s; their logs:" >&2
            tail -n 20 "$work"/a.err "$work"/b.err >&2
            exit 1
        fi
    done
    seconds=$(python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.2f}')" "$start" "$(date +%s.%N)")
    echo "round $round: $old killed, $(leader) serving after $seconds s"
    start_controller "$old"
    sleep 2
done
