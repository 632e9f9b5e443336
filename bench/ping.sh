#!/usr/bin/env bash
# bench/ping.sh - netdiag ping against fping and iputils ping, side by side in the same run.
#
#   1. One echo to each of 1,000 loopback addresses 127.0.0.1 .. 127.0.3.232 (root namespace: the kernel's
#      loopback answers all of 127.0.0.0/8; the one allowed exception to "inside our own namespace", as in
#      /work/shared/bench/04_ping_sweep.sh):
#        netdiag at its default pace (1,000 packets/s)  vs  fping -i 1   (anchor: 1.11 s)
#        netdiag --rate 0                               vs  fping -i 0   (anchor: 17.3 ms)
#   2. ping -c 100 -i 0.01 127.0.0.1 vs netdiag ping with the same options: statistics side by side.
#
# Network rule: traffic only to 127.0.0.0/8. Every loop is bounded. Needs root (raw ICMP; fping and ping
# work unprivileged too, netdiag would fall back to TCP without it).
# Env: RUNS (default 10).
set -euo pipefail

cd "$(dirname "$0")/.."
RUNS="${RUNS:-10}"

need() { # need COMMAND PACKAGE
    command -v "$1" >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq "$2" >/dev/null; }
}
need hyperfine hyperfine
need fping fping
need ping iputils-ping
need python3 python3
[ -x /usr/bin/time ] || { apt-get update -qq && apt-get install -y -qq time >/dev/null; }

if [ "$(id -u)" != 0 ]; then
    echo "bench/ping.sh: run as root (netdiag needs raw ICMP for a like-for-like comparison)" >&2
    exit 2
fi

cargo build --release --quiet
ND="$PWD/target/release/netdiag"

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

# The 1,000 addresses, as one argument list (netdiag) and as fping's -g range.
mapfile -t ADDRS < <(python3 -c '
import ipaddress
a = ipaddress.ip_address("127.0.0.1")
for i in range(1000): print(a + i)')
echo "targets: ${#ADDRS[@]} (${ADDRS[0]} .. ${ADDRS[999]})"
printf '%s\n' "${ADDRS[@]}" > "$TMP/list"
ND_ARGS="${ADDRS[*]}"

echo
echo "== correctness: alive of 1000, one run each =="
for rate in "" "--rate 0"; do
    # shellcheck disable=SC2086
    "$ND" --json ping -W 0.5 $rate "${ADDRS[@]}" > "$TMP/nd.json" || true
    python3 - "$TMP/nd.json" "netdiag ping -W 0.5 ${rate:-(default pace)}" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
sent = sum(h["sent"] for h in d["results"]); recv = sum(h["received"] for h in d["results"])
loss = 100.0 * (sent - recv) / sent if sent else 0
print(f'{sys.argv[2]}: alive {d["alive"]}/{len(d["results"])}, loss {loss:.1f}%, method {d["method"]}')
EOF
done
for i in 1 0; do
    alive=$(fping -c1 -t 500 -i "$i" -g 127.0.0.1 127.0.3.232 2>&1 >/dev/null | grep -c 'xmt/rcv/%loss = 1/1/' || true)
    echo "fping -c1 -t 500 -i $i: alive $alive/1000, loss $(( (1000 - alive) / 10 ))%"
done

echo
echo "== wall time, 1,000 loopback addresses (hyperfine -N, $RUNS runs) =="
hyperfine --style basic -N --warmup 1 --runs "$RUNS" --export-json "$TMP/sweep.json" \
    -n "fping -i 1" "fping -q -c1 -t 500 -i 1 -g 127.0.0.1 127.0.3.232" \
    -n "netdiag (default pace)" "$ND ping -q -W 0.5 $ND_ARGS" \
    -n "fping -i 0" "fping -q -c1 -t 500 -i 0 -g 127.0.0.1 127.0.3.232" \
    -n "netdiag --rate 0" "$ND ping -q -W 0.5 --rate 0 $ND_ARGS" >/dev/null

echo
echo "== ping -c 100 -i 0.01 127.0.0.1: statistics side by side =="
echo "-- iputils ping --"
ping -c 100 -i 0.01 127.0.0.1 | tail -2
echo "-- netdiag ping --"
"$ND" ping -q -c 100 -i 0.01 127.0.0.1 | tail -2
hyperfine --style basic -N --warmup 1 --runs 5 --export-json "$TMP/single.json" \
    -n "ping -c 100 -i 0.01" "ping -q -c 100 -i 0.01 127.0.0.1" \
    -n "netdiag -c 100 -i 0.01" "$ND ping -q -c 100 -i 0.01 127.0.0.1" >/dev/null

rss() { # rss COMMAND...: peak RSS in KiB, median of 3
    for _ in 1 2 3; do
        /usr/bin/time -v "$@" 2>&1 >/dev/null | awk -F': ' '/Maximum resident set size/{print $2}'
    done | sort -n | sed -n 2p
}
echo
echo "== peak RSS (median of 3) =="
echo "fping -i 1 sweep:        $(rss fping -q -c1 -t 500 -i 1 -g 127.0.0.1 127.0.3.232) KiB"
echo "netdiag default sweep:   $(rss "$ND" ping -q -W 0.5 "${ADDRS[@]}") KiB"
echo "fping -i 0 sweep:        $(rss fping -q -c1 -t 500 -i 0 -g 127.0.0.1 127.0.3.232) KiB"
echo "netdiag --rate 0 sweep:  $(rss "$ND" ping -q -W 0.5 --rate 0 "${ADDRS[@]}") KiB"

echo
echo "== medians and ratios (netdiag / anchor; below 1.00 means netdiag is faster) =="
python3 - "$TMP/sweep.json" "$TMP/single.json" <<'EOF'
import json, sys
med = {}
for f in sys.argv[1:]:
    for r in json.load(open(f))["results"]:
        med[r["command"]] = (r["median"], r["min"], r["max"])
def show(name):
    m, lo, hi = med[name]
    return f"{m*1000:9.1f} ms  (min-max {lo*1000:.1f}-{hi*1000:.1f})"
for nd, anchor in [("netdiag (default pace)", "fping -i 1"), ("netdiag --rate 0", "fping -i 0"),
                   ("netdiag -c 100 -i 0.01", "ping -c 100 -i 0.01")]:
    print(f"{anchor:24s}{show(anchor)}")
    print(f"{nd:24s}{show(nd)}   ratio {med[nd][0] / med[anchor][0]:.2f}")
EOF
