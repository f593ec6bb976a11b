# -*- coding: utf-8 -*-
"""Filters for runbook's playbooks. Pure functions; errors name the filter and the value."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError


def _vars_of(hostvars, host, name):
    """One host's variables, or an error naming the filter and the host."""
    try:
        return hostvars[host]
    except (KeyError, AttributeError) as exc:
        raise AnsibleFilterError(f"{name}: no hostvars for {host!r}: {exc}") from exc


def site_leaders(hosts, hostvars):
    """Each site's first node among `hosts`, with the hosts it was worked out from:
    {"hosts": [...], "leaders": {site: host}}. Set once per run (run_once set_fact), it spares
    every later task of every node a walk through the other hosts' variables (each host's
    variables are worked out anew on every access: at 30 hosts that walk cost 0.4 s a task)."""
    leaders = {}
    for host in hosts:
        site = _vars_of(hostvars, host, "site_leaders").get("site")
        if site is not None:
            leaders.setdefault(str(site), host)
    return {"hosts": list(hosts), "leaders": leaders}


def locked_sites(hosts, hostvars):
    """The sites whose lock this run took on one of `hosts`: by site_status's call
    (site_status_node.lock_taken) or by site_lock's own (site_lock_taken)."""
    sites = set()
    for host in hosts:
        facts = hostvars[host]
        status = facts.get("site_status_node") or {}
        taken = [status.get("lock_taken") if isinstance(status, dict) else None]
        taken.append(facts.get("site_lock_taken"))
        for result in taken:
            if isinstance(result, dict) and result.get("lock_held") is False:
                sites.add(str(facts.get("site")))
    return sorted(sites)


def stand_ins(hosts, hostvars, known):
    """The node standing in for each site whose first node (site_leaders' answer, `known`)
    is no longer among `hosts` (unreachable, or its read failed): the site's next node among
    `hosts`. Not for a site whose first node found its lock held by another run (that site
    stops), nor for one with no node left. Where the site's other nodes were not read yet
    (common/lock.yml with lock_read_nodes: first), every one of them, in order: they are read
    first, and the first that answers stands in."""
    hosts = list(hosts)
    present = set(hosts)
    now = site_leaders(hosts, hostvars)["leaders"]  # each site's first node still here
    found = []
    for site, leader in (known or {}).get("leaders", {}).items():
        if leader in present or site not in now:
            continue
        status = _vars_of(hostvars, leader, "stand_ins").get("site_status_node") or {}
        if isinstance(status, dict) and status.get("lock_held"):
            continue
        if _unread(_vars_of(hostvars, now[site], "stand_ins")):
            found.extend(h for h in hosts if str(hostvars[h].get("site")) == site)
        else:
            found.append(now[site])
    return found


def _unread(facts):
    """Whether a host's read was left out (common/lock.yml with lock_read_nodes: first)."""
    status = facts.get("site_status_node")
    return isinstance(status, dict) and bool(status.get("skipped"))


def lacking_vars(hosts, hostvars, names):
    """The hosts lacking one of the variables `names` (preflight's per-host check, worked out
    for every host in one pass), in order."""
    found = []
    for host in hosts:
        have = _vars_of(hostvars, host, "lacking_vars")
        if any(name not in have for name in names or []):
            found.append(host)
    return found


def lock_holders(hosts, hostvars):
    """The hosts still holding a site lock this run took: taken in site_status's call
    (site_status_node.lock_taken) or by site_lock's own (site_lock_taken, not skipped), and not
    released by the smoke test since (smoke_test_result.lock_released). Outside runbook's
    playbooks, where neither call was registered, every host, to be sure."""
    found = []
    for host in hosts:
        facts = hostvars[host]
        status, taken = facts.get("site_status_node"), facts.get("site_lock_taken")
        smoke = facts.get("smoke_test_result")
        if isinstance(smoke, dict) and smoke.get("lock_released"):
            continue
        if (
            (isinstance(status, dict) and "lock_taken" in status)
            or (isinstance(taken, dict) and not taken.get("skipped"))
            or (taken is None and status is None)
        ):
            found.append(host)
    return found


def options_not_set(hosts, hostvars):
    """The hosts whose site_status call read and locked their site but could not set its
    options (site_status_node.set_error: the database down, say), in order."""
    found = []
    for host in hosts:
        status = _vars_of(hostvars, host, "options_not_set").get("site_status_node")
        if isinstance(status, dict) and status.get("set_error"):
            found.append(host)
    return found


def nodes_outside(hosts, hostvars, sites):
    """The hosts whose `site` is not one of `sites` (the nodes of the sites a run does not
    hold), in order."""
    wanted = {str(site) for site in sites or []}
    return [host for host in hosts if str(hostvars[host].get("site")) not in wanted]


def site_leader(hosts, hostvars, site, known=None):
    """The first of `hosts` (in order) whose `site` is `site`: where a site's options change.

    `hosts` is normally ansible_play_hosts (inventory order, failed hosts left out), so the
    leader is the site's first node still in the play. `known` is site_leaders' answer for
    the same hosts, if there is one: then nothing is walked; for other hosts (a node failed
    since, or a wave of a serial play) it is ignored.
    """
    if known and known.get("hosts") == list(hosts) and site in known.get("leaders", {}):
        return known["leaders"][site]
    for host in hosts:
        if _vars_of(hostvars, host, "site_leader").get("site") == site:
            return host
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
        return {
            "site_leader": site_leader,
            "site_leaders": site_leaders,
            "stand_ins": stand_ins,
            "nodes_outside": nodes_outside,
            "options_not_set": options_not_set,
            "lock_holders": lock_holders,
            "lacking_vars": lacking_vars,
            "locked_sites": locked_sites,
            "health_verdict": health_verdict,
        }
