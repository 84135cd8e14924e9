#!/usr/bin/env bash
# Sets up what the tests need and runs them all: formatting, the whole test suite
# (unit, headless world, real processes, real-window screenshots, and the client in
# a headset Monado serves), then clippy.
set -euo pipefail
cd "$(dirname "$0")"
source scripts/common.sh

ensure_packages "${CLIENT_PACKAGES[@]}" "${TEST_PACKAGES[@]}"
ensure_anvil
ensure_xr_runtime
start_test_sound
trap stop_test_sound EXIT

echo "== format"
cargo fmt --all --check

echo "== tests"
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace --no-fail-fast
else
  cargo test --workspace --no-fail-fast
fi

echo "== lints"
cargo clippy --workspace --all-targets -- -D warnings
