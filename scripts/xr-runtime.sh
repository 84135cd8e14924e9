# The OpenXR runtime for the XR tests: Monado, the open-source runtime, with a headset
# it simulates and no real compositor. Monado is not packaged for bookworm, so it lives
# in a Debian trixie chroot made once with debootstrap and kept outside the clone.
# Sourced by common.sh.

XR_ROOT="$SANCTUARY_TOOLS/xr-runtime-trixie"
XR_PACKAGES=(monado-service libopenxr1-monado libopenxr-loader1 libopenxr-dev
  libvulkan1 mesa-vulkan-drivers libx11-6 libx11-xcb1 libxcursor1 libxrandr2 libxi6
  libxkbcommon-x11-0 libasound2t64 ca-certificates)

# Makes the chroot when it is missing and exports SANCTUARY_XR_ROOT. When it cannot be
# made (not root, no debootstrap, no mirror) it says why and exports
# SANCTUARY_XR_UNAVAILABLE with the reason, which the XR tests print when they skip.
ensure_xr_runtime() {
  local why=""
  if [ "$(id -u)" -ne 0 ]; then
    why="the Monado chroot needs root (debootstrap, chroot and mounts); run ./test.sh as root to include the XR tests"
  elif ! unshare --mount true 2>/dev/null; then
    why="this machine does not allow a mount namespace (unshare --mount), which running Monado's chroot needs"
  # The marker holds the package list it was made with: a changed list makes it again.
  elif [ "$(cat "$XR_ROOT/.ready" 2>/dev/null)" = "${XR_PACKAGES[*]}" ]; then
    export SANCTUARY_XR_ROOT="$XR_ROOT"
    return 0
  elif ! ensure_packages debootstrap >/dev/null; then
    why="debootstrap could not be installed"
  fi
  if [ -z "$why" ]; then
    echo "making the OpenXR runtime's chroot (Debian trixie with Monado) in $XR_ROOT, once"
    # What an interrupted debootstrap left, without following its mounts.
    umount -R "$XR_ROOT.partial/proc" "$XR_ROOT.partial/sys" "$XR_ROOT.partial/dev" 2>/dev/null || true
    rm -rf --one-file-system "$XR_ROOT.partial"
    mkdir -p "$(dirname "$XR_ROOT")"
    local include
    include="$(IFS=,; echo "${XR_PACKAGES[*]}")"
    if debootstrap --variant=minbase --include="$include" trixie "$XR_ROOT.partial" \
        http://deb.debian.org/debian >"$XR_ROOT.log" 2>&1; then
      rm -rf "$XR_ROOT"
      mv "$XR_ROOT.partial" "$XR_ROOT"
      echo "${XR_PACKAGES[*]}" >"$XR_ROOT/.ready"
      export SANCTUARY_XR_ROOT="$XR_ROOT"
      return 0
    fi
    why="debootstrap of trixie with Monado failed (see $XR_ROOT.log)"
  fi
  echo "no OpenXR runtime for the XR tests: $why" >&2
  export SANCTUARY_XR_UNAVAILABLE="$why"
  return 0
}
