# Shared by run.sh and test.sh: system packages and the build folder.

# Debian packages the client needs to open a window and render (X11, Vulkan with
# Mesa's drivers, which include the lavapipe software renderer).
CLIENT_PACKAGES=(pkg-config libx11-6 libxcursor1 libxrandr2 libxi6 libxkbcommon-x11-0 libvulkan1 mesa-vulkan-drivers)

# What the tests add: a virtual display for real-window tests, tools that type, click
# and read the clipboard there, and `ip` (iproute2, not in minimal images) to make the
# network namespaces of the local-network test.
TEST_PACKAGES=(xvfb xauth xdotool xclip iproute2)

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
