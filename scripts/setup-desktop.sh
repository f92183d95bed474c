#!/usr/bin/env bash
# Installs what building, running and testing the desktop app (src-tauri/) needs, and only
# what is missing: the Debian packages Tauri 2 builds against (WebKitGTK 4.1, GTK 3,
# libsoup 3...), Xvfb, WebKitWebDriver and PyGObject (screenshots) for the desktop
# end-to-end tests, Node.js/npm for the Tauri CLI and the UI, and `tauri-driver`.
# Idempotent; when everything is present it only runs one `dpkg-query` and returns.
#
#     scripts/setup-desktop.sh            # install what is missing
#     scripts/setup-desktop.sh --check    # list what is missing, exit 1 if anything is
#
# Expects the Rust toolchain (scripts/setup-lib.sh's `setup`) for `cargo install`.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=scripts/setup-lib.sh
. "$ROOT/scripts/setup-lib.sh"

# Build dependencies of Tauri 2 on Debian/Ubuntu, plus what the desktop tests run.
DESKTOP_PKGS=(
    libwebkit2gtk-4.1-dev
    build-essential
    libxdo-dev
    libssl-dev
    libayatana-appindicator3-dev
    librsvg2-dev
    libgtk-3-dev
    libsoup-3.0-dev
    pkg-config
    xvfb
    xauth
    webkit2gtk-driver
    python3-gi
    gir1.2-gtk-3.0
)
TAURI_DRIVER_VERSION="^2"

# missing_pkgs PKG...: prints the packages that are not installed, one per line.
missing_pkgs() {
    local status
    for pkg in "$@"; do
        status="$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)"
        if [ "$status" != "install ok installed" ]; then
            echo "$pkg"
        fi
    done
}

# need_pkgs PKG...: installs the missing ones with one apt-get call.
need_pkgs() {
    local missing
    mapfile -t missing < <(missing_pkgs "$@")
    if [ "${#missing[@]}" -eq 0 ]; then
        return 0
    fi
    if ! command -v apt-get >/dev/null 2>&1; then
        echo "need the Debian packages ${missing[*]} but there is no apt-get" >&2
        return 1
    fi
    if [ "$APT_UPDATED" -eq 0 ]; then
        as_root apt-get update -qq
        APT_UPDATED=1
    fi
    echo "installing ${missing[*]}"
    as_root apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

check_only() {
    local missing=0
    local pkgs
    mapfile -t pkgs < <(missing_pkgs "${DESKTOP_PKGS[@]}")
    for p in "${pkgs[@]}"; do
        echo "missing Debian package: $p"
        missing=1
    done
    for c in node npm tauri-driver WebKitWebDriver Xvfb; do
        if ! command -v "$c" >/dev/null 2>&1; then
            echo "missing command: $c"
            missing=1
        fi
    done
    return "$missing"
}

setup_desktop() {
    if [ -f "$HOME/.cargo/env" ]; then
        # shellcheck source=/dev/null
        . "$HOME/.cargo/env"
    fi
    need_pkgs "${DESKTOP_PKGS[@]}"
    # Node.js and npm: the Tauri CLI (src-tauri/package.json) and the UI build. A newer
    # Node already on the PATH is kept.
    need_cmd node nodejs
    need_cmd npm npm
    # tauri-driver: the WebDriver proxy the desktop tests talk to (it starts
    # WebKitWebDriver). `@^2` because cargo refuses the bare `@2` form.
    if ! command -v tauri-driver >/dev/null 2>&1; then
        echo "installing tauri-driver"
        cargo install "tauri-driver@$TAURI_DRIVER_VERSION" --locked
    fi
    echo "webkit:  $(pkg-config --modversion webkit2gtk-4.1)"
    echo "node:    $(node --version)"
    echo "driver:  $(command -v tauri-driver)"
}

case "${1:-}" in
    --check) check_only ;;
    "") setup_desktop ;;
    *)
        echo "usage: $0 [--check]" >&2
        exit 2
        ;;
esac
