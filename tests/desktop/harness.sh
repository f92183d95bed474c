# Shared by run.sh (the e2e tests) and bench.sh (the benchmark): a temp dir, Xvfb on a
# display it picks itself, tauri-driver on free ports, and a cleanup that always stops what
# was started. Source it after setting TMP_PREFIX; it sets HERE (this directory), ROOT (the
# repository), loads scripts/setup-lib.sh (CARGO_TARGET_DIR, default
# $HOME/.cache/cohort-target; npm_install) and cargo's environment; then call
# start_display_and_driver (or start_display alone).
# shellcheck shell=bash

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
# shellcheck source=scripts/setup-lib.sh
. "$ROOT/scripts/setup-lib.sh"
if [ -f "$HOME/.cargo/env" ]; then
    # shellcheck source=/dev/null
    . "$HOME/.cargo/env"
fi

TMP="$(mktemp -d -t "${TMP_PREFIX:-cohort-desktop}.XXXXXX")"
XVFB_PID=""
DRIVER_PID=""
# descendants PID: every process below PID, deepest last.
descendants() {
    local child
    for child in $(ps -o pid= --ppid "$1" 2>/dev/null); do
        echo "$child"
        descendants "$child"
    done
}

# stop PID...: SIGTERM, wait up to 5 s, then SIGKILL what is left. Only our own PIDs.
stop() {
    local pid
    for pid in "$@"; do kill -TERM "$pid" 2>/dev/null || true; done
    for _ in $(seq 50); do
        local alive=0
        for pid in "$@"; do
            if kill -0 "$pid" 2>/dev/null; then alive=1; fi
        done
        [ "$alive" -eq 0 ] && return 0
        sleep 0.1
    done
    for pid in "$@"; do kill -KILL "$pid" 2>/dev/null || true; done
}

cleanup() {
    local rc=$?
    if [ -n "$DRIVER_PID" ]; then
        # tauri-driver stops WebKitWebDriver (and so the app) on SIGTERM; SIGKILL would orphan
        # them. Note its children first, to stop any that outlive it.
        local children
        children="$(descendants "$DRIVER_PID" | tr '\n' ' ')"
        stop "$DRIVER_PID"
        # shellcheck disable=SC2086
        [ -n "$children" ] && stop $children
    fi
    [ -n "$XVFB_PID" ] && stop "$XVFB_PID"
    if [ "$rc" -ne 0 ]; then
        for log in "$TMP"/*.log; do
            [ -s "$log" ] || continue
            echo "--- last lines of $(basename "$log")" >&2
            tail -n 40 "$log" >&2
        done
    fi
    if [ "${KEEP_TMP:-}" = 1 ]; then
        echo "kept $TMP" >&2
    else
        rm -rf "$TMP"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

for cmd in Xvfb WebKitWebDriver tauri-driver node npm; do
    if ! command -v "$cmd" >/dev/null 2>&1; then
        echo "missing $cmd: run scripts/setup-desktop.sh first" >&2
        exit 1
    fi
done

# start_display: Xvfb on a display it picks itself; exports DISPLAY, and points the app's
# data and XDG dirs into the temp dir.
start_display() {
    Xvfb -displayfd 3 -screen 0 1280x800x24 -nolisten tcp 3>"$TMP/display" 2>"$TMP/xvfb.log" &
    XVFB_PID=$!
    for _ in $(seq 100); do
        [ -s "$TMP/display" ] && break
        kill -0 "$XVFB_PID" 2>/dev/null || { echo "Xvfb did not start" >&2; exit 1; }
        sleep 0.05
    done
    DISPLAY=":$(head -n1 "$TMP/display")"
    export DISPLAY
    export COHORT_DATA_DIR="$TMP/data"
    export XDG_CONFIG_HOME="$TMP/config" XDG_DATA_HOME="$TMP/share" XDG_CACHE_HOME="$TMP/cache"
    export SCREENSHOT_DIR="$ROOT/docs/screenshots"
    mkdir -p "$XDG_CONFIG_HOME" "$XDG_DATA_HOME" "$XDG_CACHE_HOME" "$SCREENSHOT_DIR"
}

# start_display_and_driver: start_display, then tauri-driver on free ports; also exports
# WEBDRIVER_PORT.
start_display_and_driver() {
    start_display
    free_port() {
        python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
    }
    WEBDRIVER_PORT="$(free_port)"
    NATIVE_PORT="$(free_port)"
    export WEBDRIVER_PORT
    tauri-driver --port "$WEBDRIVER_PORT" --native-port "$NATIVE_PORT" \
        --native-driver "$(command -v WebKitWebDriver)" >"$TMP/tauri-driver.log" 2>&1 &
    DRIVER_PID=$!
    for _ in $(seq 100); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$WEBDRIVER_PORT") 2>/dev/null; then break; fi
        kill -0 "$DRIVER_PID" 2>/dev/null || { echo "tauri-driver did not start" >&2; exit 1; }
        sleep 0.05
    done
}
