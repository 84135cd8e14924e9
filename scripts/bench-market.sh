#!/usr/bin/env bash
# Market figures for BENCHMARKS.md, on loopback against a local chain (anvil, mining each
# transaction at once), through `sanctuary-node market`:
#  - a stall sells COUNT units of a 1 MiB file; one buyer after another buys one, and each
#    `buy` prints when its order was accepted, its payment was in a block, the goods'
#    ticket arrived and the goods were stored, counted from Buy;
#  - signing and verifying rates: `cargo bench -p sanctuary-market-core --bench signing`.
# Usage: scripts/bench-market.sh [COUNT]   (default: 5)
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/common.sh
ensure_anvil
count=${1:-5}

cargo build -q --bin sanctuary-node
bin="$CARGO_TARGET_DIR/debug/sanctuary-node"
export RUST_LOG=error SANCTUARY_WALLET_PASSPHRASE="a benchmark passphrase"
data=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$data"' EXIT

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
"$SANCTUARY_ANVIL" --host 127.0.0.1 --port 0 --accounts 1 --balance 1000 > "$data/anvil.out" 2>&1 &
for _ in $(seq 100); do
  rpc=$(grep -o 'Listening on [0-9.:]*' "$data/anvil.out" | awk '{print "http://" $3}' || true)
  [ -n "$rpc" ] && break
  sleep 0.1
done
# anvil funds the first account of its well-known test phrase: a bank for the buyers.
echo "test test test test test test test test test test test junk" |
  "$bin" wallet --data-dir "$data/bank" new --restore > /dev/null

"$bin" wallet --data-dir "$data/seller" new > /dev/null
head -c $((1 << 20)) /dev/urandom > "$data/goods.bin"
"$bin" market --data-dir "$data/seller" --rpc "$rpc" sell "$data/goods.bin" \
  --title "Benchmark goods" --price 0.01 --quantity "$count" > /dev/null
"$bin" market --data-dir "$data/seller" --rpc "$rpc" serve --host --bind 127.0.0.1:0 > "$data/stall.out" &
for _ in $(seq 100); do
  ticket=$(grep -o 'ticket: .*' "$data/stall.out" | cut -d' ' -f2 || true)
  [ -n "$ticket" ] && break
  sleep 0.1
done

for n in $(seq "$count"); do
  buyer="$data/buyer-$n"
  address=$("$bin" wallet --data-dir "$buyer" new | grep -o '0x[0-9a-fA-F]\{40\}' | head -1)
  "$bin" wallet --data-dir "$data/bank" --rpc "$rpc" send "$address" 1 --yes > /dev/null
  listing=$("$bin" market --data-dir "$buyer" --rpc "$rpc" list --join "$ticket" --bind 127.0.0.1:0 --seconds 3 | awk '/Benchmark goods/ {print $1}')
  "$bin" market --data-dir "$buyer" --rpc "$rpc" buy "$listing" --yes --join "$ticket" --bind 127.0.0.1:0 2>&1 >/dev/null | grep '^timing:'
done
echo "signing and verifying rates: cargo bench -p sanctuary-market-core --bench signing"
