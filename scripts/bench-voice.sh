#!/usr/bin/env bash
# Voice benchmarks: mouth-to-ear latency and quality of spoken sentences sent through the
# real voice path between two peers on loopback (sanctuary-node voice), with no loss and
# with 5 % and 10 % random packet loss, scored with PESQ (ITU-T P.862.2, wide band) against
# the source, beside the same sentences through Opus alone (the codec's ceiling); then the
# mixing cost per speaker (cargo bench). Installs espeak-ng (the sentences) and libopus0,
# and in a virtual environment under the cache the `pesq` and `opuslib` Python packages.
# Usage: scripts/bench-voice.sh
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/common.sh

ensure_packages espeak-ng python3-venv libopus0
venv="${XDG_CACHE_HOME:-$HOME/.cache}/sanctuary/bench-venv"
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q numpy scipy pesq
fi
"$venv/bin/python" -c 'import opuslib' 2>/dev/null || "$venv/bin/pip" install -q opuslib

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

# The codec's ceiling: the same sentences through Opus alone (VOIP, 20 ms frames, no
# network, no jitter buffer, no mixing), at 24 and 32 kbit/s.
"$venv/bin/python" - "$work/speech.wav" <<'PY'
import sys, wave
import numpy as np
import opuslib
from scipy.signal import resample_poly
from pesq import pesq

with wave.open(sys.argv[1]) as w:
    rate = w.getframerate()
    ref = np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16).astype(np.float64) / 32768.0
pcm = np.clip(resample_poly(ref, 48000, rate) * 32767, -32768, 32767).astype(np.int16)
ref16 = resample_poly(ref, 16000, rate)
for bitrate in (24000, 32000):
    encoder = opuslib.Encoder(48000, 1, opuslib.APPLICATION_VOIP)
    encoder.bitrate = bitrate
    decoder = opuslib.Decoder(48000, 1)
    frames = [decoder.decode(encoder.encode(pcm[i:i + 960].tobytes(), 960), 960)
              for i in range(0, len(pcm) - 960, 960)]
    out = np.concatenate([np.frombuffer(f, dtype=np.int16) for f in frames]) / 32768.0
    out16 = resample_poly(out, 1, 3)[104:]  # the encoder's 312-sample lookahead
    n = min(len(out16), len(ref16))
    print(f"opus alone {bitrate // 1000} kbit/s pesq_wb={pesq(16000, ref16[:n], out16[:n], 'wb'):.2f}")
PY

cargo bench -q -p sanctuary-voice --bench mixing 2>/dev/null
