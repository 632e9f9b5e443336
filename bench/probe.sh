#!/usr/bin/env bash
# bench/probe.sh - netdiag probe against nmap (and RustScan when installed), side by side in one run.
#
#  1. Full TCP connect scan of 127.0.0.1 ports 1-65535 inside a network namespace this script creates, with
#     three listeners of its own (8000, 22222, 61234 - the last in the ephemeral range). Wall time (hyperfine -N),
#     peak RSS (/usr/bin/time -v), and the open set of each tool compared with `ss -tln` in the namespace.
#  2. 1,000 ports whose SYNs are dropped by nftables (another namespace), --timeout 0.5 s: goal < 1.3 x timeout.
#  3. A firewalled host across a veth pair (two more namespaces): ports 1-1000 with every SYN dropped but port 80
#     (a real http.server), default flags (adaptive timeout from measured round trips, one retry of silent
#     ports) against `nmap -sT -T5`; same open set; goal: no slower than nmap -T5 (issue 17, item 4).
#
# Network rule: traffic only to 127.0.0.1 inside the namespaces created here; both are deleted on exit, and only
# the PIDs started here are killed. Every loop is bounded.
# Env: RUNS (default 10), RSS_RUNS (default 3), TRIES (correctness runs, default 5).
set -euo pipefail

RUNS="${RUNS:-10}"
RSS_RUNS="${RSS_RUNS:-3}"
TRIES="${TRIES:-5}"
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
NS_FULL="ndbprobe$$"
NS_DROP="ndbdrop$$"
NS_FWA="ndbfwa$$"
NS_FWB="ndbfwb$$"
OWN_PIDS=()
TMP="$(mktemp -d)"

cleanup() {
    for p in "${OWN_PIDS[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done
    ip netns delete "$NS_FULL" 2>/dev/null || true
    ip netns delete "$NS_DROP" 2>/dev/null || true
    ip netns delete "$NS_FWA" 2>/dev/null || true
    ip netns delete "$NS_FWB" 2>/dev/null || true
    rm -rf "$TMP"
}
trap cleanup EXIT INT TERM

need() { # need CMD PACKAGE
    command -v "$1" >/dev/null 2>&1 && return 0
    echo "installing $2 (for $1)"
    apt-get install -y "$2" >/dev/null 2>&1 || { apt-get update >/dev/null && apt-get install -y "$2" >/dev/null; }
}
need hyperfine hyperfine
need nmap nmap
need nft nftables
need ip iproute2
need ss iproute2
need python3 python3
need bc bc
[ -x /usr/bin/time ] || need /usr/bin/time time

echo "== build =="
(cd "$ROOT" && cargo build --release --quiet)
ND="$ROOT/target/release/netdiag"

ulimit -n 20000 2>/dev/null || ulimit -n "$(ulimit -Hn)"
echo "ulimit -n = $(ulimit -n), cores = $(nproc)"
HAVE_RS=0
if command -v rustscan >/dev/null 2>&1; then HAVE_RS=1; else
    echo "rustscan: not installed; skipped (cargo install rustscan takes over 2 minutes here; the anchor README has its figures)"
fi

median_of() { sort -n | awk '{a[NR]=$1} END{ if (NR==0) {print 0; exit} print (NR%2)?a[(NR+1)/2]:(a[NR/2]+a[NR/2+1])/2 }'; }
# hyperfine medians in seconds from an export, one "command<TAB>median" per line
medians() { python3 -c 'import json,sys; [print(r["command"]+"\t"+str(r["median"])+"\t"+"%.3f-%.3f s, cpu %.2f s" % (r["min"], r["max"], r["user"]+r["system"])) for r in json.load(open(sys.argv[1]))["results"]]' "$1"; }
peak_rss_kib() { # peak_rss_kib NS cmd... -> median peak RSS (KiB) over RSS_RUNS
    local ns="$1"; shift
    for _ in $(seq 1 "$RSS_RUNS"); do
        /usr/bin/time -v -o "$TMP/time" ip netns exec "$ns" "$@" >/dev/null 2>&1 || true
        awk -F': ' '/Maximum resident set size/{print $2}' "$TMP/time"
    done | median_of
}

echo "== 1. full scan, 127.0.0.1 ports 1-65535, netns $NS_FULL =="
ip netns add "$NS_FULL"
ip netns exec "$NS_FULL" ip link set lo up
echo hello > "$TMP/index.html"
for p in 8000 22222 61234; do
    ip netns exec "$NS_FULL" python3 -m http.server --bind 127.0.0.1 --directory "$TMP" "$p" >/dev/null 2>&1 &
    OWN_PIDS+=("$!")
