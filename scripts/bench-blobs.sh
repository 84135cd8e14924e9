#!/usr/bin/env bash
# Storage figures for BENCHMARKS.md, on loopback, through `sanctuary-node blobs`:
#  - a fetch of a SIZE MiB file between two processes: MiB/s, time to first byte, and the
#    fetcher's CPU share (user+system over wall time, 100 % = one core);
#  - `cp` of the same file on the same disk, the ceiling a local fetch can approach.
# Usage: scripts/bench-blobs.sh [SIZE_MIB]   (default: 200)
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/common.sh
size=${1:-200}

cargo build -q --bin sanctuary-node
bin="$CARGO_TARGET_DIR/debug"
export RUST_LOG=error
tick=$(getconf CLK_TCK)
data=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$data"' EXIT

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
head -c "$((size << 20))" /dev/urandom > "$data/file.bin"
"$bin/sanctuary-node" blobs --data-dir "$data/seeder" add "$data/file.bin" --serve > /dev/null
"$bin/sanctuary-node" blobs --data-dir "$data/seeder" --bind 127.0.0.1:0 serve > "$data/serve.out" &
for _ in $(seq 100); do
  ticket=$(cut -d' ' -f1 "$data/serve.out" | head -1)
  [ -n "$ticket" ] && break
  sleep 0.1
done

start=$(date +%s.%N)
"$bin/sanctuary-node" blobs --data-dir "$data/fetcher" --bind 127.0.0.1:0 get "$ticket" 2> "$data/get.err" > /dev/null &
get=$!
ticks=0
while kill -0 $get 2>/dev/null; do
  now=$(awk '{print $14 + $15}' "/proc/$get/stat" 2>/dev/null || echo "$ticks")
  ticks=$now
  sleep 0.05
done
wait $get
end=$(date +%s.%N)
wall=$(awk "BEGIN {printf \"%.2f\", $end - $start}")
echo "fetch of $size MiB: $(tr '\r' '\n' < "$data/get.err" | grep '^fetched')"
echo "fetcher CPU: $(awk "BEGIN {printf \"%.0f\", 100 * $ticks / $tick / $wall}") % of one core over $wall s (process start included)"

sync
start=$(date +%s.%N)
cp "$data/file.bin" "$data/copy.bin"
sync
end=$(date +%s.%N)
echo "cp of $size MiB: $(awk "BEGIN {printf \"%.1f\", $size / ($end - $start)}") MiB/s"
