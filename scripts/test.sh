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
# ansible-test sanity on the collection, beside pytest (it waits on pip and the disk more
# than on the CPU); its output and code are reported after pytest's.
sanity_log=$(mktemp)
bash scripts/sanity.sh >"$sanity_log" 2>&1 &
sanity=$!
echo "== pytest"
status=0
pytest -p no:cacheprovider -n "${RUNBOOK_TEST_WORKERS:-2}" --dist loadfile --durations=25 "$@" \
  || status=$?
echo "== ansible-test sanity (the runbook.wordpress collection)"
sanity_status=0
wait "$sanity" || sanity_status=$?
grep -vE "^(Collecting|  Downloading|  Using cached|Looking in|WARNING: Location|Installing|Successfully installed| +[━-])" \
  "$sanity_log" | tail -40
[ "$sanity_status" -eq 0 ] && echo "sanity: every test passed"
[ "$status" -ne 0 ] && exit "$status"
exit "$sanity_status"
