#!/usr/bin/env bash
# bench/trace.sh - netdiag trace against traceroute and mtr, side by side in one run on the same chain of
# namespaces this script builds: client - r1 - r2 - r3 - server (veth links, forwarding on, ICMP rate
# limits off in the routers and the server).
#
#   1. One round with one silent hop (r2 sends no time exceeded):
#        netdiag trace -n -c 1 -w 1   vs   traceroute -n -q 1 (its default wait, and -w 1)   vs   mtr -r -c 1 -n
#      Goal: the same hops as both anchors; netdiag's round in at most 1.2 x the per-probe timeout (1 s).
#   2. A 10-round report at --interval 0.1 (every hop answers):
#        netdiag trace -n -c 10 -i 0.1   vs   mtr -r -c 10 -i 0.1 -n
#   3. Loss at one hop: r2 drops 30 % of its time exceeded. 200 rounds at -i 0.05, ICMP, REPS runs of each
#      tool interleaved: hop 2's loss per run and the medians. Goal: within 5 points of mtr's.
#
# Network rule: every probe goes to addresses inside the namespaces made here (10.77.0.0/16, fd77::/16).
# Needs root. Env: RUNS (default 10, mtr runs default 5), REPS (default 5).
source "$(dirname "$0")/common.sh"
RUNS="${RUNS:-10}"
MTR_RUNS="${MTR_RUNS:-5}"
REPS="${REPS:-5}"
need traceroute traceroute
need mtr mtr-tiny
need nft nftables
need python3 python3
if [ "$(id -u)" != 0 ]; then
    echo "bench/trace.sh: run as root (namespaces, raw sockets, mtr -i 0.1)" >&2
    exit 2
fi
build_release

P="ndtb$$"
for n in c r1 r2 r3 s; do
    make_netns "$P$n"
    ip netns exec "$P$n" sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0
done
link() { # link K LEFT RIGHT: 10.77.K.1 (left) - 10.77.K.2 (right)
    ip link add "$P$1a" netns "$P$2" type veth peer name "$P$1b" netns "$P$3"
    ip -n "$P$2" addr add "10.77.$1.1/24" dev "$P$1a"
    ip -n "$P$2" -6 addr add "fd77:$1::1/64" dev "$P$1a" nodad
    ip -n "$P$3" addr add "10.77.$1.2/24" dev "$P$1b"
    ip -n "$P$3" -6 addr add "fd77:$1::2/64" dev "$P$1b" nodad
    ip -n "$P$2" link set "$P$1a" up
    ip -n "$P$3" link set "$P$1b" up
}
link 1 c r1; link 2 r1 r2; link 3 r2 r3; link 4 r3 s
ip -n "${P}c" route add default via 10.77.1.2
i=1
for r in r1 r2 r3; do
    n=$((i + 1))
    ip netns exec "$P$r" sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1 \
        net.ipv4.icmp_ratelimit=0 net.ipv6.icmp.ratelimit=0
    ip -n "$P$r" route add default via "10.77.$n.2"
    for k in $(seq 1 $((i - 1))); do ip -n "$P$r" route add "10.77.$k.0/24" via "10.77.$i.1"; done
    i=$n
done
ip -n "${P}s" route add default via 10.77.4.1
ip netns exec "${P}s" sysctl -qw net.ipv4.icmp_ratelimit=0 net.ipv6.icmp.ratelimit=0
DST=10.77.4.2
C="ip netns exec ${P}c"
# Every link answers once before we measure (fresh veth pairs resolve their neighbours on first use).
$C "$ND" ping -c 1 -W 3 "$DST" >/dev/null
nft_r2() { echo "table inet t { chain output { type filter hook output priority 0; policy accept; $1 ; } ; }" |
    ip netns exec "${P}r2" nft -f -; }

TMP=$(mktemp -d)
trap '_cleanup; rm -rf "$TMP"' EXIT

