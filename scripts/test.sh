#!/usr/bin/env bash
# The tests: install with the dev tools, lint, type-check, run pytest and the CLI contract.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup_venv.sh dev
export PATH="$PWD/.venv/bin:$PATH"

ruff check .
ruff format --check .
mypy
pytest -q
contract=../shared/checks/contract.py
if [ -f "$contract" ]; then
    python "$contract"
else
    echo "CLI contract check not run: $contract not found beside the checkout" >&2
fi
