#!/usr/bin/env bash
# bench/syn.sh - netdiag probe --syn against masscan and nmap -sS (and netdiag's own connect scan), side by side
# in one run on the same veth pair between two namespaces this script creates, 3 listeners in the target.
#
# Each round runs the four tools one after another on ports 1-65535 of the target; RUNS rounds. Per run:
# wall time, time to the last result (masscan does not exit for seconds after its last packet, even with
# --wait 0, so it is stopped once its whole range is out and its open ports are in, and its time is the later of
# the two), packets per second on the wire (the veth's tx counter sampled every millisecond, the same for every
# tool), CPU seconds and peak RSS of the process, and whether the open set equals `ss -tln` in the target.
# Medians are printed, with netdiag --syn's ratios to each anchor.
#
# Network rule: traffic only between the two namespaces created here (deleted on exit); only PIDs started here
# are killed. Every loop is bounded.
# Env: RUNS (default 10), RATE (--rate of masscan and netdiag --syn, default 10000000).
set -euo pipefail

RUNS="${RUNS:-10}"
RATE="${RATE:-10000000}"
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
A="ndbsyna$$"
B="ndbsynb$$"
VA="ndsa$$"
VB="ndsb$$"
OWN_PIDS=()
TMP="$(mktemp -d)"

cleanup() {
    for p in "${OWN_PIDS[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done
    ip netns delete "$A" 2>/dev/null || true
    ip netns delete "$B" 2>/dev/null || true
    rm -rf "$TMP"
}
trap cleanup EXIT INT TERM

need() { # need CMD PACKAGE
    command -v "$1" >/dev/null 2>&1 && return 0
    echo "installing $2 (for $1)"
    apt-get install -y "$2" >/dev/null 2>&1 || { apt-get update >/dev/null && apt-get install -y "$2" >/dev/null; }
}
need nmap nmap
need masscan masscan
need ip iproute2
need ss iproute2
need python3 python3

echo "== build =="
(cd "$ROOT" && cargo build --release --quiet)
ND="$ROOT/target/release/netdiag"
echo "cores = $(nproc), load = $(cut -d' ' -f1-3 /proc/loadavg)"

ip netns add "$A"
ip netns add "$B"
ip link add "$VA" netns "$A" type veth peer name "$VB" netns "$B"
ip -n "$A" addr add 10.251.0.1/24 dev "$VA"
ip -n "$B" addr add 10.251.0.2/24 dev "$VB"
for ns in "$A" "$B"; do ip -n "$ns" link set lo up; done
ip -n "$A" link set "$VA" up
ip -n "$B" link set "$VB" up
PEER_MAC=$(ip -n "$B" link show "$VB" | awk '/link\/ether/ {print $2}')
# masscan answers nothing itself; A's kernel resets the SYN-ACKs, as for the other tools. Static neighbours so
# no tool pays for ARP in its first packets.
ip -n "$A" neigh replace 10.251.0.2 lladdr "$PEER_MAC" dev "$VA" nud permanent
ip -n "$B" neigh replace 10.251.0.1 lladdr "$(ip -n "$A" link show "$VA" | awk '/link\/ether/ {print $2}')" dev "$VB" nud permanent

for p in 22 8080 50000; do
    ip netns exec "$B" python3 -c "
import socket, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('0.0.0.0', $p)); s.listen(1024); time.sleep(3600)" &
    OWN_PIDS+=("$!")
done
for _ in $(seq 1 100); do
    [ "$(ip netns exec "$B" ss -tlnH | wc -l)" -ge 3 ] && break
    sleep 0.1
done
EXPECTED=$(ip netns exec "$B" ss -tlnH | awk '{print $4}' | sed 's/.*://' | sort -n | paste -sd, -)
echo "ss -tln in the target: $EXPECTED"
echo "runs: $RUNS, rate: $RATE packets/s (masscan and netdiag --syn)"

run() { # run NAME KIND CMD...
    local name="$1" kind="$2"; shift 2
    ip netns exec "$A" python3 "$ROOT/bench/syn_run.py" "$VA" 3 "$kind" -- "$@" | sed "s/^/$name\t/" >> "$TMP/all"
}
: > "$TMP/all"
for i in $(seq 1 "$RUNS"); do
    run masscan masscan masscan -p1-65535 10.251.0.2 --rate "$RATE" --interface "$VA" --router-mac "$PEER_MAC" \
        --adapter-ip 10.251.0.1 --wait 0
    run nmap-sS nmap timeout 120 nmap -sS -p- -T5 --min-rate 50000 -n -oG - 10.251.0.2
    run netdiag-connect json "$ND" --json probe 10.251.0.2 -p-
    run netdiag-syn json "$ND" --json probe 10.251.0.2 -p- --syn --rate "$RATE"
    echo "round $i of $RUNS done"
done

python3 - "$TMP/all" "$EXPECTED" <<'PY'
import json, statistics, sys
want = [int(p) for p in sys.argv[2].split(",")]
runs = {}
for line in open(sys.argv[1]):
    name, js = line.rstrip("\n").split("\t", 1)
    runs.setdefault(name, []).append(json.loads(js))
med = lambda xs: statistics.median(xs)
print()
print("%-16s %9s %11s %12s %9s %8s %9s  %s" % ("tool", "wall s", "result s", "sent pkt/s", "send s", "cpu s", "rss MB", "open set exact"))
rows = {}
for name in ["masscan", "nmap-sS", "netdiag-connect", "netdiag-syn"]:
    rs = runs.get(name, [])
    if not rs:
        continue
    r = {k: med([x[k] for x in rs]) for k in ["wall_s", "result_s", "pps", "send_s", "cpu_s", "rss_kb"]}
    exact = sum(1 for x in rs if x["open"] == want)
    rows[name] = r
    print("%-16s %9.3f %11.3f %12.0f %9.3f %8.2f %9.1f  %d of %d" % (name, r["wall_s"], r["result_s"], r["pps"],
          r["send_s"], r["cpu_s"], r["rss_kb"] / 1024, exact, len(rs)))
    misses = [x["open"] for x in rs if x["open"] != want]
    if misses:
        print("    runs with another open set: %s" % misses[:5])
s = rows.get("netdiag-syn")
if s:
    print()
    for name in ["masscan", "nmap-sS", "netdiag-connect"]:
        o = rows.get(name)
        if o:
            print("netdiag --syn vs %-16s time to last result %.2fx faster, send rate %.2fx" % (
                name, o["result_s"] / s["result_s"], s["pps"] / max(o["pps"], 1)))
    print("goal: full range <= 0.150 s wall: %.3f s (%s; last result at %.3f s); send rate above masscan's: %s" % (
        s["wall_s"], "met" if s["wall_s"] <= 0.15 else "not met", s["result_s"],
        "met" if rows.get("masscan") and s["pps"] > rows["masscan"]["pps"] else "not met"))
PY
