#!/usr/bin/env bash
# Dependency-direction check for Cohort's crates. The rules (a table) and the logic live in
# check-deps.py next to this file; this wrapper only finds it. Usage: see --help.
set -euo pipefail
exec python3 "$(dirname "${BASH_SOURCE[0]}")/check-deps.py" "$@"
