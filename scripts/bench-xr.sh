#!/usr/bin/env bash
# Measures what BENCHMARKS.md records for the headset: frame time in Monado's headset
# (null compositor, Mesa's software Vulkan) at each quality, as ratios to the desktop
# window in the same run. Needs root (Monado's chroot; see scripts/xr-runtime.sh).
# Usage: scripts/bench-xr.sh [FRAMES]
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/common.sh
frames="${1:-300}"

ensure_xr_runtime
[ -n "${SANCTUARY_XR_ROOT:-}" ] || { echo "no Monado: ${SANCTUARY_XR_UNAVAILABLE:-}" >&2; exit 1; }
cargo build --bin sanctuary -q
client="$CARGO_TARGET_DIR/debug/sanctuary"
data="$(mktemp -d)"

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
Xvfb :96 -screen 0 1280x720x24 -nolisten tcp >/dev/null 2>&1 &
xvfb=$!
trap 'kill $xvfb 2>/dev/null || true; rm -rf "$data"' EXIT
sleep 1

stat_of() { grep -o "$1=[0-9.]*" | cut -d= -f2; }

for quality in high low; do
  desktop=$(DISPLAY=:96 RUST_LOG=error "$client" --no-voice --data-dir "$data" --quality "$quality" \
    --frames "$frames" | grep '^stats:' | stat_of mean_frame_ms)
  headset=$(DISPLAY=:96 RUST_LOG=error XR_DEVICE=simulated scripts/xr-run.sh "$client" --xr --require-xr \
    --no-voice --data-dir "$data" --quality "$quality" --frames "$frames" \
    | grep 'frames shown in the headset' | grep -o '[0-9.]* ms each' | cut -d' ' -f1)
  echo "quality $quality: desktop window ${desktop} ms a frame, headset ${headset} ms a frame (both eyes)"
  eval "desktop_$quality=$desktop headset_$quality=$headset"
done
ratio() { awk "BEGIN { printf \"%.2f\", $1 / $2 }"; }
echo "ratios to the desktop window at high quality: desktop low $(ratio "$desktop_low" "$desktop_high"), headset high $(ratio "$headset_high" "$desktop_high"), headset low $(ratio "$headset_low" "$desktop_high")"
