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

as_root() {
    if [ "$(id -u)" -eq 0 ]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo -E "$@"
    else
        echo "need root (or sudo) to run: $*" >&2
        return 1
    fi
}

APT_UPDATED=0
# need_pkg PACKAGE: apt-get install it (running `apt-get update` once, first).
need_pkg() {
    if ! command -v apt-get >/dev/null 2>&1; then
        echo "need the Debian package '$1' but there is no apt-get" >&2
        return 1
    fi
    if [ "$APT_UPDATED" -eq 0 ]; then
        as_root apt-get update -qq
        APT_UPDATED=1
    fi
    echo "installing $1"
    as_root apt-get install -y -qq --no-install-recommends "$1"
}

# need_cmd COMMAND APT_PACKAGE: install the package only if the command is missing.
need_cmd() {
    command -v "$1" >/dev/null 2>&1 || need_pkg "$2"
}

setup() {
    need_cmd python3 python3       # scripts/check-deps.py
    need_cmd cc build-essential    # linker; rusqlite's bundled SQLite is C
    need_cmd curl curl             # rustup installer, below
    if [ ! -f /etc/ssl/certs/ca-certificates.crt ]; then
        need_pkg ca-certificates   # HTTPS to crates.io and sh.rustup.rs
    fi

    # Rust: rustup, then the toolchain and components pinned in rust-toolchain.toml.
    if [ -f "$HOME/.cargo/env" ]; then
        # shellcheck source=/dev/null
        . "$HOME/.cargo/env"
    fi
    if ! command -v rustup >/dev/null 2>&1; then
        echo "installing rustup"
        curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs |
            sh -s -- -y --no-modify-path --profile minimal --default-toolchain none
        # shellcheck source=/dev/null
        . "$HOME/.cargo/env"
    fi
    # With no arguments, `rustup toolchain install` installs what rust-toolchain.toml pins,
    # components included; it is a no-op when they are already there.
    if ! cargo fmt --version >/dev/null 2>&1 || ! cargo clippy --version >/dev/null 2>&1; then
        rustup toolchain install
        rustup component add rustfmt clippy
    fi

    if ! cargo nextest --version >/dev/null 2>&1; then
        echo "installing cargo-nextest"
        cargo install cargo-nextest --locked
    fi

    echo "rust:    $(rustc --version)"
    echo "nextest: $(cargo nextest --version 2>/dev/null | head -n1)"
    echo "python:  $(python3 --version 2>&1)"
    echo "target:  $CARGO_TARGET_DIR"
}

step "setup: tools" setup

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
# >>> UI STEPS GO HERE (added with the desktop issue) <<<
# Keep the same shape: setup above installs node/npm and Debian's chromium only if
# missing, then one `step` per check, e.g.
#   step "ui: install"   npm --prefix ui ci
#   step "ui: check"     npm --prefix ui run check       # svelte-check + tsc
#   step "ui: vitest"    npm --prefix ui run test        # component tests, Mock backend
#   step "ui: e2e"       npm --prefix ui run e2e         # playwright-core + chromium
# ------------------------------------------------------------------------------------

CURRENT_STEP="done"
