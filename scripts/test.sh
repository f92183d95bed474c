#!/usr/bin/env bash
# Cohort: the one command that sets up a fresh Debian machine and runs every check and test.
#
#     scripts/test.sh
#
# Installs only what is missing (apt packages, the Rust toolchain pinned in
# rust-toolchain.toml with rustfmt and clippy, cargo-nextest), then runs, in order:
# rustfmt, clippy, rustdoc, the dependency-direction check, the tests (cargo-nextest, whose
# closing summary CI reads) and the doctests. Stops at the first failing step with a
# non-zero exit code and always prints the total elapsed time.
#
# Environment:
#   CARGO_TARGET_DIR  build dir (default: $HOME/.cache/cohort-target, shared between clones)
#   NEXTEST_PROFILE   nextest profile from .config/nextest.toml (default: ci)
#   CI                set by CI; no effect beyond what cargo/nextest do with it
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/cohort-target}"
export NEXTEST_PROFILE="${NEXTEST_PROFILE:-ci}"
export DEBIAN_FRONTEND=noninteractive

START=$SECONDS
CURRENT_STEP="setup"

banner() {
    printf '\n==> %s\n' "$*"
}

fmt_secs() {
    printf '%dm%02ds' $(($1 / 60)) $(($1 % 60))
}

on_exit() {
    local rc=$?
    local total
    total="$(fmt_secs $((SECONDS - START)))"
    if [ "$rc" -eq 0 ]; then
        printf '\n==> All checks passed (total %s)\n' "$total"
    else
        printf '\n==> FAILED at step: %s (exit %d, total %s)\n' "$CURRENT_STEP" "$rc" "$total" >&2
    fi
}
trap on_exit EXIT

# step NAME CMD...: print a banner, run the command, report its time; any failure stops
# the script (set -e) and on_exit names the step.
step() {
    CURRENT_STEP="$1"
    shift
    banner "$CURRENT_STEP"
    printf '    $ %s\n' "$*"
    local t0=$SECONDS
    "$@"
    printf -- '--- %s: ok (%s)\n' "$CURRENT_STEP" "$(fmt_secs $((SECONDS - t0)))"
}

# ------------------------------------------------------------------------------ setup ---

# shellcheck source=scripts/setup-lib.sh
. "$ROOT/scripts/setup-lib.sh"

setup_tests() {
    setup
    if ! cargo nextest --version >/dev/null 2>&1; then
        echo "installing cargo-nextest"
        cargo install cargo-nextest --locked
    fi
    echo "nextest: $(cargo nextest --version 2>/dev/null | head -n1)"
    echo "python:  $(python3 --version 2>&1)"
    need_cmd node nodejs
    need_cmd npm npm
    # crates/cli/tests/netns.rs: network namespaces and veths (ip), packet loss and the
    # NFQUEUE delay line in the router namespace (iptables).
    need_cmd ip iproute2
    need_cmd iptables iptables
    echo "node:    $(node --version) (npm $(npm --version))"
}

step "setup: tools" setup_tests
# The workspace includes the desktop shell, whose crates compile against WebKitGTK/GTK; this
# also installs Xvfb, WebKitWebDriver and tauri-driver for the desktop end-to-end test.
step "setup: desktop build dependencies" bash scripts/setup-desktop.sh

# ---------------------------------------------------------------------- rust checks ---

step "rustfmt" cargo fmt --all --check
step "clippy" cargo clippy --workspace --all-targets --locked -- -D warnings
step "rustdoc" env RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --locked
step "dependency direction: self-test" bash scripts/check-deps.sh --self-test
step "dependency direction" bash scripts/check-deps.sh

# ---------------------------------------------------------------------------- tests ---

step "tests (cargo nextest, profile $NEXTEST_PROFILE)" cargo nextest run --workspace --locked
step "doctests" cargo test --workspace --doc --locked

# ------------------------------------------------------------------------- UI steps ---
# The Svelte UI: dependencies (npm, from package-lock.json), type check (svelte-check + tsc),
# component tests (Vitest over the Mock backend; its summary shows the counts), production
# build (ui/dist, which `cohort serve --http` and the desktop app serve).
step "ui: install" npm --prefix ui install --no-audit --no-fund
step "ui: check (svelte-check, tsc)" npm --prefix ui run check
step "ui: component tests (vitest)" npm --prefix ui run test
step "ui: build" npm --prefix ui run build
# Browser end-to-end: two real `cohort serve` peers on loopback, their web UIs driven in
# Debian's chromium by playwright-core (installed by the script), axe-core scans; node --test
# prints the counts.
step "web e2e (two peers, chromium)" env SKIP_BUILD=1 bash tests/e2e/run.sh
# The real desktop app under Xvfb, driven by tauri-driver + WebKitWebDriver (node --test).
step "desktop e2e (Xvfb, tauri-driver)" bash tests/desktop/run.sh

CURRENT_STEP="done"
