#!/usr/bin/env bash
# bench/startup.sh - whole-process `netdiag port 80/tcp` and `netdiag lookup localhost` against
# `getent services 80/tcp` and `getent ahosts localhost`, side by side in one hyperfine run, inside a network
# namespace of our own (lo only), so a lookup could never leave the machine. Prints medians and ratios.
# Env: RUNS (default 300).
source "$(dirname "$0")/common.sh"
RUNS="${RUNS:-300}"
build_release
NS="ndstart$$"
make_netns "$NS"
J="$RESULTS/startup.json"
ip netns exec "$NS" hyperfine --style basic -N --warmup 20 --runs "$RUNS" --export-json "$J" \
    "/usr/bin/true" \
    "getent services 80/tcp" \
    "$ND port 80/tcp" \
    "getent ahosts localhost" \
    "$ND lookup localhost" \
    "$ND port --search postgres" >/dev/null
t=$(median_ms "$J" 0); gs=$(median_ms "$J" 1); np=$(median_ms "$J" 2)
ga=$(median_ms "$J" 3); nl=$(median_ms "$J" 4); ns=$(median_ms "$J" 5)
echo "median ms (runs=$RUNS): true $t | getent services $gs | netdiag port $np | getent ahosts $ga | netdiag lookup $nl | netdiag port --search $ns"
echo "ratio netdiag port 80/tcp / getent services 80/tcp: $(ratio "$np" "$gs")"
echo "ratio netdiag lookup localhost / getent ahosts localhost: $(ratio "$nl" "$ga")"
echo "start-up over /usr/bin/true: port $(python3 -c "print('%.3f' % ($np-$t))") ms, lookup $(python3 -c "print('%.3f' % ($nl-$t))") ms"
echo "peak RSS KiB: netdiag port $(peak_rss_kb "$ND" port 80/tcp), getent services $(peak_rss_kb getent services 80/tcp)"
