#!/usr/bin/env bash
# A throwaway PostgreSQL server for tests and benchmarks: initialised in a directory of its own,
# listening on loopback only, stopped (and its directory removed) by `stop`.
#
#   Tests/Postgres/postgres.sh start DIR     initdb in DIR, start on a free loopback port, create
#                                            the database `junction`; prints its URL
#   Tests/Postgres/postgres.sh stop DIR      stop at once (immediate shutdown) and remove DIR
#   Tests/Postgres/postgres.sh restart DIR   stop at once and start again on the same port
#   Tests/Postgres/postgres.sh check         start a server and stop it again: exit 0 when the
#                                            tests that need PostgreSQL can run here
#
# Needs Debian's postgresql-15 (Deploy/setup-debian.sh --tests installs it). As root, the server
# runs as the `postgres` user, since PostgreSQL refuses to run as root.
set -euo pipefail

bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)
if [ -z "$bin" ] || [ ! -x "$bin/initdb" ]; then
  echo "PostgreSQL's server programs are missing: apt-get install -y postgresql-15 (or run Deploy/setup-debian.sh --tests)" >&2
  exit 3
fi

as_owner() {
  if [ "$(id -u)" -eq 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

start_server() {
  local dir=$1 port=$2
  as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
    -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c fsync=on -c max_connections=50" start >/dev/null
}

case "${1:-}" in
  check)
    dir=$(mktemp -d)
    chmod 755 "$dir"
    if url=$("$0" start "$dir/pg"); then
      psql "$url" -Atc 'SELECT version()' || { "$0" stop "$dir/pg"; rm -rf "$dir"; exit 1; }
      "$0" stop "$dir/pg"
      rm -rf "$dir"
    else
      rm -rf "$dir"
      echo "PostgreSQL cannot run here: the high-availability tests will fail" >&2
      exit 1
    fi
    ;;
  start)
    dir=${2:?usage: $0 start DIR}
    mkdir -p "$dir"
    if [ "$(id -u)" -eq 0 ]; then chown postgres "$dir"; fi
    as_owner "$bin/initdb" -D "$dir/data" -U junction --auth=trust -E UTF8 --no-sync >/dev/null
    # A free port: ask the kernel for one, then let the server take it; retried if someone
    # else took it meanwhile.
    for _ in 1 2 3 4 5; do
      port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
      if start_server "$dir" "$port"; then
        echo "$port" > "$dir/port"
        as_owner "$bin/createdb" -h 127.0.0.1 -p "$port" -U junction junction
        echo "postgres://junction@127.0.0.1:$port/junction"
        exit 0
      fi
    done
    echo "PostgreSQL did not start; its log:" >&2
    cat "$dir/server.log" >&2 || true
    exit 1
    ;;
  restart)
    dir=${2:?usage: $0 restart DIR}
    as_owner "$bin/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null
    start_server "$dir" "$(cat "$dir/port")"
    ;;
  stop)
    dir=${2:?usage: $0 stop DIR}
    if [ -f "$dir/data/postmaster.pid" ]; then
      as_owner "$bin/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null || true
    fi
    rm -rf "$dir"
    ;;
  *)
    echo "usage: $0 start DIR | stop DIR | restart DIR | check" >&2
    exit 2
    ;;
esac
