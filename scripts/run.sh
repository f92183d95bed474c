#!/usr/bin/env bash
# Cohort: the one command that sets up a fresh Debian machine and runs the app.
#
#     scripts/run.sh                 # the desktop app on your data dir (web mode without a display)
#     scripts/run.sh --web           # the app in your browser: a node + the UI on 127.0.0.1:8080
#     scripts/run.sh course list     # any `cohort` command, after the same setup
#
# The desktop app: scripts/run-desktop.sh installs Tauri's Debian packages and the npm
# packages, builds the app in release mode and starts it (a small sample course on first
# launch; the app syncs with your cohorts while it is open).
#
# Web mode installs only what is missing (build tools, the pinned Rust toolchain, Node.js),
# builds the `cohort` binary in release mode and the web UI, and runs on the default data
# dir (or --data-dir / COHORT_DATA_DIR): a node syncing with your cohorts and the UI at
# http://127.0.0.1:8080 (COHORT_PORT to change), opened in your browser when one is found.
# A small sample course is created on first run. Ctrl-C stops it.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

if [ "$#" -eq 0 ]; then
    if [ -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ]; then
        exec bash "$ROOT/scripts/run-desktop.sh"
    fi
    echo "No display (DISPLAY and WAYLAND_DISPLAY are unset): starting the web mode instead." >&2
elif [ "$1" = "--web" ]; then
    shift
    if [ "$#" -gt 0 ]; then
        echo "--web takes no other arguments (use COHORT_DATA_DIR and COHORT_PORT)" >&2
        exit 2
    fi
fi
# shellcheck source=scripts/setup-lib.sh
. "$ROOT/scripts/setup-lib.sh"

setup >&2
cargo build --release --locked -p cohort-cli >&2
COHORT="$CARGO_TARGET_DIR/release/cohort"

if [ "$#" -gt 0 ]; then
    exec "$COHORT" "$@"
fi

need_cmd node nodejs >&2
need_cmd npm npm >&2
npm --prefix ui install --no-audit --no-fund >&2
npm --prefix ui run build >&2

# First run: a sample course so there is something to look at.
if [ "$("$COHORT" --json course list)" = "[]" ]; then
    "$COHORT" sample
fi
PORT="${COHORT_PORT:-8080}"
echo "Starting Cohort: open http://127.0.0.1:$PORT/ with the token printed below."
if command -v xdg-open >/dev/null 2>&1 && [ -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ]; then
    # Opens the browser once the node has written its address and token.
    (
        for _ in $(seq 50); do
            sleep 0.2
            url=$("$COHORT" --json sync status >/dev/null 2>&1 && python3 -c 'import json,os,sys; d=json.load(open(sys.argv[1])); print(d["url"]+"/?token="+d["token"])' "${COHORT_DATA_DIR:-$HOME/.local/share/cohort}/serve.json" 2>/dev/null) && break
        done
        [ -n "${url:-}" ] && xdg-open "$url" >/dev/null 2>&1
    ) &
fi
exec "$COHORT" serve --http "127.0.0.1:$PORT" --ui "$ROOT/ui/dist"