done
for _ in $(seq 1 100); do
    [ "$(ip netns exec "$NS_FULL" ss -tlnH | wc -l)" -ge 3 ] && break
    sleep 0.1
done
EXPECTED=$(ip netns exec "$NS_FULL" ss -tlnH | awk '{print $4}' | sed 's/.*://' | sort -n | paste -sd, -)
echo "ss -tln in $NS_FULL: $EXPECTED"

ND_FULL="$ND --json probe 127.0.0.1 -p 1-65535"
NMAP_FULL="nmap -sT -p- -T5 -n --min-rate 50000 127.0.0.1"
RS_FULL="rustscan -a 127.0.0.1 -r 1-65535 -b 5000 -t 500 --tries 1 -g --accessible"

found_nd()   { ip netns exec "$NS_FULL" $ND_FULL | python3 -c 'import json,sys; print(",".join(str(r["port"]) for r in json.load(sys.stdin)["results"] if r["state"]=="open"))'; }
found_nmap() { ip netns exec "$NS_FULL" $NMAP_FULL -oG - 2>/dev/null | grep -o '[0-9]*/open' | cut -d/ -f1 | sort -n | paste -sd, -; }
found_rs()   { ip netns exec "$NS_FULL" $RS_FULL 2>/dev/null | grep -o '\[[0-9,]*\]' | tr -d '[]' | tr ',' '\n' | sort -n | paste -sd, -; }
check() { if [ "$2" = "$EXPECTED" ]; then echo "  $1 try $3: [$2] exact"; else echo "  $1 try $3: [$2] MISMATCH (want [$EXPECTED])"; fi; }
echo "correctness ($TRIES tries each):"
for i in $(seq 1 "$TRIES"); do check netdiag "$(found_nd)" "$i"; done
for i in $(seq 1 "$TRIES"); do check nmap "$(found_nmap)" "$i"; done
if [ "$HAVE_RS" = 1 ]; then for i in $(seq 1 "$TRIES"); do check rustscan "$(found_rs)" "$i"; done; fi

CMDS=("$ND_FULL" "$NMAP_FULL")
[ "$HAVE_RS" = 1 ] && CMDS+=("$RS_FULL")
ip netns exec "$NS_FULL" hyperfine --style basic -N -i --warmup 1 --runs "$RUNS" \
    --export-json "$TMP/full.json" "${CMDS[@]}" >/dev/null 2>&1
echo "wall time (hyperfine -N, $RUNS runs: median, min-max, mean CPU user+sys) and peak RSS (median of $RSS_RUNS):"
echo "  load average before: $(cut -d' ' -f1-3 /proc/loadavg) (the machine is shared; compare ratios from the same run)"
ND_MED=$(medians "$TMP/full.json" | awk -F'\t' 'NR==1{print $2}')
while IFS=$'\t' read -r cmd med extra; do
    # shellcheck disable=SC2086
    rss=$(peak_rss_kib "$NS_FULL" $cmd)
    printf '  %-75s median %7.3f s (%s)  ratio to netdiag %5.2fx  peak RSS %6.1f MB\n' \
        "$cmd" "$med" "$extra" "$(echo "$med / $ND_MED" | bc -l)" "$(echo "$rss / 1024" | bc -l)"
done < <(medians "$TMP/full.json")
ip netns exec "$NS_FULL" "$ND" probe 127.0.0.1 -p 1-65535 | tail -n 2 | sed 's/^/  netdiag says: /'

echo "== 2. 1,000 dropped ports (SYNs dropped by nftables), --timeout 0.5, netns $NS_DROP =="
ip netns add "$NS_DROP"
ip netns exec "$NS_DROP" ip link set lo up
ip netns exec "$NS_DROP" nft add table inet f
ip netns exec "$NS_DROP" nft add chain inet f input '{ type filter hook input priority 0; policy accept; }'
ip netns exec "$NS_DROP" nft add rule inet f input tcp dport 20000-20999 drop
TO="--max-retries 0 --min-rtt-timeout 500ms --max-rtt-timeout 500ms --initial-rtt-timeout 500ms"
ND_DROP="$ND --json probe 127.0.0.1 -p 20000-20999 --timeout 0.5"
NMAP_DROP="nmap -sT -p 20000-20999 -T5 -n --min-rate 50000 $TO 127.0.0.1"
echo "  netdiag: $(ip netns exec "$NS_DROP" $ND_DROP | python3 -c 'import json,sys; print(json.load(sys.stdin)["summary"][0]["counts"])')"
ip netns exec "$NS_DROP" hyperfine --style basic -N -i --warmup 1 --runs "$RUNS" \
    --export-json "$TMP/drop.json" "$ND_DROP" "$NMAP_DROP" >/dev/null 2>&1
