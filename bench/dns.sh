#!/usr/bin/env bash
# bench/dns.sh - direct DNS, whole process: `netdiag lookup NAME @SERVER` against `dig @SERVER NAME` and
# `kdig @SERVER NAME`, side by side in one hyperfine run, against knot serving a zone of our own inside a
# network namespace of our own. Then `--all-servers` with three nameservers, one of them dead (its packets
# dropped by nftables), against the three dig runs it replaces, with a 1 s per-server timeout.
# Goals (issue 15): a query at most 0.5 x dig's time; --all-servers bounded by one timeout, not the sum.
# Env: RUNS (default 200), ALL_RUNS (default 10).
source "$(dirname "$0")/common.sh"
RUNS="${RUNS:-200}"
ALL_RUNS="${ALL_RUNS:-10}"
need knotd knot
need dig bind9-dnsutils
need kdig knot-dnsutils
need nft nftables
build_release
NS="nddns$$"
make_netns "$NS"
DIR="$(mktemp -d)"
ETC="/etc/netns/$NS"
trap '_cleanup; rm -rf "$DIR" "$ETC"' EXIT
for a in 10.53.0.1 10.53.0.2 10.53.0.5; do ip -n "$NS" addr add "$a/32" dev lo; done
echo 'table inet t { chain input { type filter hook input priority 0; policy accept; ip daddr 10.53.0.5 udp dport 53 drop ; } ; }' \
    | ip netns exec "$NS" nft -f -
cat >"$DIR/zone.test.zone" <<'ZONE'
$ORIGIN zone.test.
$TTL 300
@   IN SOA ns1.zone.test. hostmaster.zone.test. 1 3600 600 86400 60
@   IN NS  ns1.zone.test.
ns1 IN A   10.53.0.1
www IN A   10.53.0.80
ZONE
cat >"$DIR/knot.conf" <<CONF
server:
    rundir: "$DIR"
    listen: [ 10.53.0.1@53, 10.53.0.2@53 ]
log:
  - target: stderr
    any: warning
database:
    storage: "$DIR"
zone:
  - domain: zone.test.
    file: "$DIR/zone.test.zone"
    zonefile-load: whole
    journal-content: none
CONF
ip netns exec "$NS" knotd -c "$DIR/knot.conf" >"$DIR/knot.log" 2>&1 &
own_pid $!
for _ in $(seq 1 100); do
    ip netns exec "$NS" dig +short +time=1 +tries=1 @10.53.0.1 www.zone.test 2>/dev/null | grep -q 10.53.0.80 && break
    sleep 0.1
done
mkdir -p "$ETC"
printf 'nameserver 10.53.0.1\nnameserver 10.53.0.2\nnameserver 10.53.0.5\noptions timeout:1 attempts:1\n' >"$ETC/resolv.conf"

J="$RESULTS/dns.json"
ip netns exec "$NS" hyperfine --style basic -N --warmup 10 --runs "$RUNS" --export-json "$J" \
    "dig @10.53.0.1 www.zone.test" \
    "kdig @10.53.0.1 www.zone.test" \
    "$ND lookup www.zone.test @10.53.0.1" \
    "$ND lookup www.zone.test @10.53.0.1 --short" >/dev/null
d=$(median_ms "$J" 0); k=$(median_ms "$J" 1); n=$(median_ms "$J" 2); s=$(median_ms "$J" 3)
echo "one query over UDP, median ms (runs=$RUNS): dig $d | kdig $k | netdiag lookup $n | netdiag lookup --short $s"
echo "ratio netdiag / dig: $(ratio "$n" "$d") (goal <= 0.5) | netdiag / kdig: $(ratio "$n" "$k")"

JT="$RESULTS/dns_tcp.json"
ip netns exec "$NS" hyperfine --style basic -N --warmup 10 --runs "$RUNS" --export-json "$JT" \
    "dig +tcp @10.53.0.1 www.zone.test" \
    "kdig +tcp @10.53.0.1 www.zone.test" \
    "$ND lookup www.zone.test @10.53.0.1 --tcp" >/dev/null
d=$(median_ms "$JT" 0); k=$(median_ms "$JT" 1); n=$(median_ms "$JT" 2)
echo "one query over TCP, median ms: dig $d | kdig $k | netdiag lookup --tcp $n | ratio netdiag / dig $(ratio "$n" "$d")"

JA="$RESULTS/dns_all.json"
DIGS="dig +time=1 +tries=1 @10.53.0.1 www.zone.test >/dev/null; dig +time=1 +tries=1 @10.53.0.2 www.zone.test >/dev/null; dig +time=1 +tries=1 @10.53.0.5 www.zone.test >/dev/null"
ip netns exec "$NS" hyperfine --style basic -N -i --warmup 1 --runs "$ALL_RUNS" --export-json "$JA" \
    "sh -c '$DIGS'" \
    "$ND lookup www.zone.test --all-servers --timeout 1" >/dev/null
d=$(median_ms "$JA" 0); n=$(median_ms "$JA" 1)
echo "three nameservers, one dead, 1 s per-server timeout, median ms (runs=$ALL_RUNS): three dig runs $d | netdiag --all-servers $n"
echo "ratio netdiag --all-servers / three digs: $(ratio "$n" "$d") (bounded by one timeout: netdiag $n ms for a 1000 ms timeout)"
echo "peak RSS KiB: netdiag lookup $(peak_rss_kb ip netns exec "$NS" "$ND" lookup www.zone.test @10.53.0.1) | dig $(peak_rss_kb ip netns exec "$NS" dig @10.53.0.1 www.zone.test) | kdig $(peak_rss_kb ip netns exec "$NS" kdig @10.53.0.1 www.zone.test)"
