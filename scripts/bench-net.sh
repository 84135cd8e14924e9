#!/usr/bin/env bash
# Network figures for BENCHMARKS.md, all on loopback:
#  - pose latency between two peers (send to checked event), p50 and p99;
#  - bytes on the wire per avatar per second: loopback traffic while one bot and the
#    host stand together (full pose rate), divided by the two avatars;
#  - the room this machine holds: N bots in one process joined to a headless host,
#    with the bots' and the host's CPU share and memory after they settle.
# Usage: scripts/bench-net.sh [COUNTS...]   (default: 10 50 100 200)
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/common.sh
counts=("${@:-10 50 100 200}")
read -r -a counts <<< "${counts[*]}"

cargo build -q --bin sanctuary --bin sanctuary-node
bin="$CARGO_TARGET_DIR/debug"
export RUST_LOG=error
tick=$(getconf CLK_TCK)
data=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$data"' EXIT

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
"$bin/sanctuary-node" latency --seconds 10

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
rss_mib() { awk '/VmRSS/ {printf "%.0f", $2 / 1024}' "/proc/$1/status"; }
lo_bytes() { cat /sys/class/net/lo/statistics/tx_bytes; }

start_host() {
  "$bin/sanctuary" --headless --host --bind 127.0.0.1:0 --data-dir "$data/host" > "$data/host.log" &
  host=$!
  for _ in $(seq 100); do
    ticket=$(grep -m1 '^ticket:' "$data/host.log" | cut -d' ' -f2 || true)
    [ -n "$ticket" ] && return
    sleep 0.1
  done
  echo "the host printed no ticket" >&2
  exit 1
}

start_host
"$bin/sanctuary-node" bots --join "$ticket" --count 1 --bind 127.0.0.1:0 --seconds 20 > /dev/null 2>&1 &
bots=$!
sleep 8
before=$(lo_bytes)
sleep 10
after=$(lo_bytes)
wait $bots || true
echo "wire, two avatars at full rate: $(( (after - before) / 10 / 2 )) bytes per avatar per second (loopback, all traffic)"
kill $host; wait $host 2>/dev/null || true

for count in "${counts[@]}"; do
  start_host
  "$bin/sanctuary-node" bots --join "$ticket" --count "$count" --bind 127.0.0.1:0 --seconds 40 > /dev/null 2>&1 &
  bots=$!
  sleep 20
  b0=$(cpu_ticks $bots); h0=$(cpu_ticks $host); w0=$(lo_bytes)
  sleep 10
  b1=$(cpu_ticks $bots); h1=$(cpu_ticks $host); w1=$(lo_bytes)
  echo "room of $count bots + host: bots process $(( (b1 - b0) * 100 / tick / 10 ))% CPU, $(rss_mib $bots) MiB; host $(( (h1 - h0) * 100 / tick / 10 ))% CPU, $(rss_mib $host) MiB; loopback $(( (w1 - w0) / 10 / 1024 )) KiB/s"
  kill $bots $host 2>/dev/null || true
  wait $bots $host 2>/dev/null || true
done
