#!/usr/bin/env python3
"""Floods a running controller's events endpoint with subscriptions and reports what it cost.

    pip install pyzmq
    junction controller --topology Topologies/abilene.yaml --state /tmp/flood-state &
    python3 Tests/Load/events-flood.py --pid $! --events tcp://127.0.0.1:7412

Opens --peers DEALER connections; each asks for --subscriptions distinct 256-byte prefixes
(past the controller's 64 a subscriber) and never reads its answers. Then prints the
controller's resident memory and CPU time (from /proc), the refusals that came back, and the
memory once the connections have closed and the controller's liveness window (10 s) has passed.
"""
import argparse
import os
import time

import zmq


def resident_mb(pid):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS"):
                return int(line.split()[1]) // 1024
    raise SystemExit(f"no process {pid}")


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pid", type=int, required=True, help="the controller's process id")
    parser.add_argument("--events", default="tcp://127.0.0.1:7412", help="its events endpoint")
    parser.add_argument("--peers", type=int, default=300)
    parser.add_argument("--subscriptions", type=int, default=1000, help="prefixes each peer asks for")
    arguments = parser.parse_args()

    pid = arguments.pid
    print(f"before: {resident_mb(pid)} MB resident", flush=True)
    context = zmq.Context()
    peers = []
    for _ in range(arguments.peers):
        peer = context.socket(zmq.DEALER)
        peer.setsockopt(zmq.LINGER, 0)
        peer.setsockopt(zmq.SNDHWM, 0)
        peer.connect(arguments.events)
        peers.append(peer)
    started, cpu = time.time(), cpu_seconds(pid)
    for number, peer in enumerate(peers):
        for index in range(arguments.subscriptions):
            peer.send(b"\x01" + (f"job/{number}-{index}-".encode() * 40)[:256])
    time.sleep(5)
    refusals = 0
    for peer in peers:
        while peer.poll(0):
            peer.recv_multipart()
            refusals += 1
    print(f"{arguments.peers} peers x {arguments.subscriptions} subscriptions: {resident_mb(pid)} MB resident, "
          f"{cpu_seconds(pid) - cpu:.2f} s of CPU in {time.time() - started:.1f} s, {refusals} refusals came back", flush=True)
    for peer in peers:
        peer.close()
    time.sleep(13)
    print(f"13 s after they left: {resident_mb(pid)} MB resident", flush=True)


if __name__ == "__main__":
    main()
