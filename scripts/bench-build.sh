#!/usr/bin/env bash
# Measures building (BENCHMARKS.md, "Building"): convergence after a partition heals (3 and
# 10 peers), a document's size and load time (10,000 and 100,000 pieces), and the client's
# headless tick and window frame time (Xvfb, Mesa's software Vulkan) in a Lobby holding
# 100,000 pieces, against the same Lobby empty, alternating ROUNDS times.
# Usage: scripts/bench-build.sh [FRAMES] [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/common.sh

frames="${1:-60}"
rounds="${2:-2}"

# The binaries as ./test.sh builds them: one build, one feature set.
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace --no-run >/dev/null
else
  cargo test --workspace --no-run -q
fi
cargo build -q -p sanctuary-net --example build
bench="$CARGO_TARGET_DIR/debug/examples/build"
client="$CARGO_TARGET_DIR/debug/sanctuary"

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
"$bench" converge 3 200
"$bench" converge 10 200
"$bench" load 10000
"$bench" load 100000

work=$(mktemp -d)
Xvfb :95 -screen 0 1280x720x24 -nolisten tcp >/dev/null 2>&1 &
xvfb=$!
trap 'kill $xvfb 2>/dev/null || true; rm -rf "$work"' EXIT
sleep 1

# The shipped spaces, with the Lobby's building zone made as large as the Lobby (and as
# high as its shaft) and allowing 100,000 pieces, the zone the benchmark's pieces are in.
cp -r assets "$work/assets"
python3 - "$work/assets/spaces/lobby.ron" <<'PY'
import re, sys
path = sys.argv[1]
text = open(path).read()
start = text.index("    build: Some((")
text = text[:start] + """    build: Some((
        zones: [
            (
                name: "everywhere",
                min: (-30, 0, -30),
                max: (30, 400, 30),
                builders: Anyone,
                limits: (pieces_per_person: 100000, largest_m: 10),
            ),
        ],
    )),
)
"""
open(path, "w").write(text)
PY
mkdir -p "$work/empty"
"$bench" fill "$work/full" 100000

stat_of() { grep -o "$1=[0-9.]*" | cut -d= -f2; }
run() {
  # $1: data folder; the rest: extra arguments.
  local dir="$1"
  shift
  RUST_LOG=error "$client" --host --bind 127.0.0.1:0 --space lobby --assets "$work/assets" --data-dir "$dir" "$@" 2>/dev/null \
    | grep '^stats:'
}

for round in $(seq 1 "$rounds"); do
  empty_tick=$(run "$work/empty" --headless --frames 600 | stat_of mean_tick_ms)
  full_tick=$(run "$work/full" --headless --frames 600 | stat_of mean_tick_ms)
  empty_frame=$(DISPLAY=:95 run "$work/empty" --frames "$frames" | stat_of mean_frame_ms)
  full_frame=$(DISPLAY=:95 run "$work/full" --frames "$frames" | stat_of mean_frame_ms)
  echo "round $round: headless tick empty $empty_tick ms, 100k pieces $full_tick ms; window frame empty $empty_frame ms, 100k pieces $full_frame ms"
  python3 -c "print(f'round $round ratios: tick {$full_tick / $empty_tick:.2f}, frame {$full_frame / $empty_frame:.2f}')"
done
