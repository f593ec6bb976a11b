from runbook.cli import run

run()
