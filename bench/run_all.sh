#!/usr/bin/env bash
# bench/run_all.sh - every benchmark, one after another, each output saved in bench/results/NAME.txt.
# Run on a quiet machine: the figures are medians and ratios against the anchor tools run in the same script.
set -uo pipefail
cd "$(dirname "$0")"
mkdir -p results
for s in startup probe syn http sockets ping trace diagnose serve dns exporter; do
    echo "=== $s ==="
    bash "./$s.sh" 2>&1 | tee "results/$s.txt"
done
