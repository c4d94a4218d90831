#!/usr/bin/env bash
# Create .venv (if missing) and install photoarchive into it, with the dev tools if asked.
# Usage: source scripts/setup_venv.sh [dev]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
if [ ! -x .venv/bin/python ]; then
    python3 -m venv .venv
fi
extra=""
[ "${1:-}" = "dev" ] && extra="[dev,tantivy,ukrainian,postgresql,s3]"
.venv/bin/python -m pip install --quiet --upgrade pip >&2
.venv/bin/python -m pip install --quiet -e ".${extra}" >&2
