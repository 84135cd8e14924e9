# Shared by run.sh and test.sh: system packages and the build folder.

# Debian packages the client needs to open a window and render (X11, Vulkan with
# Mesa's drivers, which include the lavapipe software renderer), and to build and play
# voice (ALSA's headers for the sound cards; cmake builds the bundled Opus codec).
CLIENT_PACKAGES=(pkg-config libx11-6 libxcursor1 libxrandr2 libxi6 libxkbcommon-x11-0 libvulkan1 mesa-vulkan-drivers
  libasound2-dev cmake)

# What the tests add: a virtual display for real-window tests, tools that type, click
# and read the clipboard there, `ip` (iproute2, not in minimal images) to make the
# network namespaces of the local-network test, and a sound server with a null sink
# (PulseAudio, reached through ALSA's pulse plugin) for the test of real sound devices.
TEST_PACKAGES=(xvfb xauth xdotool xclip iproute2 pulseaudio pulseaudio-utils libasound2-plugins)

# Starts a PulseAudio server of our own with a null sink as the default speaker and its
# monitor as the default microphone, so that what is played can be captured again. Sets
# SANCTUARY_SOUND_TEST=1 for the test that uses them; says why and goes on without it
# when the server will not start.
start_test_sound() {
  export PULSE_RUNTIME_PATH
  PULSE_RUNTIME_PATH="$(mktemp -d)"
  if pulseaudio --daemonize=yes --exit-idle-time=-1 -n --log-target=stderr \
      --load=module-native-protocol-unix \
      --load="module-null-sink sink_name=sanctuary_null" 2>/dev/null \
    && pactl set-default-sink sanctuary_null && pactl set-default-source sanctuary_null.monitor; then
    export SANCTUARY_SOUND_TEST=1
  else
    echo "no sound server for the sound-device test: PulseAudio did not start" >&2
  fi
}

# Stops the server start_test_sound started.
stop_test_sound() {
  [ -n "${PULSE_RUNTIME_PATH:-}" ] && pulseaudio -k 2>/dev/null
  [ -n "${PULSE_RUNTIME_PATH:-}" ] && rm -rf "$PULSE_RUNTIME_PATH"
  return 0
}

# Installs the Debian packages in "$@" that are missing, with sudo when not root.
ensure_packages() {
  local missing=()
  for package in "$@"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if ! command -v apt-get >/dev/null; then
    echo "missing system packages: ${missing[*]} (install them with your package manager)" >&2
    return 1
  fi
  local sudo=()
  [ "$(id -u)" -eq 0 ] || sudo=(sudo)
  echo "installing system packages: ${missing[*]}"
  "${sudo[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

# One build folder outside the clone, so clones and CI runs on one machine share builds.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/sanctuary/target}"

# The local test chain (anvil), a static binary published on the npm registry. The
# tarball's checksum is pinned: a different file is refused.
ANVIL_VERSION=1.7.1
ANVIL_SHA256=5727dd8f08f3bf6dde4ec1d9832e87c43f9315ef824bff1ab18486bf51bc7af3
SANCTUARY_TOOLS="${XDG_CACHE_HOME:-$HOME/.cache}/sanctuary/tools"

# Installs anvil into the tools folder when missing and exports SANCTUARY_ANVIL.
ensure_anvil() {
  local dir="$SANCTUARY_TOOLS/anvil-$ANVIL_VERSION"
  if [ ! -x "$dir/anvil" ]; then
    ensure_packages curl ca-certificates
    echo "installing anvil $ANVIL_VERSION (the local test chain)"
    local tmp
    tmp="$(mktemp -d)"
    curl -sSfL --retry 3 -o "$tmp/anvil.tgz" \
      "https://registry.npmjs.org/@foundry-rs/anvil-linux-amd64/-/anvil-linux-amd64-$ANVIL_VERSION.tgz"
    if ! echo "$ANVIL_SHA256  $tmp/anvil.tgz" | sha256sum --check --status; then
      echo "the anvil download does not match its pinned checksum; not installed" >&2
      rm -rf "$tmp"
      return 1
    fi
    tar -xzf "$tmp/anvil.tgz" -C "$tmp"
    mkdir -p "$dir"
    install -m 0755 "$tmp/package/bin/anvil" "$dir/anvil"
    rm -rf "$tmp"
  fi
  export SANCTUARY_ANVIL="$dir/anvil"
}

# Monado in a Debian trixie chroot, for the XR tests (ensure_xr_runtime).
source "$(dirname "${BASH_SOURCE[0]}")/xr-runtime.sh"
