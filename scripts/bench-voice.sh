#!/usr/bin/env bash
# Voice benchmarks: mouth-to-ear latency and quality of spoken sentences sent through the
# real voice path between two peers on loopback (sanctuary-node voice), with no loss and
# with 5 % and 10 % random packet loss, scored with PESQ (ITU-T P.862.2, wide band) against
# the source; then the mixing cost per speaker (cargo bench). Installs espeak-ng (the
# sentences) and, in a virtual environment under the cache, the `pesq` Python package.
# Usage: scripts/bench-voice.sh
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/common.sh

ensure_packages espeak-ng python3-venv
venv="${XDG_CACHE_HOME:-$HOME/.cache}/sanctuary/bench-venv"
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q numpy scipy pesq
fi

# The binaries as ./test.sh builds them: one build, one feature set.
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace --no-run >/dev/null
else
  cargo test --workspace --no-run -q
fi
node="$CARGO_TARGET_DIR/debug/sanctuary-node"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"

espeak-ng -v en-us -s 150 -w "$work/speech.wav" \
  "The birch canoe slid on the smooth planks. Glue the sheet to the dark blue background. \
It is easy to tell the depth of a well. These days a chicken leg is a rare dish. \
Rice is often served in round bowls. The juice of lemons makes fine punch."

for loss in 0 0.05 0.1; do
  line=$("$node" voice --in "$work/speech.wav" --out "$work/heard-$loss.wav" --loss "$loss" --jitter-ms 10 --seed 3 2>/dev/null)
  latency=$(sed -n 's/.*latency_ms=\([0-9.]*\).*/\1/p' <<<"$line")
  score=$("$venv/bin/python" - "$work/speech.wav" "$work/heard-$loss.wav" "$latency" <<'PY'
import sys, wave
import numpy as np
from scipy.signal import resample_poly
from pesq import pesq

def read(path):
    with wave.open(path) as w:
        data = np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16).astype(np.float64)
        data = data.reshape(-1, w.getnchannels()).mean(axis=1) / 32768.0
        return data, w.getframerate()

ref, ref_rate = read(sys.argv[1])
deg, deg_rate = read(sys.argv[2])
ref = resample_poly(ref, 16000, ref_rate)
deg = resample_poly(deg, 16000, deg_rate)
# Line the output up with the input by the measured latency, then compare equal lengths.
shift = int(round(float(sys.argv[3]) * 16))
deg = deg[shift:shift + len(ref)]
ref = ref[:len(deg)]
print(f"{pesq(16000, ref, deg, 'wb'):.2f}")
PY
)
  echo "loss=$loss $line pesq_wb=$score"
done

cargo bench -q -p sanctuary-voice --bench mixing 2>/dev/null
