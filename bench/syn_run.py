#!/usr/bin/env python3
"""bench/syn_run.py - runs one scanner inside the current network namespace and measures it from outside.

Usage: syn_run.py VETH EXPECTED_OPEN KIND -- CMD...
  KIND: json (netdiag --json), nmap (-oG -), masscan (prints "Discovered open port N/tcp").
Samples VETH's tx_packets every millisecond: the sending window is from the first packet to the last change, so
packets/s is what went on the wire, the same way for every tool. masscan does not exit for seconds after its
last packet (its --wait), so it is stopped once it has sent the whole range and reported every expected open
port; its time to the last result is then the later of its last packet and its last open port. For the others
it is when the last line of their report arrived (netdiag and nmap print their report, then exit). Prints one JSON
line: wall_s, result_s, tx_packets, send_s, pps, cpu_s, rss_kb, open (sorted ports).
"""
import json, os, re, resource, subprocess, sys, threading, time

veth, expected, kind = sys.argv[1], int(sys.argv[2]), sys.argv[3]
cmd = sys.argv[sys.argv.index("--") + 1:]
stat = f"/sys/class/net/{veth}/statistics/tx_packets"

def tx():
    with open(stat) as f:
        return int(f.read())

base = tx()
samples = []  # (time, count) at each change
start = time.monotonic()
proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, bufsize=1)
done = threading.Event()
found = []  # (time, port)
out_lines = []
last_line = [None]  # when the last line of output arrived

def reader():
    for line in proc.stdout:
        out_lines.append(line)
        last_line[0] = time.monotonic() - start
        if kind == "masscan":
            m = re.search(r"Discovered open port (\d+)/tcp", line)
            if m:
                found.append((time.monotonic() - start, int(m.group(1))))
    done.set()

t = threading.Thread(target=reader, daemon=True)
t.start()
last = base
limit = start + 60
all_out = None  # when the whole range had gone out (masscan)
while proc.poll() is None and time.monotonic() < limit:
    c = tx()
    now = time.monotonic() - start
    if c != last:
        samples.append((now, c - base))
        last = c
    if kind == "masscan" and c - base >= 65535:
        all_out = all_out or time.monotonic()
        # Every SYN is out and every open port reported (or 2 s passed since the last SYN, far more than a
        # round trip on a veth pair): the scan's result is complete.
        if len({p for _, p in found}) >= expected or time.monotonic() - all_out > 2:
            time.sleep(0.05)
            proc.terminate()
            break
    time.sleep(0.001)
if proc.poll() is None:
    proc.terminate()
proc.wait()
wall = time.monotonic() - start
done.wait(5)
c = tx()
if c != last:
    samples.append((wall, c - base))
ru = resource.getrusage(resource.RUSAGE_CHILDREN)
text = "".join(out_lines)
if kind == "json":
    try:
        v = json.loads(text)
        opened = sorted(r["port"] for r in v["results"] if r["state"] == "open")
    except Exception:
        opened = []
elif kind == "nmap":
    opened = sorted(int(m) for m in re.findall(r"(\d+)/open/tcp", text))
else:
    opened = sorted({p for _, p in found})
first = samples[0][0] if samples else 0.0
lastt = samples[-1][0] if samples else 0.0
sent = samples[-1][1] if samples else 0
send_s = max(lastt - first, 1e-6)
result = wall
if kind in ("json", "nmap") and last_line[0] is not None:
    # The whole report is out when its last line arrives; the process may take longer to exit (netdiag --syn:
    # the kernel's RCU grace periods for closing its packet sockets).
    result = min(wall, last_line[0])
if kind == "masscan":
    result = max([lastt] + [ts for ts, _ in found])
print(json.dumps({
    "wall_s": round(wall, 4), "result_s": round(result, 4), "tx_packets": sent, "send_s": round(send_s, 4),
    "pps": round(sent / send_s), "cpu_s": round(ru.ru_utime + ru.ru_stime, 3), "rss_kb": ru.ru_maxrss,
    "open": opened,
}))
