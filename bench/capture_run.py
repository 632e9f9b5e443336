#!/usr/bin/env python3
"""bench/capture_run.py: one capture of the sender's traffic, measured.

Starts CMD (a capture that prints tcpdump's "listening on" and closing counts on stderr) inside namespace NS,
waits until it listens, runs the sender, waits a second for the ring to drain, sends SIGINT and reads the
capture's CPU time (user + system, from wait4) and its counts. Prints one JSON line.
Usage: capture_run.py NS SENDER_NS SENDER... -- CMD...
"""
import json, os, re, signal, subprocess, sys, time

def main():
    args = sys.argv[1:]
    ns, sender_ns = args[0], args[1]
    sep = args.index("--")
    sender, cmd = args[2:sep], args[sep + 1:]
    p = subprocess.Popen(["ip", "netns", "exec", ns] + cmd, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    deadline = time.time() + 30
    lines = []
    while time.time() < deadline:
        line = p.stderr.readline()
        if not line:
            break
        lines.append(line)
        if "listening on" in line:
            break
    else:
        p.kill()
        sys.exit("capture did not start: %r" % lines)
    t0 = time.time()
    out = subprocess.run(["ip", "netns", "exec", sender_ns] + sender, capture_output=True, text=True, timeout=120)
    send_s = time.time() - t0
    time.sleep(1.5)
    os.kill(p.pid, signal.SIGINT)
    rest = p.stderr.read()
    _, status, ru = os.wait4(p.pid, 0)
    text = "".join(lines) + rest
    def count(what):
        m = re.search(r"(\d+) packets? %s" % what, text)
        return int(m.group(1)) if m else None
    print(json.dumps({
        "captured": count("captured"),
        "received": count("received by filter"),
        "dropped": count("dropped by kernel"),
        "cpu_s": ru.ru_utime + ru.ru_stime,
        "send_s": send_s,
        "sender": out.stdout.strip(),
    }))

main()
