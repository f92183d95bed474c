#!/usr/bin/env bash
# Renders the app icons the desktop bundle uses from icons/icon.svg with the Tauri CLI
# pinned in src-tauri/package.json (run `npm ci --prefix src-tauri` first), keeping only
# the desktop sizes: the CLI also writes Windows Store, Android and iOS variants, which
# a Linux .deb does not use. Deterministic: the same SVG gives byte-identical files.
#
#     icons/generate.sh
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT="$(mktemp -d)"
trap 'rm -rf "$OUT"' EXIT

if ! log="$("$ROOT/src-tauri/node_modules/.bin/tauri" icon "$ROOT/icons/icon.svg" --output "$OUT" 2>&1)"; then
    echo "$log" >&2
    exit 1
fi
for f in 32x32.png 64x64.png 128x128.png 128x128@2x.png icon.png icon.ico; do
    cp "$OUT/$f" "$ROOT/icons/$f"
done
echo "icons: wrote 32x32, 64x64, 128x128, 128x128@2x (256), icon.png (512) and icon.ico"
