#!/usr/bin/env bash
# Cohort: the one command that sets up a fresh Debian machine and runs the app.
#
#     scripts/run.sh                 # build, then open your data dir (sample course on first run)
#     scripts/run.sh course list     # any `cohort` command, after the same setup
#
# Installs only what is missing (build tools, the pinned Rust toolchain), builds the
# `cohort` binary in release mode, and runs it on the default data dir (or --data-dir /
# COHORT_DATA_DIR). Today the app is the `cohort` command line; the desktop window arrives
# with the desktop issue and will be started by this same script.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
# shellcheck source=scripts/setup-lib.sh
. "$ROOT/scripts/setup-lib.sh"

setup >&2
cargo build --release --locked -p cohort-cli >&2
COHORT="$CARGO_TARGET_DIR/release/cohort"

if [ "$#" -gt 0 ]; then
    exec "$COHORT" "$@"
fi

# First run: a sample course so there is something to look at.
if [ "$("$COHORT" --json course list)" = "[]" ]; then
    "$COHORT" sample
fi
"$COHORT" me
echo
echo "Spaces:"
"$COHORT" space list
echo
echo "Courses:"
"$COHORT" course list
echo
echo "Threads:"
"$COHORT" thread list
echo
echo "Next: scripts/run.sh course show <id>, scripts/run.sh search <words>, scripts/run.sh --help"
