#!/usr/bin/env bash
# Shared setup for scripts/test.sh, scripts/run.sh and the end-to-end harnesses: installs
# only what is missing (Debian packages, rustup and the toolchain pinned in
# rust-toolchain.toml, npm packages from lock files). Source it.

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/cohort-target}"
export DEBIAN_FRONTEND=noninteractive

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

# npm_install DIR: installs DIR's npm packages from its package-lock.json when its
# node_modules is missing or older than the lock file. `npm install`, not `npm ci`: npm ci
# refuses a lock file that lacks an optional platform package the registry does not serve
# (vite's Windows-only napi-windows-process-start-time), while npm install installs the
# locked versions without it and leaves the lock file as it is.
npm_install() {
    local dir="$1"
    if [ ! -f "$dir/node_modules/.package-lock.json" ] ||
        [ "$dir/package-lock.json" -nt "$dir/node_modules/.package-lock.json" ]; then
        echo "npm install in $dir"
        npm install --prefix "$dir" --no-audit --no-fund
    fi
}

# build_ui_if_stale: builds ui/dist when it is missing or older than the UI's sources.
build_ui_if_stale() {
    local ui
    ui="$(cd "$(dirname "${BASH_SOURCE[0]}")/../ui" && pwd)"
    if [ ! -f "$ui/dist/index.html" ] ||
        [ -n "$(find "$ui/src" "$ui/index.html" "$ui/package.json" -newer "$ui/dist/index.html" -print -quit)" ]; then
        npm_install "$ui"
        echo "building ui/dist"
        npm --prefix "$ui" run build
    fi
}

# build_e2e_bins: builds the binaries the end-to-end tests run: `cohort`, and
# `cohort-desktop` serving the UI built into it (custom-protocol; without it a debug build
# loads the dev server's URL), after ui/dist, which the desktop app embeds. Built for the
# whole workspace with its tests, so that each dependency gets the same features as in
# `cargo nextest run --workspace` (the tests turn on the dev-dependencies' features) and the
# crates nextest compiled are reused: only tauri and what depends on it compile again.
# Building the two packages alone recompiled ~140 crates.
build_e2e_bins() {
    build_ui_if_stale
    (cd "$(dirname "${BASH_SOURCE[0]}")/.." &&
        cargo build --locked --workspace --bins --tests --features cohort-desktop/custom-protocol)
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

    echo "rust:    $(rustc --version)"
    echo "target:  $CARGO_TARGET_DIR"
}

