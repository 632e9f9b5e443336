#!/usr/bin/env bash
# bench/serve.sh - `netdiag serve` against socat (TCP4-LISTEN,fork PIPE and UDP4-RECVFROM,fork PIPE), the echo
# server people reach for, under the same load in one hyperfine run, inside a network namespace of our own:
#   tcp      50 clients x ROUNDS round trips of 64 bytes, one connection each
#   connect  50 clients x CONNS fresh connections with one 64-byte round trip each
#   udp      50 clients x UROUNDS datagrams of 64 bytes, each waiting for its echo
# The load generator (bench/echo_load.py) checks every echoed byte; a run with a wrong byte fails.
# Peak RSS of each server is its VmHWM (what /usr/bin/time -v reports as maximum resident set size) read
# from /proc after the load; socat forks one process per connection/datagram, so its figure is per process.
# Env: RUNS (default 10), ROUNDS (200), CONNS (10), UROUNDS (50).
source "$(dirname "$0")/common.sh"
RUNS="${RUNS:-10}"; ROUNDS="${ROUNDS:-200}"; CONNS="${CONNS:-10}"; UROUNDS="${UROUNDS:-50}"
need socat socat
need python3 python3
PY="$(python3 -c 'import sys; print(sys.executable)')"
build_release
NS="ndserve$$"
make_netns "$NS"
LOAD="$BENCH_DIR/echo_load.py"
ND_PORT=17788; SO_PORT=17789

ip netns exec "$NS" "$ND" serve --bind 127.0.0.1 --tcp $ND_PORT --udp $ND_PORT --quiet --max-conns 1000 >/dev/null &
ND_PID=$!; own_pid $ND_PID
ip netns exec "$NS" socat TCP4-LISTEN:$SO_PORT,fork,reuseaddr,backlog=1024 PIPE &
SO_TCP=$!; own_pid $SO_TCP
ip netns exec "$NS" socat UDP4-RECVFROM:$SO_PORT,fork,reuseaddr PIPE &
SO_UDP=$!; own_pid $SO_UDP
for _ in $(seq 1 100); do
    n=$(ip netns exec "$NS" ss -ltnH "( sport = :$ND_PORT or sport = :$SO_PORT )" | wc -l)
    [ "$n" -ge 2 ] && break
    sleep 0.1
done

J="$RESULTS/serve.json"
ip netns exec "$NS" hyperfine --style basic -N --warmup 1 --runs "$RUNS" --export-json "$J" \
    "$PY $LOAD 127.0.0.1 $ND_PORT tcp 50 $ROUNDS 64" \
    "$PY $LOAD 127.0.0.1 $SO_PORT tcp 50 $ROUNDS 64" \
    "$PY $LOAD 127.0.0.1 $ND_PORT connect 50 $CONNS 64" \
    "$PY $LOAD 127.0.0.1 $SO_PORT connect 50 $CONNS 64" \
    "$PY $LOAD 127.0.0.1 $ND_PORT udp 50 $UROUNDS 64" \
    "$PY $LOAD 127.0.0.1 $SO_PORT udp 50 $UROUNDS 64" >/dev/null

hwm() { awk '/VmHWM/ {print $2}' "/proc/$1/status" 2>/dev/null || echo "?"; }
nt=$(median_ms "$J" 0); st=$(median_ms "$J" 1)
nc=$(median_ms "$J" 2); sc=$(median_ms "$J" 3)
nu=$(median_ms "$J" 4); su=$(median_ms "$J" 5)
echo "median ms (runs=$RUNS), netdiag serve vs socat:"
echo "  tcp     50 clients x $ROUNDS round trips:   netdiag $nt | socat $st | ratio netdiag/socat $(ratio "$nt" "$st")"
echo "  connect 50 clients x $CONNS connections:    netdiag $nc | socat $sc | ratio netdiag/socat $(ratio "$nc" "$sc")"
echo "  udp     50 clients x $UROUNDS datagrams:     netdiag $nu | socat $su | ratio netdiag/socat $(ratio "$nu" "$su")"
echo "peak RSS KiB (VmHWM): netdiag serve (one process, all clients) $(hwm $ND_PID) | socat tcp parent $(hwm $SO_TCP) | socat udp parent $(hwm $SO_UDP) (socat forks one process per client)"
echo "netdiag serve threads now: $(awk '/Threads/ {print $2}' /proc/$ND_PID/status)"