ND_MED=$(medians "$TMP/drop.json" | awk -F'\t' 'NR==1{print $2}')
while IFS=$'\t' read -r cmd med extra; do
    # shellcheck disable=SC2086
    rss=$(peak_rss_kib "$NS_DROP" $cmd)
    printf '  %-75s median %7.3f s (%s) = %.2f x timeout  ratio to netdiag %5.2fx  peak RSS %5.1f MB\n' \
        "$cmd" "$med" "$extra" "$(echo "$med / 0.5" | bc -l)" "$(echo "$med / $ND_MED" | bc -l)" "$(echo "$rss / 1024" | bc -l)"
done < <(medians "$TMP/drop.json")

echo "== 3. firewalled host over a veth pair: ports 1-1000, all dropped but 80 (http.server), default flags =="
ip netns add "$NS_FWA"
ip netns add "$NS_FWB"
ip link add "vfa$$" netns "$NS_FWA" type veth peer name "vfb$$" netns "$NS_FWB"
ip -n "$NS_FWA" addr add 10.231.0.1/24 dev "vfa$$"
ip -n "$NS_FWB" addr add 10.231.0.2/24 dev "vfb$$"
for ns in "$NS_FWA" "$NS_FWB"; do ip -n "$ns" link set lo up; done
ip -n "$NS_FWA" link set "vfa$$" up
ip -n "$NS_FWB" link set "vfb$$" up
ip netns exec "$NS_FWB" nft add table inet f
ip netns exec "$NS_FWB" nft add chain inet f input '{ type filter hook input priority 0; policy accept; }'
ip netns exec "$NS_FWB" nft add rule inet f input tcp dport != 80 tcp dport 1-1000 drop
ip netns exec "$NS_FWB" python3 -m http.server --bind 10.231.0.2 --directory "$TMP" 80 >/dev/null 2>&1 &
OWN_PIDS+=("$!")
for _ in $(seq 1 100); do
    ip netns exec "$NS_FWB" ss -tlnH | grep -q '10.231.0.2:80 ' && break
    sleep 0.1
done
ND_FW="$ND --json probe 10.231.0.2 -p 1-1000"
NMAP_FW="nmap -sT -T5 -n -p 1-1000 10.231.0.2"
fw_nd()   { ip netns exec "$NS_FWA" $ND_FW | python3 -c 'import json,sys; print(",".join(str(r["port"]) for r in json.load(sys.stdin)["results"] if r["state"]=="open"))'; }
fw_nmap() { ip netns exec "$NS_FWA" $NMAP_FW -oG - 2>/dev/null | grep -o '[0-9]*/open' | cut -d/ -f1 | sort -n | paste -sd, -; }
EXPECTED=80
echo "correctness ($TRIES tries each):"
for i in $(seq 1 "$TRIES"); do check netdiag "$(fw_nd)" "$i"; done
for i in $(seq 1 "$TRIES"); do check nmap "$(fw_nmap)" "$i"; done
echo "  netdiag: $(ip netns exec "$NS_FWA" $ND_FW | python3 -c 'import json,sys; print(json.load(sys.stdin)["summary"][0]["counts"])')"
ip netns exec "$NS_FWA" hyperfine --style basic -N -i --warmup 1 --runs "$RUNS" \
    --export-json "$TMP/fw.json" "$ND_FW" "$NMAP_FW" >/dev/null 2>&1
ND_MED=$(medians "$TMP/fw.json" | awk -F'\t' 'NR==1{print $2}')
echo "wall time (hyperfine -N, $RUNS runs; load average $(cut -d' ' -f1-3 /proc/loadavg)):"
while IFS=$'\t' read -r cmd med extra; do
    printf '  %-55s median %7.3f s (%s)  ratio to netdiag %5.2fx\n' \
        "$cmd" "$med" "$extra" "$(echo "$med / $ND_MED" | bc -l)"
done < <(medians "$TMP/fw.json")
