#!/usr/bin/env bash
# fuzz/run.sh [SECONDS]: runs every fuzz target for a bounded time each (default 60 s) and prints executions
# and crashes per target. Needs cargo-fuzz (`cargo install cargo-fuzz`); on a stable toolchain it runs with
# RUSTC_BOOTSTRAP=1 and no sanitizer (libFuzzer coverage still works). Crashes land in fuzz/artifacts/TARGET/;
# copy each into the regression test of its parser and fix it.
set -euo pipefail
cd "$(dirname "$0")"
SECS="${1:-60}"
command -v cargo-fuzz >/dev/null 2>&1 || cargo install cargo-fuzz --locked
export RUSTC_BOOTSTRAP=1
for t in $(cargo fuzz list); do
    mkdir -p "corpus/$t"
    log="$(mktemp)"
    if cargo fuzz run --sanitizer none "$t" "corpus/$t" -- -max_total_time="$SECS" -rss_limit_mb=512 -max_len=4096 >"$log" 2>&1; then
        status=ok
    else
        status=CRASH
    fi
    execs=$(grep -oE 'stat::number_of_executed_units: *[0-9]+' "$log" | grep -oE '[0-9]+$' || echo "?")
    [ "$execs" = "?" ] && execs=$(grep -oE '^#[0-9]+' "$log" | tail -1 | tr -d '#' || echo "?")
    echo "$t: $status, executions $execs, ${SECS}s"
    [ "$status" = ok ] || tail -30 "$log"
    rm -f "$log"
done
