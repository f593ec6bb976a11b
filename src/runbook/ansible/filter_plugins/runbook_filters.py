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


class FilterModule:
    def filters(self):
        return {"site_leader": site_leader}
