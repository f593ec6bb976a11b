#!/usr/bin/env bash
# Test it: install everything and run every check and the whole suite, sandbox included.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh test
# molecule and ansible-lint shell out to ansible-* commands: the venv's must come first.
export PATH="$PWD/.venv/bin:$PATH"
# The suite's run records and run directories go to a scratch folder, not the user's.
export RUNBOOK_STATE_DIR="${RUNBOOK_STATE_DIR:-$(mktemp -d)}"

echo "== ruff"; ruff check src tests bench && ruff format --check src tests bench
echo "== mypy"; mypy
echo "== import-linter"; lint-imports --no-cache
echo "== yamllint"; yamllint -s .
echo "== ansible-lint"; ansible-lint -q
# Two workers (RUNBOOK_TEST_WORKERS), each with a sandbox of its own; a test file stays on
# one worker (its tests share fixtures and timing); the slowest tests are listed at the end.
echo "== pytest"
pytest -p no:cacheprovider -n "${RUNBOOK_TEST_WORKERS:-2}" --dist loadfile --durations=25 "$@"
