#!/usr/bin/env bash
# bench/diagnose.sh - `netdiag diagnose URL` (resolve, reach, connect to every address, HTTP GET, verdict)
# against curl fetching the same URL, and against the chain people type by hand to troubleshoot
# (getent ahosts; ping -c1; curl), side by side in one hyperfine run. The server is python's http.server with
# a 1 KiB page on 127.0.0.1:18080 inside a network namespace of our own (as the anchor 07_http.sh does).
# A second run compares the failure path: a closed port. Prints medians, ratios and peak RSS.
# Env: RUNS (default 100).
source "$(dirname "$0")/common.sh"
RUNS="${RUNS:-100}"
need curl curl
need ping iputils-ping
need python3 python3
PY="$(python3 -c 'import sys; print(sys.executable)')"
build_release
NS="nddiag$$"
make_netns "$NS"
WWW="$(mktemp -d)"
trap '_cleanup; rm -rf "$WWW"' EXIT
head -c 1024 /dev/zero | tr '\0' a >"$WWW/index.html"
ip netns exec "$NS" "$PY" -m http.server --bind 127.0.0.1 --directory "$WWW" 18080 >/dev/null 2>&1 &
own_pid $!
for _ in $(seq 1 100); do
    ip netns exec "$NS" ss -ltnH "sport = :18080" | grep -q LISTEN && break
    sleep 0.1
done
URL="http://127.0.0.1:18080/"
NAMED="http://localhost:18080/"
MANUAL="getent ahosts localhost >/dev/null; ping -c1 -W1 127.0.0.1 >/dev/null; curl -s -o /dev/null $NAMED"

J="$RESULTS/diagnose.json"
ip netns exec "$NS" hyperfine --style basic -N --warmup 5 --runs "$RUNS" --export-json "$J" \
    "curl -s -o /dev/null $URL" \
    "$ND diagnose $URL" \
    "$ND diagnose $NAMED" \
    "sh -c '$MANUAL'" >/dev/null
c=$(median_ms "$J" 0); d=$(median_ms "$J" 1); dn=$(median_ms "$J" 2); m=$(median_ms "$J" 3)
echo "working URL, median ms (runs=$RUNS): curl $c | netdiag diagnose $d | netdiag diagnose (by name) $dn | getent+ping+curl by hand $m"
echo "ratio netdiag diagnose / curl: $(ratio "$d" "$c")"
echo "ratio netdiag diagnose (by name) / getent+ping+curl: $(ratio "$dn" "$m")"

JF="$RESULTS/diagnose_closed.json"
ip netns exec "$NS" hyperfine --style basic -N -i --warmup 5 --runs "$RUNS" --export-json "$JF" \
    "curl -s -o /dev/null http://127.0.0.1:18081/" \
    "$ND diagnose http://127.0.0.1:18081/" >/dev/null
cf=$(median_ms "$JF" 0); df=$(median_ms "$JF" 1)
echo "closed port, median ms: curl $cf | netdiag diagnose $df | ratio $(ratio "$df" "$cf")"
echo "peak RSS KiB: netdiag diagnose $(peak_rss_kb ip netns exec "$NS" "$ND" diagnose "$URL") | curl $(peak_rss_kb ip netns exec "$NS" curl -s -o /dev/null "$URL")"
