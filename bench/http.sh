#!/usr/bin/env bash
# bench/http.sh - `netdiag http-get` against `curl -s -o /dev/null` side by side, in one run:
#   1. whole-process wall time (hyperfine -N) fetching a 1 KiB file from python3 -m http.server, as the report
#      and as curl's script line (-s -o /dev/null -w FORMAT, the same format for both)
#   2. peak RSS of both (/usr/bin/time -v)
#   3. peak RSS of netdiag against a 1 GiB streamed response (must stay under 50 MB), both with the default
#      --max-size (reads 10 MiB, reports the truncation) and with --max-size 2G (reads and discards all 1 GiB)
# Network rule: everything runs inside netns ndbhttp, created and deleted here; traffic only to 127.0.0.1.
# Env: RUNS (default 100).
set -euo pipefail

RUNS="${RUNS:-100}"
NS="ndbhttp$$"
PORT=18080
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
BIN="$ROOT/target/release/netdiag"
OWN_PIDS=()
TMP="$(mktemp -d)"

cleanup() {
    for p in "${OWN_PIDS[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done
    ip netns delete "$NS" 2>/dev/null || true
    rm -rf "$TMP"
}
trap cleanup EXIT INT TERM

need() { command -v "$1" >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq "$2"; }; }
need hyperfine hyperfine
need curl curl
need python3 python3
need ip iproute2
[ -x /usr/bin/time ] || { apt-get update -qq && apt-get install -y -qq time; }

echo "== building netdiag (release) =="
(cd "$ROOT" && cargo build --release --quiet)

PY="$(python3 -c 'import sys; print(sys.executable)')"
ip netns add "$NS"
ip netns exec "$NS" ip link set lo up
head -c 1024 /dev/zero | tr '\0' 'a' > "$TMP/file"     # 1 KiB body
truncate -s 1G "$TMP/big"                                # 1 GiB, sparse: streamed from disk, never in memory
ip netns exec "$NS" "$PY" -m http.server --bind 127.0.0.1 --directory "$TMP" "$PORT" >/dev/null 2>&1 &
OWN_PIDS+=("$!")
for _ in $(seq 1 100); do
    ip netns exec "$NS" ss -tlnH "sport = :$PORT" | grep -q LISTEN && break
    sleep 0.1
done
URL="http://127.0.0.1:$PORT/file"
BIG="http://127.0.0.1:$PORT/big"
X() { ip netns exec "$NS" "$@"; }

echo "== sample =="
X "$BIN" http-get "$URL"

side_by_side() {  # side_by_side NETDIAG_CMD CURL_CMD: hyperfine -N, two passes in both orders, medians
    # hyperfine runs one command's runs, then the other's: a second pass in the other order evens out load drift.
    X hyperfine --style basic -N --warmup 5 --runs "$RUNS" --export-json "$TMP/h1.json" "$1" "$2" >/dev/null 2>&1
    X hyperfine --style basic -N --warmup 5 --runs "$RUNS" --export-json "$TMP/h2.json" "$2" "$1" >/dev/null 2>&1
    python3 - "$TMP/h1.json" "$TMP/h2.json" <<'PYEOF'
import json, statistics, sys
times = {}
for f in sys.argv[1:]:
    for x in json.load(open(f))["results"]:
        times.setdefault(x["command"], []).extend(x["times"])
meds = {}
for cmd, t in times.items():
    meds[cmd] = statistics.median(t)
    print(f'{cmd:70s} median {meds[cmd]*1000:7.2f} ms  min-max {min(t)*1000:.2f}-{max(t)*1000:.2f} ms  runs {len(t)}')
nd = next(v for k, v in meds.items() if "netdiag" in k)
curl = next(v for k, v in meds.items() if k.startswith("curl"))
print(f'ratio netdiag/curl: {nd/curl:.2f}  (curl takes {curl/nd:.2f}x netdiag\'s time; goal <= 0.50)')
PYEOF
}

echo "== whole-process wall time: hyperfine -N, $RUNS runs after 5 warm-ups, two passes in both orders =="
side_by_side "$BIN http-get $URL" "curl -s -o /dev/null $URL"

echo "== the script line: -s -o /dev/null -w (curl's habit), same format for both =="
WFMT="'%{http_code} %{size_download} %{time_connect} %{time_starttransfer} %{time_total}\\n'"
X "$BIN" http-get -s -o /dev/null -w "${WFMT//\'/}" "$URL"
X curl -s -o /dev/null -w "${WFMT//\'/}" "$URL"
side_by_side "$BIN http-get -s -o /dev/null -w $WFMT $URL" "curl -s -o /dev/null -w $WFMT $URL"

rss() {  # rss LABEL cmd... : median peak RSS of 5 runs, in MB
    local label="$1"; shift
    local vals=()
    for _ in 1 2 3 4 5; do
        /usr/bin/time -v -o "$TMP/t" "$@" >/dev/null 2>&1 || true
        vals+=("$(awk -F': ' '/Maximum resident set size/{print $2}' "$TMP/t")")
    done
    printf '%s\n' "${vals[@]}" | sort -n | awk -v l="$label" \
        '{a[NR]=$1} END{printf "%-55s peak RSS median %6.1f MB  min-max %.1f-%.1f MB\n", l, a[3]/1024, a[1]/1024, a[5]/1024}'
}

echo "== peak RSS (median of 5) =="
rss "netdiag http-get (1 KiB)" ip netns exec "$NS" "$BIN" http-get "$URL"
rss "curl -s -o /dev/null (1 KiB)" ip netns exec "$NS" curl -s -o /dev/null "$URL"
rss "netdiag http-get (1 GiB, default --max-size 10M)" ip netns exec "$NS" "$BIN" http-get --timeout 60 "$BIG"
rss "netdiag http-get (1 GiB, --max-size 2G: reads all)" ip netns exec "$NS" "$BIN" http-get --timeout 120 --max-size 2G "$BIG"
rss "curl -s -o /dev/null (1 GiB)" ip netns exec "$NS" curl -s -o /dev/null "$BIG"

echo "== 1 GiB response with the default --max-size: the truncation report =="
X "$BIN" http-get --timeout 60 "$BIG" | grep -E '^(body|ok|error)' || true
echo "== 1 GiB response read in full (--max-size 2G) =="
/usr/bin/time -v -o "$TMP/t" ip netns exec "$NS" "$BIN" http-get --timeout 120 --max-size 2G "$BIG" \
    | grep -E '^(body|total|ok|error)' || true
KB=$(awk -F': ' '/Maximum resident set size/{print $2}' "$TMP/t")
if [ "$KB" -lt $((50 * 1024)) ]; then
    echo "PASS: peak RSS reading 1 GiB is $((KB / 1024)) MB (< 50 MB)"
else
    echo "FAIL: peak RSS reading 1 GiB is $((KB / 1024)) MB (>= 50 MB)"; exit 1
fi
