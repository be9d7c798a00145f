#!/usr/bin/env bash
# Installs the Debian packages Junction needs to build and run, when they are missing.
# With --tests, also the real services the tests drive: Prometheus (its server and promtool)
# and Chromium, for the admin endpoint's scrape and dashboard tests, and PostgreSQL, for the
# high-availability store (Tests/Postgres/postgres.sh runs throwaway servers of it), and Slurm
# with munge, for the Slurm executor (Tests/Slurm/slurm.sh runs throwaway clusters of it); and
# make, gcc and libprotobuf-c-dev, to build the C advertiser (Sources/junction-advertiser).
# Safe to run again: it does nothing when everything is present.
set -euo pipefail

tests=0
for argument in "$@"; do
  case "$argument" in
    --tests) tests=1 ;;
    *) echo "usage: $0 [--tests]" >&2; exit 2 ;;
  esac
done

# libxml2 backs FoundationXML, which reads GraphML; libsqlite3-dev backs the job store (GRDB).
packages=(libzmq3-dev libsqlite3-dev libxml2 pkg-config)
if [ "${JUNCTION_SETUP_PROTOC:-0}" = 1 ]; then
  packages+=(protobuf-compiler protobuf-c-compiler)
fi
if [ "$tests" = 1 ]; then
  packages+=(prometheus chromium postgresql slurmctld slurmd slurm-client munge make gcc libprotobuf-c-dev)
fi

missing=()
for package in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$package")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null; then
    sudo=sudo
  else
    echo "need root to install: ${missing[*]}" >&2
    exit 1
  fi
fi

echo "installing ${missing[*]}..." >&2
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
