# bench/common.sh - helpers for netdiag's benchmark scripts. Source it; do not execute it.
#
# Network rule: every script talks only to loopback or to addresses inside network namespaces it creates
# itself; cleanup deletes only what the script made. Every loop is bounded.
set -euo pipefail

BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$BENCH_DIR/.." && pwd)"
RESULTS="${RESULTS:-$BENCH_DIR/results}"
mkdir -p "$RESULTS"
ND="$REPO/target/release/netdiag"

_OWN_NS=()
_OWN_PIDS=()
_cleanup() {
    local p n
    for p in "${_OWN_PIDS[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done
    for n in "${_OWN_NS[@]:-}"; do [ -n "$n" ] && ip netns delete "$n" 2>/dev/null || true; done
}
trap _cleanup EXIT

# need CMD PACKAGE: install PACKAGE with apt-get when CMD is missing.
need() {
    command -v "$1" >/dev/null 2>&1 && return 0
    if [ -z "${_APT_UPDATED:-}" ]; then apt-get update -qq; _APT_UPDATED=1; fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$2" >/dev/null
}

# make_netns NAME: a namespace of our own with loopback up, deleted on exit.
make_netns() {
    ip netns delete "$1" 2>/dev/null || true
    ip netns add "$1"
    _OWN_NS+=("$1")
    ip -n "$1" link set lo up
}

own_pid() { _OWN_PIDS+=("$1"); }

build_release() {
    (cd "$REPO" && cargo build --release --quiet)
}

# peak_rss_kb CMD...: the command's peak resident set size in KiB (GNU time).
peak_rss_kb() {
    /usr/bin/time -v "$@" 2>&1 >/dev/null | awk -F: '/Maximum resident set size/ {gsub(/ /, "", $2); print $2}'
}

# median_ms JSON INDEX: hyperfine's median of command INDEX in milliseconds.
median_ms() {
    python3 -c "import json,sys; r=json.load(open(sys.argv[1]))['results'][int(sys.argv[2])]; print('%.3f' % (r['median']*1000))" "$1" "$2"
}

# ratio A B: A / B to two decimals.
ratio() { python3 -c "import sys; print('%.2f' % (float(sys.argv[1]) / float(sys.argv[2])))" "$1" "$2"; }

need hyperfine hyperfine
need /usr/bin/time time
