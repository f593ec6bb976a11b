"""The sandbox fleet's shape: sites, nodes, names and addresses. Pure data, no I/O."""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass, field

from runbook.errors import RunbookError

SITE_NAMES = (
    "alpha",
    "beta",
    "gamma",
    "delta",
    "epsilon",
    "zeta",
    "eta",
    "theta",
    "iota",
    "kappa",
    "lambda",
    "mu",
    "nu",
    "xi",
    "omicron",
    "pi",
    "rho",
    "sigma",
    "tau",
    "upsilon",
)
DEFAULT_SUBNET = "10.213.77.0/24"
MAX_HOSTS = 200


def prefix() -> str:
    """Network namespaces, links and the bridge all carry this prefix, so teardown finds them.

    $RUNBOOK_SANDBOX_PREFIX (with $RUNBOOK_SANDBOX_DIR and $RUNBOOK_SANDBOX_SUBNET) lets a
    second sandbox run beside the first: the tests build throwaway fleets that way.
    """
    value = os.environ.get("RUNBOOK_SANDBOX_PREFIX", "rbx")
    if not value.isalnum() or not value.islower() or len(value) > 6:
        raise RunbookError(
            f"RUNBOOK_SANDBOX_PREFIX={value!r}: use 1-6 lowercase letters and digits"
        )
    return value


def default_subnet() -> str:
    return os.environ.get("RUNBOOK_SANDBOX_SUBNET", DEFAULT_SUBNET)


@dataclass(frozen=True)
class Node:
    name: str
    site: str
    ip: str
    index: int

    @property
    def netns(self) -> str:
        return f"{prefix()}-{self.name}"

    @property
    def veth_host(self) -> str:
        # Interface names are limited to 15 characters: number the links, not name them.
        return f"{prefix()}v{self.index}"


@dataclass(frozen=True)
class Site:
    name: str
    index: int
    nodes: tuple[Node, ...] = field(default_factory=tuple)

    @property
    def db_port(self) -> int:
        return 3306 + self.index


@dataclass(frozen=True)
class Topology:
    subnet: str
    sites: tuple[Site, ...]

    @property
    def gateway(self) -> str:
        return str(next(ipaddress.ip_network(self.subnet).hosts()))

    @property
    def prefixlen(self) -> int:
        return ipaddress.ip_network(self.subnet).prefixlen

    @property
    def nodes(self) -> tuple[Node, ...]:
        return tuple(n for s in self.sites for n in s.nodes)

    def to_dict(self) -> dict[str, object]:
        return {
            "subnet": self.subnet,
            "sites": [{"name": s.name, "nodes": [n.name for n in s.nodes]} for s in self.sites],
        }


def site_name(i: int) -> str:
    return SITE_NAMES[i] if i < len(SITE_NAMES) else f"site{i + 1}"


def build(
    sites: int | None = None, nodes: int | None = None, subnet: str | None = None
) -> Topology:
    """The default fleet (alpha: 2 nodes, beta: 1) or `sites` sites of `nodes` nodes each."""
    layout = [2, 1] if sites is None and nodes is None else [nodes or 1] * (sites or 1)
    if any(n < 1 for n in layout) or not layout:
        raise RunbookError("--sites and --nodes must be at least 1")
    total = sum(layout)
    subnet = subnet or default_subnet()
    try:
        network = ipaddress.ip_network(subnet)
    except ValueError as exc:
        raise RunbookError(f"sandbox subnet {subnet!r}: {exc}") from None
    hosts = list(network.hosts())
    if total > MAX_HOSTS or total + 10 > len(hosts):
        raise RunbookError(
            f"{total} hosts do not fit the sandbox (at most {MAX_HOSTS}, subnet {subnet})"
        )
    built: list[Site] = []
    index = 0
    for s, count in enumerate(layout):
        name = site_name(s)
        site_nodes = []
        for n in range(count):
            site_nodes.append(Node(f"{name}-{n + 1}", name, str(hosts[10 + index]), index))
            index += 1
        built.append(Site(name, s, tuple(site_nodes)))
    return Topology(subnet, tuple(built))


def from_dict(data: dict[str, object]) -> Topology:
    """Rebuild a topology saved by `to_dict` (the sandbox's state file)."""
    raw_sites = data["sites"]
    assert isinstance(raw_sites, list)
    subnet = str(data["subnet"])
    hosts = list(ipaddress.ip_network(subnet).hosts())
    built = []
    index = 0
    for s, raw in enumerate(raw_sites):
        site_nodes = []
        for node_name in raw["nodes"]:
            site_nodes.append(Node(node_name, raw["name"], str(hosts[10 + index]), index))
            index += 1
        built.append(Site(raw["name"], s, tuple(site_nodes)))
    return Topology(subnet, tuple(built))
