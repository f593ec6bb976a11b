"""Progressive delivery as pure code: a rollout's plan (steps, waves of sites), where it
stands, and what a gate's verdict means for it. The driving (writes, scans, waits) is
runbook.service.rollout's."""
