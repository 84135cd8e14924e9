#!/usr/bin/env bash
# Measures what the Storage panel costs a frame: the client in the Lobby, in a window under
# Xvfb with Mesa's software Vulkan, with the storage app not allowed (its panel in the world
# is one line) and allowed with FILES files listed, alternating ROUNDS times so that both
# see the same machine; prints each run's mean frame time and the ratio of the means.
# Usage: scripts/bench-storage-panel.sh [FILES] [FRAMES] [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/common.sh

files="${1:-100}"
frames="${2:-300}"
rounds="${3:-3}"

# The binaries as ./test.sh builds them: one build, one feature set.
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace --no-run >/dev/null
else
  cargo test --workspace --no-run -q
fi
client="$CARGO_TARGET_DIR/debug/sanctuary"
node="$CARGO_TARGET_DIR/debug/sanctuary-node"

work=$(mktemp -d)
Xvfb :96 -screen 0 1280x720x24 -nolisten tcp >/dev/null 2>&1 &
xvfb=$!
trap 'kill $xvfb 2>/dev/null || true; rm -rf "$work"' EXIT
sleep 1

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
mkdir -p "$work/closed" "$work/open" "$work/files"
printf '{ "storage": ["panels", "blobs"], }\n' > "$work/open/grants.ron"
for i in $(seq 1 "$files"); do
  head -c $((i * 997)) /dev/urandom > "$work/files/photo-$i.jpg"
  "$node" blobs --data-dir "$work/open" add "$work/files/photo-$i.jpg" >/dev/null 2>&1
done
echo "the open panel lists $("$node" blobs --data-dir "$work/open" list 2>/dev/null | wc -l) files"

frame_ms() {
  DISPLAY=:96 RUST_LOG=error "$client" --space lobby --frames "$frames" --data-dir "$1" 2>/dev/null \
    | grep '^stats:' | grep -o 'mean_frame_ms=[0-9.]*' | cut -d= -f2
}

closed_all=()
open_all=()
for round in $(seq 1 "$rounds"); do
  closed=$(frame_ms "$work/closed")
  open=$(frame_ms "$work/open")
  echo "round $round: panel not allowed $closed ms, panel with $files files $open ms"
  closed_all+=("$closed")
  open_all+=("$open")
done
python3 - "${closed_all[*]}" "${open_all[*]}" <<'PY'
import sys
closed = [float(x) for x in sys.argv[1].split()]
opened = [float(x) for x in sys.argv[2].split()]
mean = lambda xs: sum(xs) / len(xs)
print(f"mean frame: {mean(closed):.2f} ms without the panel's content, {mean(opened):.2f} ms with it; ratio {mean(opened) / mean(closed):.3f}")
PY
