#!/usr/bin/env bash
# Measures what BENCHMARKS.md records: frame rate and launch time in a window under
# Xvfb with Mesa's software Vulkan, the headless simulation tick, and the incremental
# rebuild after a one-line change in game/. With --clean it also times a clean build in
# a fresh target folder (about 15-20 minutes on two cores).
# Usage: scripts/bench.sh [--clean] [FRAMES]
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/common.sh

clean=false
if [ "${1:-}" = "--clean" ]; then clean=true; shift; fi
frames="${1:-300}"

cargo build --bin sanctuary -q
client="$CARGO_TARGET_DIR/debug/sanctuary"

stat_of() { grep -o "$1=[0-9.]*" | cut -d= -f2; }

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"

Xvfb :97 -screen 0 1280x720x24 -nolisten tcp >/dev/null 2>&1 &
xvfb=$!
trap 'kill $xvfb 2>/dev/null || true' EXIT
sleep 1

for space in lobby market cinema lecture-hall; do
  line=$(DISPLAY=:97 RUST_LOG=error "$client" --space "$space" --frames "$frames" | grep '^stats:')
  echo "window $space: fps $(echo "$line" | stat_of fps), frame $(echo "$line" | stat_of mean_frame_ms) ms, first frame $(echo "$line" | stat_of first_frame_ms) ms after launch"
done

for space in lobby market cinema lecture-hall; do
  line=$(RUST_LOG=error "$client" --headless --space "$space" --frames 600 | grep '^stats:')
  echo "headless $space: tick $(echo "$line" | stat_of mean_tick_ms) ms"
done

# Incremental rebuild: change one line in game/, rebuild, put it back.
file=game/src/hud/plugin.rs
cp "$file" "$file.bench-backup"
sed -i 's/"show or hide this help"/"show or hide this help "/' "$file"
start=$(date +%s%N)
cargo build --bin sanctuary -q
end=$(date +%s%N)
mv "$file.bench-backup" "$file"
echo "incremental rebuild after a one-line change in game/: $(( (end - start) / 1000000 )) ms"
cargo build --bin sanctuary -q

if $clean; then
  fresh=$(mktemp -d)
  start=$(date +%s)
  CARGO_TARGET_DIR="$fresh" cargo build --bin sanctuary -q
  end=$(date +%s)
  rm -rf "$fresh"
  echo "clean build: $((end - start)) s"
fi
