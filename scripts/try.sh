#!/usr/bin/env bash
# Try it: install everything, build the sandbox fleet, and run the main job on it.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
export PATH="$PWD/.venv/bin:$PATH"
runbook sandbox up
runbook status
