#!/usr/bin/env bash
# Sets up what the client needs, builds it and launches it into the lobby.
# Arguments go to the client: ./run.sh --space market, ./run.sh --headless --frames 600
set -euo pipefail
cd "$(dirname "$0")"
source scripts/common.sh

ensure_packages "${CLIENT_PACKAGES[@]}"
ensure_anvil
cargo build --bin sanctuary
exec "$CARGO_TARGET_DIR/debug/sanctuary" "$@"
