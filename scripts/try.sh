#!/usr/bin/env bash
# Try it: install everything, build the sandbox fleet, break it, roll it back, show the result.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
export PATH="$PWD/.venv/bin:$PATH"
runbook sandbox up
runbook sandbox reset                     # every site on mase 2.1.0, modern features on
runbook sandbox fault plugin-rest alpha   # 2.1.0's REST routes start logging fatals
runbook p0-rollback --reason "P0: mase 2.1.0 REST API fatals on alpha" --yes
runbook status                            # flags off, legacy on, plugin 2.0.1 everywhere
