#!/usr/bin/env bash
# End-to-end tests of the real desktop app: builds cohort-desktop (debug) if needed, starts
# Xvfb on a free display and tauri-driver (which drives the app's WebKitGTK webview through
# Debian's WebKitWebDriver) on free ports, runs app.test.mjs with node's test runner, and
# always stops everything it started. Exits non-zero when a test fails.
#
#     tests/desktop/run.sh
#
# Environment:
#   CARGO_TARGET_DIR      build dir (default: $HOME/.cache/cohort-target)
#   COHORT_DESKTOP_APP    test this binary instead of building one
#   COHORT_BIN            the `cohort` CLI for the peer in the sync test (default: built here)
#   KEEP_TMP=1            keep the temp dir (data dir, logs) for a look afterwards
set -euo pipefail

TMP_PREFIX=cohort-desktop-e2e
# shellcheck source=tests/desktop/harness.sh
. "$(dirname "${BASH_SOURCE[0]}")/harness.sh"

# --- build (debug), with the UI embedded ---
# The `cohort` CLI plays the other member in the sync test; both are built together.
if [ -z "${COHORT_DESKTOP_APP:-}" ] || [ -z "${COHORT_BIN:-}" ]; then
    build_e2e_bins
fi
COHORT_DESKTOP_APP="${COHORT_DESKTOP_APP:-$CARGO_TARGET_DIR/debug/cohort-desktop}"
COHORT_BIN="${COHORT_BIN:-$CARGO_TARGET_DIR/debug/cohort}"
export COHORT_DESKTOP_APP
export COHORT_BIN
npm_install "$HERE"

start_display_and_driver

echo "desktop e2e: app $COHORT_DESKTOP_APP, display $DISPLAY, tauri-driver :$WEBDRIVER_PORT"
cd "$HERE"
node --test --test-concurrency=1 --test-timeout=300000 app.test.mjs
