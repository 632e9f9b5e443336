#!/usr/bin/env bash
# bench/sockets.sh - `netdiag sockets` against ss and netstat, side by side in one hyperfine run, with N established
# loopback connections (2N sockets) held inside a network namespace this script creates and deletes.
#
#   bench/sockets.sh                 # N=10000 connections = 20,000 sockets, 20 runs
#   N=50000 RUNS=5 bench/sockets.sh  # 100,000 sockets (several holder processes: ulimit -n is capped at 20000 here)
#
# Network rule: every connection is to 127.0.0.1 inside the namespace. Every wait is bounded. Cleanup kills only
# the holder pids this script started and deletes only its own namespace.
set -euo pipefail

N="${N:-10000}"
RUNS="${RUNS:-20}"
SUMMARY_RUNS="${SUMMARY_RUNS:-300}"
HOLD_SECS="${HOLD_SECS:-900}"
PER_PROC="${PER_PROC:-19000}"   # connections per holder process (fds per process stay under the 20000 cap)
BASE_PORT=5555
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"

need() { # need CMD PACKAGE
    command -v "$1" >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq "$2"; }
}
need hyperfine hyperfine
need ss iproute2
need netstat net-tools
need python3 python3
[ -x /usr/bin/time ] || { apt-get update -qq && apt-get install -y -qq time; }
PY="$(python3 -c 'import sys; print(sys.executable)')"

echo "== build (release) =="
cargo build --release --quiet --manifest-path "$ROOT/Cargo.toml"
BIN="$ROOT/target/release/netdiag"

NS="ndbsock$$"
TMPD="$(mktemp -d)"
PIDS=()
cleanup() {
    local p
    for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done
    for p in "${PIDS[@]:-}"; do [ -n "$p" ] && wait "$p" 2>/dev/null || true; done
    ip netns delete "$NS" 2>/dev/null || true
    rm -rf "$TMPD"
}
trap cleanup EXIT INT TERM

ulimit -n 20000 2>/dev/null || ulimit -n "$(ulimit -Hn)" || true
echo "ulimit -n: $(ulimit -n) (hard $(ulimit -Hn)); $(nproc) cores; kernel $(uname -r)"
ip netns add "$NS"
ip netns exec "$NS" ip link set lo up

# Holder pairs: pair k listens on BASE_PORT+k and holds up to PER_PROC connections on each side.
left="$N"; k=0
while [ "$left" -gt 0 ]; do
    n=$(( left < PER_PROC ? left : PER_PROC ))
    port=$(( BASE_PORT + k ))
    ip netns exec "$NS" "$PY" "$HERE/sockets_hold.py" server "$port" "$n" "$TMPD/s$k.ready" "$HOLD_SECS" &
    PIDS+=("$!")
    for _ in $(seq 1 100); do   # bounded: 10 s for the listener
        ip netns exec "$NS" ss -tlnH "sport = :$port" | grep -q LISTEN && break
        sleep 0.1
    done
    ip netns exec "$NS" "$PY" "$HERE/sockets_hold.py" client "$port" "$n" "$TMPD/c$k.ready" "$HOLD_SECS" &
    PIDS+=("$!")
    left=$(( left - n )); k=$(( k + 1 ))
done
PAIRS=$k
for _ in $(seq 1 1200); do      # bounded: 120 s for every holder
    done_count=$(ls "$TMPD" | grep -c '\.ready$' || true)
    [ "$done_count" -ge $(( 2 * PAIRS )) ] && break
    sleep 0.1
