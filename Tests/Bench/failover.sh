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

work=$(mktemp -d)
declare -A pids
cleanup() {
    for pid in "${pids[@]}"; do kill -9 "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    Tests/Postgres/postgres.sh stop "$work/pg" >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT
chmod 755 "$work"
url=$(Tests/Postgres/postgres.sh start "$work/pg")
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
declare -A base
for name in a b; do base[$name]=$(port); done

start_controller() {
    local name=$1 p=${base[$1]}
    "$junction" controller --topology Topologies/abilene.yaml --store "$url" --name "$name" --lease-ms "$lease" \
        --pools "tcp://127.0.0.1:$p" --clients "tcp://127.0.0.1:$((p + 1))" --events "tcp://127.0.0.1:$((p + 2))" \
        --log-level notice >>"$work/$name.out" 2>>"$work/$name.err" &
    pids[$name]=$!
    # Killed on purpose: no job-control notice for it.
    disown "${pids[$name]}"
}
start_controller a
for _ in $(seq 100); do grep -q leading "$work/a.err" 2>/dev/null && break; sleep 0.1; done
start_controller b
pools="tcp://127.0.0.1:${base[a]},tcp://127.0.0.1:${base[b]}"
clients="tcp://127.0.0.1:$((base[a] + 1)),tcp://127.0.0.1:$((base[b] + 1))"
"$junction" pool --id bench --node New_York --pools "$pools" --cpu 1000 --memory-gib 100 --work-dir "$work/jobs" --log-level warning >"$work/pool.out" 2>"$work/pool.err" &
pids[pool]=$!
for _ in $(seq 100); do "$junction" pools --controller "$clients" --json 2>/dev/null | grep -q '"bench"' && break; sleep 0.1; done

leader() {
    for name in a b; do
        if "$junction" pools --controller "tcp://127.0.0.1:$((base[$name] + 1))" --timeout 2 >/dev/null 2>&1; then echo "$name"; return; fi
    done
}

echo "lease $lease ms; kill -9 of the leader to the first submit the new leader acknowledges:"
for round in $(seq "$rounds"); do
    old=$(leader)
    [[ -n "$old" ]] || { echo "failover.sh: no controller leads" >&2; exit 1; }
    "$junction" submit --controller "$clients" --from New_York --cpu 1 -- /bin/true >/dev/null
    start=$(date +%s.%N)
    kill -9 "${pids[$old]}"
    until "$junction" submit --controller "$clients" --timeout 1 --from New_York --cpu 1 -- /bin/true >/dev/null 2>&1; do :; done
    seconds=$(python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.2f}')" "$start" "$(date +%s.%N)")
    echo "round $round: $old killed, $(leader) serving after $seconds s"
    start_controller "$old"
    sleep 2
done
