#!/usr/bin/env bash
# Measures the personal server (BENCHMARKS.md, "Personal server"): post delivery to 10 and
# 100 friends' nodes, and a node's disk and memory for 10,000 posts, all in one process on
# loopback.
# Usage: scripts/bench-home.sh [POSTS_FOR_DELIVERY] [POSTS_STORED]
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/common.sh

posts="${1:-20}"
stored="${2:-10000}"

cargo build -q -p sanctuary-net --example home
bench="$CARGO_TARGET_DIR/debug/examples/home"

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
"$bench" deliver 10 "$posts"
"$bench" deliver 100 "$posts"
"$bench" store "$stored"
