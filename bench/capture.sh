#!/usr/bin/env bash
# bench/capture.sh - netdiag capture -w against tcpdump -w on the same traffic, side by side in the same run.
#
# Two namespaces of our own joined by a veth pair (10.77.0.1 -> 10.77.0.2, addresses that exist only there).
# A sender of our own (bench/udp_blast.c, sendmmsg) pushes COUNT (default 1,000,000) small UDP datagrams from
# the first namespace as fast as it can; 1 in 100 goes to port 9001, the rest to 9000; the second namespace
# drops them all (nftables) so no ICMP comes back. The capture runs on the receiving veth end, the tools in
# turn, alternating which goes first, RUNS (default 5) times:
#   1. everything:          netdiag capture -i IF -w FILE       vs  tcpdump -i IF -w FILE
#   2. 1 % (udp dst 9001):  the same with the filter 'udp dst port 9001'
#   3. everything through a small ring: both with -B 512 (512 KiB, two blocks), where drops show first
# Both use a 2 MiB ring (tcpdump's default; netdiag's default too) unless -B is given, and snapshot length
# 262144.
# Reported: packets captured, dropped by the kernel, CPU seconds of the capture process (user + system), and
# CPU per received packet; medians over the runs and netdiag/tcpdump ratios.
#
# Network rule: traffic only inside the two namespaces this script creates. Every loop is bounded.
source "$(dirname "$0")/common.sh"
RUNS="${RUNS:-5}"   # MODES (default "all filtered small") picks the modes
COUNT="${COUNT:-1000000}"
need tcpdump tcpdump
need nft nftables
need cc gcc
[ "$(id -u)" = 0 ] || { echo "bench/capture.sh: run as root (namespaces and packet capture)" >&2; exit 2; }
build_release

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"; _cleanup' EXIT
cc -O2 -o "$TMP/udp_blast" "$BENCH_DIR/udp_blast.c"

A=ndcapa$$; B=ndcapb$$
make_netns "$A"; make_netns "$B"
ip link add vcapa$$ netns "$A" type veth peer name vcapb$$ netns "$B"
ip -n "$A" addr add 10.77.0.1/24 dev vcapa$$; ip -n "$B" addr add 10.77.0.2/24 dev vcapb$$
ip -n "$A" link set vcapa$$ up; ip -n "$B" link set vcapb$$ up
echo 'table inet t { chain input { type filter hook input priority 0; policy accept; udp dport 9000-9001 drop ; } ; }' \
    | ip netns exec "$B" nft -f -
# Warm the neighbour cache so the first datagrams are not held for ARP.
ip netns exec "$A" ping -c 1 -W 1 10.77.0.2 >/dev/null

SENDER=("$TMP/udp_blast" 10.77.0.2 9000 "$COUNT" 100)
IF=vcapb$$
run() { # run TOOL FILTER...
    local tool=$1; shift
    local cmd
    if [ "$tool" = netdiag ]; then cmd=("$ND" capture -i "$IF" -w "$TMP/nd.pcap" "$@");
    else cmd=(tcpdump -i "$IF" -n -w "$TMP/td.pcap" "$@"); fi
    python3 "$BENCH_DIR/capture_run.py" "$B" "$A" "${SENDER[@]}" -- "${cmd[@]}"
}

OUT="$RESULTS/capture.jsonl"
: > "$OUT"
for i in $(seq 1 "$RUNS"); do
    for mode in ${MODES:-all filtered small}; do
        f=(); [ "$mode" = filtered ] && f=(udp dst port 9001)
        [ "$mode" = small ] && f=(-B 512)
        if [ $((i % 2)) = 1 ]; then order="netdiag tcpdump"; else order="tcpdump netdiag"; fi
        for tool in $order; do
            line=$(run "$tool" "${f[@]}")
            echo "{\"run\": $i, \"mode\": \"$mode\", \"tool\": \"$tool\", \"r\": $line}" >> "$OUT"
            echo "run $i $mode $tool: $line"
        done
    done
done

python3 - "$OUT" "$COUNT" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
count = int(sys.argv[2])
def sent_rate(mode):
    import re
    v = [float(re.search(r"\(([0-9]+)/s\)", r["r"]["sender"]).group(1)) for r in rows if r["mode"] == mode]
    return statistics.median(v)
def med(mode, tool, key):
    v = [r["r"][key] for r in rows if r["mode"] == mode and r["tool"] == tool and r["r"][key] is not None]
    return statistics.median(v) if v else float("nan")
def per_pkt(mode, tool):
    v = [r["r"]["cpu_s"] / max(1, r["r"]["received"]) * 1e6 for r in rows if r["mode"] == mode and r["tool"] == tool]
    return statistics.median(v)
print()
print(f"{count:,} datagrams per run, medians of {len({r['run'] for r in rows})} runs")
print(f"{'':24}{'captured':>12}{'dropped':>12}{'CPU s':>10}{'CPU us/pkt':>12}")
for mode, title in [("all", "everything"), ("filtered", "1% (udp dst port 9001)"), ("small", "everything, 512 KiB ring (-B 512)")]:
    if not any(r["mode"] == mode for r in rows):
        continue
    print(f"{title} (sender: median {sent_rate(mode):,.0f} datagrams/s)")
    for tool in ["netdiag", "tcpdump"]:
        print(f"  {tool:22}{med(mode, tool, 'captured'):>12,.0f}{med(mode, tool, 'dropped'):>12,.0f}{med(mode, tool, 'cpu_s'):>10.3f}{per_pkt(mode, tool):>12.3f}")
    n, t = med(mode, "netdiag", "cpu_s"), med(mode, "tcpdump", "cpu_s")
    print(f"  netdiag/tcpdump: CPU {n/t:.2f}, CPU per received packet {per_pkt(mode,'netdiag')/per_pkt(mode,'tcpdump'):.2f}, "
          f"drops {med(mode,'netdiag','dropped'):,.0f} vs {med(mode,'tcpdump','dropped'):,.0f}")
PY
