#!/usr/bin/env python3
"""sockets_hold.py - hold N established TCP connections on loopback for the `netdiag sockets` benchmark.

    sockets_hold.py server PORT N READYFILE MAXSECS   # listen on 127.0.0.1:PORT, accept N, hold
    sockets_hold.py client PORT N READYFILE MAXSECS   # open N connections to 127.0.0.1:PORT, hold

One process per side (and several pairs for more than ~19,000 connections), because RLIMIT_NOFILE may be capped
at 20000 without CAP_SYS_RESOURCE. Each side writes READYFILE when done, then holds until SIGTERM or MAXSECS.
Run it inside a network namespace the benchmark created: it only talks to 127.0.0.1 there.
"""
import os
import resource
import signal
import socket
import sys
import time

role, port, n, ready, maxsecs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], float(sys.argv[5])
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
if n + 16 > hard:
    sys.exit(f"need {n + 16} fds, hard limit is {hard}")

signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
deadline = time.monotonic() + maxsecs
socks = []
if role == "server":
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", port))
    ls.listen(4096)
    ls.settimeout(1.0)
    while len(socks) < n and time.monotonic() < deadline:
        try:
            c, _ = ls.accept()
        except socket.timeout:
            continue
        socks.append(c)
else:
    for _ in range(n):
        if time.monotonic() >= deadline:
            break
        socks.append(socket.create_connection(("127.0.0.1", port), timeout=5))

with open(ready + ".tmp", "w") as f:
    f.write(str(len(socks)))
os.rename(ready + ".tmp", ready)
while time.monotonic() < deadline:
    time.sleep(min(1.0, max(0.0, deadline - time.monotonic())))
