#!/usr/bin/env bash
# The test command of the README: installs what is missing (with the browser for the report tests),
# then runs the whole suite. Extra arguments go to pytest (e.g. -k conv).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --test
export BACKPROPLAB_REQUIRE_BROWSER=1
exec .venv/bin/python -m pytest -q "$@"
