#!/usr/bin/env bash
# Browser end-to-end tests of Cohort's web mode (`cohort serve --http`), two peers on
# loopback driven through Chromium. Usage: tests/e2e/run.sh
# Env: SKIP_BUILD=1 (use the existing binary and ui/dist), E2E_KEEP=1 (keep data dirs).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
# shellcheck source=scripts/setup-lib.sh
. "$root/scripts/setup-lib.sh"

need_cmd chromium chromium

if [[ "${SKIP_BUILD:-}" != 1 ]]; then
  echo "== building ui/dist (if stale) and the e2e binaries"
  build_e2e_bins
fi
export COHORT_BIN="${COHORT_BIN:-$CARGO_TARGET_DIR/debug/cohort}"
[[ -x "$COHORT_BIN" ]] || { echo "missing $COHORT_BIN" >&2; exit 1; }
[[ -f "$root/ui/dist/index.html" ]] || { echo "missing $root/ui/dist" >&2; exit 1; }

npm_install "$here"

echo "== node --test"
cd "$here"
exec node --test --test-concurrency=1 web.spec.mjs
