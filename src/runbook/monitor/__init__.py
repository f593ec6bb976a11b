"""The monitor's decisions, as pure code: the policy (which trigger does what) and the engine
(from a site's verdict and its history to an action, with the loop protection: streaks,
cooldowns, the circuit breaker, verification and the fleet-wide brake).

The loop itself (scans, the record, acting) is runbook.service.monitor.
"""