done
held=0
for f in "$TMPD"/*.ready; do if [ -f "$f" ]; then held=$(( held + $(cat "$f") )); fi; done
echo "holders: $PAIRS pair(s) holding $held connection ends"

in_ns() { ip netns exec "$NS" "$@"; }
echo "== row counts (must agree) =="
echo "ss -tanH:              $(in_ns ss -tanH | wc -l)"
echo "netdiag sockets -t:    $(( $(in_ns "$BIN" sockets -t | wc -l) - 1 ))"
echo "netstat -tan:          $(( $(in_ns netstat -tan | wc -l) - 2 ))"
echo "ss -tanp with users:   $(in_ns ss -tanpH | grep -c users: || true)"
echo "netdiag -tp with pid:  $(in_ns "$BIN" --json sockets -tp | grep -c '"pid"' || true)"
echo "== sample =="
in_ns "$BIN" sockets -tp | head -4

echo "== wall time (hyperfine -N, stdout to /dev/null, $RUNS runs after 2 warm-ups) =="
JSON="$TMPD/hyperfine.json"
in_ns hyperfine --style basic -N --warmup 2 --runs "$RUNS" --export-json "$JSON" \
    "$BIN sockets -t" "$BIN sockets -tp" "ss -tan" "ss -tanp" "netstat -tan" "netstat -tanp" \
    "$BIN sockets --summary -t" "ss -s" >/dev/null

echo "== sockets -s (kernel counters) vs ss -s (hyperfine -N, $SUMMARY_RUNS runs after 20 warm-ups) =="
SJSON="$TMPD/summary.json"
in_ns hyperfine --style basic -N --warmup 20 --runs "$SUMMARY_RUNS" --export-json "$SJSON" \
    "$BIN sockets -s" "ss -s" >/dev/null

echo "== filter expressions: sockets -tan sport = :PORT vs ss -tan sport = :PORT (hyperfine -N, $RUNS runs) =="
echo "rows for sport = :$BASE_PORT: ss $(in_ns ss -tanH "sport = :$BASE_PORT" | wc -l), netdiag $(( $(in_ns "$BIN" sockets -tan sport = ":$BASE_PORT" | wc -l) - 1 ))"
echo "rows for sport = :1:         ss $(in_ns ss -tanH "sport = :1" | wc -l), netdiag $(( $(in_ns "$BIN" sockets -tan sport = :1 | wc -l) - 1 ))"
FJSON="$TMPD/filter.json"
in_ns hyperfine --style basic -N --warmup 2 --runs "$RUNS" --export-json "$FJSON" \
    "$BIN sockets -tan sport = :$BASE_PORT" "ss -tan sport = :$BASE_PORT" \
    "$BIN sockets -tan sport = :1" "ss -tan sport = :1" >/dev/null

echo "== peak RSS (/usr/bin/time -v, median of 3) =="
RSS="$TMPD/rss.txt"
for c in "$BIN sockets -t" "$BIN sockets -tp" "ss -tan" "ss -tanp" "netstat -tan" "netstat -tanp"; do
    vals=()
    for _ in 1 2 3; do
        # shellcheck disable=SC2086
        /usr/bin/time -v -o "$TMPD/time.txt" ip netns exec "$NS" $c >/dev/null 2>&1 || true
        vals+=("$(awk -F': ' '/Maximum resident set size/{print $2}' "$TMPD/time.txt")")
    done
    echo "$c|$(printf '%s\n' "${vals[@]}" | sort -n | sed -n 2p)" >>"$RSS"
done

"$PY" - "$JSON" "$RSS" "$BIN" "$((2 * N))" "$SJSON" "$FJSON" "$BASE_PORT" <<'PYEOF'
import json, sys
res = {r["command"]: r for r in json.load(open(sys.argv[1]))["results"]}
res.update({r["command"]: r for r in json.load(open(sys.argv[5]))["results"]})
res.update({r["command"]: r for r in json.load(open(sys.argv[6]))["results"]})
port = sys.argv[7]
rss = dict(l.rstrip("\n").split("|") for l in open(sys.argv[2]))
bin_ = sys.argv[3]
short = lambda c: c.replace(bin_, "netdiag")
print(f"sockets held: {sys.argv[4]}")
print(f"{'command':36} {'median':>10} {'min-max':>19} {'peak RSS':>10}")
for c, r in res.items():
    m = r["median"] * 1000
    kib = rss.get(c)
    print(f"{short(c):36} {m:8.1f} ms {r['min']*1000:8.1f}-{r['max']*1000:6.1f} ms {(kib + ' KiB') if kib else '':>10}")
med = lambda c: res[c]["median"]
print()
print(f"netdiag sockets -t  / ss -tan      = {med(bin_ + ' sockets -t') / med('ss -tan'):.2f}x the time (goal <= 1.00)")
print(f"ss -tanp / netdiag sockets -tp     = {med('ss -tanp') / med(bin_ + ' sockets -tp'):.2f}x faster (goal >= 1.50)")
print(f"netdiag sockets -s / ss -s         = {med(bin_ + ' sockets -s') / med('ss -s'):.2f}x the time (goal <= 1.00)")
print(f"netdiag -tan sport = :{port} / ss   = {med(bin_ + ' sockets -tan sport = :' + port) / med('ss -tan sport = :' + port):.2f}x the time (goal <= 1.00)")
print(f"netdiag -tan sport = :1 / ss        = {med(bin_ + ' sockets -tan sport = :1') / med('ss -tan sport = :1'):.2f}x the time (goal <= 1.00)")
print(f"netstat -tan / netdiag sockets -t  = {med('netstat -tan') / med(bin_ + ' sockets -t'):.2f}x faster")
print(f"netstat -tanp / netdiag sockets -tp = {med('netstat -tanp') / med(bin_ + ' sockets -tp'):.2f}x faster")
PYEOF