# Hop lists: "1:10.77.1.2 2:* 3:..." from each tool's output.
nd_hops() { python3 -c '
import json, sys
r = json.load(sys.stdin)["results"][0]
print(" ".join("%d:%s" % (h["hop"], h["responders"][0]["address"] if h["responders"] else "*") for h in r["hops"]))'; }
tr_hops() { awk 'NR > 1 { printf "%s%d:%s", (NR > 2 ? " " : ""), $1, ($2 == "*" ? "*" : $2) } END { print "" }'; }
mtr_hops() { awk '/\|--/ { h = $2; sub(/\.\|--/, "", $1); printf "%s%d:%s", (n++ ? " " : ""), $1, (h == "???" ? "*" : h) } END { print "" }'; }

echo "== 1. one round, one silent hop (r2 sends no time exceeded) =="
nft_r2 "icmp type time-exceeded drop ; icmpv6 type time-exceeded drop"
echo "hops: netdiag     $($C "$ND" --json trace -n -c 1 -w 1 "$DST" 2>/dev/null | nd_hops)"
echo "hops: traceroute  $($C traceroute -n -q 1 "$DST" | tr_hops)"
echo "hops: mtr         $($C mtr -r -c 1 -n "$DST" | mtr_hops)"
J1="$RESULTS/trace_silent.json"
hyperfine --style basic -N --warmup 1 --runs "$RUNS" --export-json "$J1" \
    -n "netdiag trace -n -c 1 -w 1" "$C $ND trace -n -c 1 -w 1 $DST" \
    -n "traceroute -n -q 1" "$C traceroute -n -q 1 $DST" \
    -n "traceroute -n -q 1 -w 1" "$C traceroute -n -q 1 -w 1 $DST" >/dev/null
J1m="$RESULTS/trace_silent_mtr.json"
hyperfine --style basic -N --runs "$MTR_RUNS" --export-json "$J1m" \
    -n "mtr -r -c 1 -n" "$C mtr -r -c 1 -n $DST" >/dev/null
nd=$(median_ms "$J1" 0); tr=$(median_ms "$J1" 1); trw=$(median_ms "$J1" 2); mt=$(median_ms "$J1m" 0)
echo "median ms: netdiag $nd | traceroute -q 1 $tr | traceroute -q 1 -w 1 $trw | mtr -r -c 1 $mt"
echo "netdiag / per-probe timeout (1000 ms): $(ratio "$nd" 1000) (goal <= 1.20)"
echo "ratios: netdiag / traceroute $(ratio "$nd" "$tr") | netdiag / traceroute -w 1 $(ratio "$nd" "$trw") | netdiag / mtr $(ratio "$nd" "$mt")"
ip netns exec "${P}r2" nft flush ruleset

echo
echo "== 2. ten rounds at --interval 0.1, every hop answering =="
echo "hops: netdiag     $($C "$ND" --json trace -n -c 10 -i 0.1 "$DST" 2>/dev/null | nd_hops)"
echo "hops: mtr         $($C mtr -r -c 10 -i 0.1 -n "$DST" | mtr_hops)"
J2="$RESULTS/trace_rounds.json"
hyperfine --style basic -N --runs "$MTR_RUNS" --export-json "$J2" \
    -n "netdiag trace -n -c 10 -i 0.1" "$C $ND trace -n -c 10 -i 0.1 $DST" \
    -n "mtr -r -c 10 -i 0.1 -n" "$C mtr -r -c 10 -i 0.1 -n $DST" >/dev/null
nd=$(median_ms "$J2" 0); mt=$(median_ms "$J2" 1)
echo "median ms: netdiag $nd | mtr $mt | ratio netdiag / mtr $(ratio "$nd" "$mt")"

echo
echo "== 3. 30 % loss at hop 2 (r2 drops 30 % of its time exceeded), 200 rounds at -i 0.05, ICMP, $REPS runs each =="
nft_r2 "icmp type time-exceeded numgen random mod 100 < 30 drop"
: >"$TMP/loss"
for rep in $(seq 1 "$REPS"); do
    n=$($C "$ND" --json trace -n -c 200 -i 0.05 "$DST" 2>/dev/null |
        python3 -c 'import json,sys; r=json.load(sys.stdin)["results"][0]; print(" ".join(str(h["loss_percent"]) for h in r["hops"]))')
    m=$($C mtr -j -n -c 200 -i 0.05 "$DST" |
        python3 -c 'import json,sys; print(" ".join(str(h["Loss%"]) for h in json.load(sys.stdin)["report"]["hubs"]))')
    echo "run $rep: per-hop loss %: netdiag [$n] | mtr [$m]"
    echo "$n|$m" >>"$TMP/loss"
done
python3 - "$TMP/loss" <<'EOF'
import statistics, sys
nd, mt = [], []
for line in open(sys.argv[1]):
    a, b = line.strip().split("|")
    nd.append(float(a.split()[1])); mt.append(float(b.split()[1]))
mn, mm = statistics.median(nd), statistics.median(mt)
print(f"hop 2 loss, median of {len(nd)} runs: netdiag {mn:.1f} % | mtr {mm:.1f} % | difference {mn - mm:+.1f} points (goal within 5)")
EOF
