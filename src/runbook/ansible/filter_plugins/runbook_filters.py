# -*- coding: utf-8 -*-
"""Filters for runbook's playbooks. Pure functions; errors name the filter and the value."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError


def site_leader(hosts, hostvars, site):
    """The first of `hosts` (in order) whose `site` is `site`: where a site's options change.

    `hosts` is normally ansible_play_hosts (inventory order, failed hosts left out), so the
    leader is the site's first node still in the play.
    """
    for host in hosts:
        try:
            if hostvars[host].get("site") == site:
                return host
        except (KeyError, AttributeError) as exc:
            raise AnsibleFilterError(f"site_leader: no hostvars for {host!r}: {exc}") from exc
    raise AnsibleFilterError(f"site_leader: no host of site {site!r} among {list(hosts)!r}")


def health_verdict(value, metric, samples=None, overrides=None):
    """green, yellow, red or inconclusive for `value` of `metric`, by the workflow document's
    tables (runbook's thresholds.yml) with `overrides` (the same shape) laid over them."""
    from runbook.errors import RunbookError
    from runbook.health.thresholds import merged

    try:
        rows = merged(overrides)
    except RunbookError as exc:
        raise AnsibleFilterError(f"health_verdict: {exc}") from exc
    if metric not in rows:
        raise AnsibleFilterError(
            f"health_verdict: no metric {metric!r} (value {value!r}); metrics: "
            + ", ".join(sorted(rows))
        )
    try:
        number = None if value is None else float(value)
    except (TypeError, ValueError):
        raise AnsibleFilterError(
            f"health_verdict: {metric} value {value!r} is not a number"
        ) from None
    return rows[metric].classify(number, None if samples is None else int(samples))


class FilterModule:
    def filters(self):
        return {"site_leader": site_leader, "health_verdict": health_verdict}
