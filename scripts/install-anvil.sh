#!/usr/bin/env bash
# Installs the local test chain (anvil) where the wallet looks for it.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/common.sh
ensure_anvil
echo "anvil: $SANCTUARY_ANVIL"
