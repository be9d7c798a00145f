#!/usr/bin/env bash
# A throwaway single-node Slurm cluster for tests: munge, slurmctld and slurmd started without
# systemd, everything (key, configuration, state, logs, sockets) under one directory, stopped and
# removed by `stop`.
#
#   Tests/Slurm/slurm.sh start DIR   start munged, slurmctld and slurmd on free loopback ports
#                                    with DIR/slurm.conf; prints that path (export SLURM_CONF=it
#                                    for sinfo, sbatch, squeue, scontrol and scancel)
#   Tests/Slurm/slurm.sh stop DIR    stop the three daemons at once and remove DIR
#   Tests/Slurm/slurm.sh check       start a cluster, run one job through it, stop it: exit 0
#                                    when the tests that need Slurm can run here
#
# The node is this machine (its hostname), with its cores, 2,048 MiB of memory and two GPUs of
# type `tesla` (plain files stand in for their devices), in partition `debug`. Needs Debian's
# slurmctld, slurmd, slurm-client and munge (Deploy/setup-debian.sh --tests installs them) and
# root, since slurmd starts jobs as the user who submitted them.
set -euo pipefail

for program in munged slurmctld slurmd sinfo sbatch; do
  if ! command -v "$program" >/dev/null; then
    echo "Slurm's $program is missing: apt-get install -y slurmctld slurmd slurm-client munge (or run Deploy/setup-debian.sh --tests)" >&2
    exit 3
  fi
done

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Waits up to 60 s for `command` to succeed.
wait_for() {
  for _ in $(seq 1 120); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.5
  done
  return 1
}

stop_daemon() {
  local pidfile=$1
  if [ -f "$pidfile" ]; then
    local pid
    pid=$(cat "$pidfile")
    kill -9 "$pid" 2>/dev/null || true
  fi
}

case "${1:-}" in
  check)
    dir=$(mktemp -d)
    if conf=$("$0" start "$dir/slurm"); then
      export SLURM_CONF=$conf
      id=$(sbatch --parsable --wrap 'echo ran' --output "$dir/slurm/check.out" 2>&1) || { echo "sbatch failed: $id" >&2; "$0" stop "$dir/slurm"; rm -rf "$dir"; exit 1; }
      if ! wait_for grep -q ran "$dir/slurm/check.out"; then
        echo "a Slurm job did not run within 60 s; squeue says:" >&2
        squeue >&2 || true
        cat "$dir/slurm/slurmd.log" >&2 || true
        "$0" stop "$dir/slurm"
        rm -rf "$dir"
        exit 1
      fi
      sinfo --noheader -o '%P %D %c %m %G %t'
      "$0" stop "$dir/slurm"
      rm -rf "$dir"
    else
      rm -rf "$dir"
      echo "Slurm cannot run here: the Slurm executor's tests will fail" >&2
      exit 1
    fi
    ;;
  start)
    dir=${2:?usage: $0 start DIR}
    if [ "$(id -u)" -ne 0 ]; then
      echo "a test Slurm cluster needs root (slurmd runs jobs as their submitter)" >&2
      exit 1
    fi
    mkdir -p "$dir"/{state,spool,munge,dev}
    # Stand-ins for two GPUs' device files: Slurm counts a GPU only with a file to hand out.
    touch "$dir/dev/gpu0" "$dir/dev/gpu1"
    dir=$(cd "$dir" && pwd)
    # munged insists on a key only its user can read and a socket folder others cannot write.
    chmod 700 "$dir/munge"
    dd if=/dev/urandom of="$dir/munge/munge.key" bs=1024 count=1 status=none
    chmod 400 "$dir/munge/munge.key"
    socket=$dir/munge/munge.socket
    munged --force --key-file="$dir/munge/munge.key" --socket="$socket" --pid-file="$dir/munge/munged.pid" \
      --log-file="$dir/munge/munged.log" --seed-file="$dir/munge/munged.seed"
    node=$(hostname -s)
    cores=$(nproc)
    controller_port=$(free_port)
    node_port=$(free_port)
    cat > "$dir/slurm.conf" <<EOF
ClusterName=junction-test
SlurmctldHost=$node(127.0.0.1)
SlurmctldPort=$controller_port
SlurmdPort=$node_port
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$socket
CredType=cred/munge
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/slurmctld.log
SlurmdLogFile=$dir/slurmd.log
ProctrackType=proctrack/pgid
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
GresTypes=gpu
ReturnToService=2
MinJobAge=600
KillWait=5
SlurmctldTimeout=30
SlurmdTimeout=30
MpiDefault=none
MailProg=/bin/true
NodeName=$node NodeAddr=127.0.0.1 CPUs=$cores RealMemory=2048 Gres=gpu:tesla:2 State=UNKNOWN
PartitionName=debug Nodes=$node Default=YES MaxTime=INFINITE State=UP
EOF
    cat > "$dir/gres.conf" <<EOF
NodeName=$node Name=gpu Type=tesla File=$dir/dev/gpu[0-1]
EOF
    export SLURM_CONF=$dir/slurm.conf
    slurmctld -f "$dir/slurm.conf" -i
    slurmd -f "$dir/slurm.conf"
    if ! wait_for bash -c "sinfo --noheader -o '%t' | grep -qE '^(idle|mix|alloc)'"; then
      echo "the test Slurm node did not come up within 60 s; sinfo says:" >&2
      sinfo >&2 || true
      tail -n 20 "$dir/slurmctld.log" "$dir/slurmd.log" >&2 || true
      "$0" stop "$dir" || true
      exit 1
    fi
    echo "$dir/slurm.conf"
    ;;
  stop)
    dir=${2:?usage: $0 stop DIR}
    if [ -f "$dir/slurm.conf" ] && [ -f "$dir/slurmctld.pid" ]; then
      # The cluster's jobs first, so none outlives it: cancelled, then up to 15 s to go.
      export SLURM_CONF=$dir/slurm.conf
      timeout 10 scancel --user="$(id -un)" 2>/dev/null || true
      for _ in $(seq 1 30); do
        left=$(timeout 5 squeue --noheader --states=RUNNING,COMPLETING,SUSPENDED 2>/dev/null | wc -l || echo 0)
        [ "$left" -eq 0 ] && break
        sleep 0.5
      done
    fi
    stop_daemon "$dir/slurmd.pid"
    stop_daemon "$dir/slurmctld.pid"
    stop_daemon "$dir/munge/munged.pid"
    # Whatever is left of the cluster's own processes (slurmstepd works in its directory).
    for process in /proc/[0-9]*; do
      cwd=$(readlink "$process/cwd" 2>/dev/null || true)
      case "$cwd" in
        "$dir" | "$dir/"* | "$dir (deleted)") kill -9 "${process#/proc/}" 2>/dev/null || true ;;
      esac
    done
    rm -rf "$dir"
    ;;
  *)
    echo "usage: $0 start DIR | stop DIR | check" >&2
    exit 2
    ;;
esac
