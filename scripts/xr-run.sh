#!/usr/bin/env bash
# Runs a command inside the OpenXR runtime's chroot (see xr-runtime.sh) while Monado
# serves a headset there with no real compositor: the remote driver's headset and
# controllers, moved by whoever connects to 127.0.0.1:4242, or, with XR_DEVICE=simulated,
# Monado's own simulated headset. The chroot shares this machine's network, /tmp, /dev and
# the folders the command needs (this clone and the build folder), at the same paths.
#
# Usage: scripts/xr-run.sh COMMAND [ARG...]   (as root; needs SANCTUARY_XR_ROOT)
set -euo pipefail
root="${SANCTUARY_XR_ROOT:?run ensure_xr_runtime first (scripts/common.sh)}"
repo="$(cd "$(dirname "$0")/.." && pwd)"
target="${CARGO_TARGET_DIR:-$repo/target}"
runtime_dir="$(mktemp -d /tmp/sanctuary-xr-XXXXXX)"
chmod 700 "$runtime_dir"

# Everything below runs in a mount namespace of its own: the mounts go with it.
exec unshare --mount --propagation private -- bash -s -- "$root" "$repo" "$target" "$runtime_dir" "$@" <<'INNER'
set -euo pipefail
root="$1" repo="$2" target="$3" runtime_dir="$4"
shift 4
mount --rbind /dev "$root/dev"
mount -t proc proc "$root/proc"
mount --rbind /sys "$root/sys"
mount --bind /tmp "$root/tmp"
for dir in "$repo" "$target"; do
  mkdir -p "$dir" "$root$dir"
  mount --bind "$dir" "$root$dir"
done
export XDG_RUNTIME_DIR="$runtime_dir"
export XR_RUNTIME_JSON=/usr/share/openxr/1/openxr_monado.json
export VK_DRIVER_FILES=/usr/share/vulkan/icd.d/lvp_icd.json
export XRT_COMPOSITOR_NULL=1 XRT_NO_STDIN=1
if [ "${XR_DEVICE:-remote}" = simulated ]; then
  export SIMULATED_ENABLE=1
else
  export P_OVERRIDE_ACTIVE_CONFIG=remote
fi
chroot "$root" /usr/bin/monado-service >"$runtime_dir/monado.log" 2>&1 </dev/null &
monado=$!
# However this ends (the command's end, a signal), Monado stops and its folder goes.
finish() {
  kill "$monado" 2>/dev/null || true
  wait "$monado" 2>/dev/null || true
  [ "${XR_SHOW_MONADO_LOG:-0}" = 1 ] && cat "$runtime_dir/monado.log" >&2
  rm -rf "$runtime_dir"
}
trap finish EXIT
trap 'exit 143' TERM INT
for _ in $(seq 100); do
  [ -S "$root$runtime_dir/monado_comp_ipc" ] || [ -S "$runtime_dir/monado_comp_ipc" ] && break
  kill -0 "$monado" 2>/dev/null || { cat "$runtime_dir/monado.log" >&2; echo "monado-service stopped" >&2; exit 1; }
  sleep 0.1
done
status=0
chroot "$root" /usr/bin/env -C "$PWD" "$@" </dev/null || status=$?
exit "$status"
INNER
