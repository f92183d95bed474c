#!/usr/bin/env bash
# Cohort desktop: the one command that sets up a fresh Debian/Ubuntu machine, builds the
# desktop app and starts it.
#
#     scripts/run-desktop.sh                        # your default data dir (sample course on first launch)
#     scripts/run-desktop.sh --data-dir /tmp/demo   # any cohort-desktop arguments pass through
#     COHORT_DATA_DIR=/tmp/demo scripts/run-desktop.sh
#
# Installs only what is missing (build tools and the pinned Rust toolchain via
# scripts/setup-lib.sh, Tauri's Debian packages and tauri-driver via
# scripts/setup-desktop.sh, the npm packages of ui/ and src-tauri/), builds the UI and the
# app in release mode with the Tauri CLI (`tauri build --no-bundle`; the .deb is
# `npm --prefix src-tauri run build:deb`), then runs it. Needs a display (X11 or Wayland).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
# shellcheck source=scripts/setup-lib.sh
. "$ROOT/scripts/setup-lib.sh"

setup >&2
"$ROOT/scripts/setup-desktop.sh" >&2
npm_install "$ROOT/ui" >&2
npm_install "$ROOT/src-tauri" >&2

# Builds the UI (tauri.conf.json's beforeBuildCommand), then the app with the lock file.
(cd "$ROOT/src-tauri" && npx --no-install tauri build --no-bundle -- --locked) >&2
APP="$CARGO_TARGET_DIR/release/cohort-desktop"

if [ -z "${DISPLAY:-}" ] && [ -z "${WAYLAND_DISPLAY:-}" ]; then
    echo "Built $APP, but there is no display to open its window on (DISPLAY and" \
        "WAYLAND_DISPLAY are unset). Run it from a desktop session, or under Xvfb:" \
        "xvfb-run -a $APP" >&2
    exit 1
fi
exec "$APP" "$@"
