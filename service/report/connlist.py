"""The connectivity list of a cluster state, in netpol-analyzer's ``list`` text format.

One line per connected pair of endpoints, ``source => destination : connections``:

    0.0.0.0-255.255.255.255[External] => shop/web[Deployment] : TCP 8080
    shop/web[Deployment] => shop/db[StatefulSet] : TCP 5432

An endpoint is either a workload (the object owning the pods, ``ns/name[Kind]``;
a bare pod is its own workload) or a range of addresses outside the cluster.

Workloads are judged by one representative pod each (the first of its pods in
the state): every pod of a workload shares its template, so labels, namespace
and named ports, everything policies look at, are the same.

External ranges: the address space is cut at every boundary of every ipBlock
``cidr`` and ``except`` the policies have in force, so each range lies wholly
inside or wholly outside every ipBlock and one address (its first) stands for
all of it. IPv4 is always covered; IPv6 only when a policy names an IPv6 block.
Like netpol-analyzer, ranges are printed as split, never merged back, even when
neighbours end up with the same connections: the split is a property of the
policies, so the ranges stay the same whichever workloads are looked at and two
reports of the same policies line up range by range.

Self pairs (a workload to itself) and pairs of two external ranges are left
out. Lines are sorted by source then destination, external ranges (IPv4 before
IPv6, by address) before workloads (by namespace, name, kind).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from itertools import pairwise
from typing import TypeAlias

from service.policy.connections import ConnectionSet
from service.policy.evaluate import Evaluator
from service.policy.model import (
    ClusterState,
    Direction,
    IPAddress,
    IPNetwork,
    NetworkPolicy,
    Pod,
    WorkloadRef,
)

__all__ = [
    "ConnList",
    "Connection",
    "Endpoint",
    "ExternalRange",
    "compute_connlist",
    "endpoint_sort_key",
    "external_ranges",
    "render_connlist",
    "representative_pods",
]

_TOP = {4: 2**32 - 1, 6: 2**128 - 1}


def _address(version: int, value: int) -> IPAddress:
    return ipaddress.IPv4Address(value) if version == 4 else ipaddress.IPv6Address(value)


@dataclass(frozen=True, slots=True)
class ExternalRange:
    """Addresses ``first``..``last`` (inclusive) outside the cluster, of one IP version."""

    first: IPAddress
    last: IPAddress

    @property
    def version(self) -> int:
        return self.first.version

    @property
    def span(self) -> str:
        """``first-last`` without the ``[External]`` tag."""
        return f"{self.first}-{self.last}"

    def __str__(self) -> str:
        return f"{self.span}[External]"


Endpoint: TypeAlias = WorkloadRef | ExternalRange


def endpoint_sort_key(endpoint: Endpoint) -> tuple[int, str, str, str]:
    """External ranges first (IPv4, then IPv6, by address), then workloads by name."""
    if isinstance(endpoint, ExternalRange):
        # Zero-padded so the string order is the numeric order of the addresses.
        return (0, str(endpoint.version), f"{int(endpoint.first):039d}", "")
    return (1, endpoint.namespace, endpoint.name, endpoint.kind)


@dataclass(frozen=True, slots=True)
class Connection:
    """The connections allowed from ``source`` to ``destination`` (never empty)."""

    source: Endpoint
    destination: Endpoint
    connections: ConnectionSet

    def __str__(self) -> str:
        return f"{self.source} => {self.destination} : {self.connections}"


@dataclass(frozen=True, slots=True)
class ConnList:
    """Every endpoint looked at, and every connected pair among them, sorted."""

    workloads: tuple[WorkloadRef, ...]
    external: tuple[ExternalRange, ...]
    connections: tuple[Connection, ...]


def _ip_blocks(policies: Iterable[NetworkPolicy]) -> Iterator[IPNetwork]:
    for policy in policies:
        for direction in Direction:
            # rules() drops the rules of a direction the policy does not list: not in force.
            for rule in policy.rules(direction):
                for peer in rule.peers:
                    if peer.ip_block is not None:
                        yield peer.ip_block.cidr
                        yield from peer.ip_block.excepts


def external_ranges(policies: Iterable[NetworkPolicy]) -> tuple[ExternalRange, ...]:
    """The address space split at every ipBlock boundary of ``policies``, sorted."""
    cuts: dict[int, set[int]] = {4: {0, _TOP[4] + 1}}
    for net in _ip_blocks(policies):
        # A network is an aligned block: it starts at its network address and ends
        # just before broadcast+1, so cutting at both makes it a union of ranges.
        bounds = cuts.setdefault(net.version, {0, _TOP[net.version] + 1})
        bounds.add(int(net.network_address))
        bounds.add(int(net.broadcast_address) + 1)
    ranges: list[ExternalRange] = []
    for version in sorted(cuts):
        points = sorted(cuts[version])
        ranges.extend(
            ExternalRange(_address(version, lo), _address(version, hi - 1))
            for lo, hi in pairwise(points)
        )
    return tuple(ranges)


def representative_pods(pods: Iterable[Pod]) -> dict[WorkloadRef, Pod]:
    """The first pod of each workload, in the order the pods are given."""
    found: dict[WorkloadRef, Pod] = {}
    for pod in pods:
        found.setdefault(pod.owner, pod)
    return found


def compute_connlist(state: ClusterState) -> ConnList:
    """Every connected (workload or external range) pair of ``state``, with its connections."""
    evaluator = Evaluator(state)
    pods = representative_pods(state.pods)
    workloads = tuple(sorted(pods, key=endpoint_sort_key))
    ranges = external_ranges(state.policies)
    found: list[Connection] = []

    def add(source: Endpoint, destination: Endpoint, allowed: ConnectionSet) -> None:
        if allowed:
            found.append(Connection(source, destination, allowed))

    for src in workloads:
        for dst in workloads:
            if src != dst:
                add(src, dst, evaluator.connections(pods[src], pods[dst]))
        for outside in ranges:
            add(src, outside, evaluator.connections(pods[src], outside.first))
            add(outside, src, evaluator.connections(outside.first, pods[src]))
    found.sort(key=lambda c: (endpoint_sort_key(c.source), endpoint_sort_key(c.destination)))
    return ConnList(workloads=workloads, external=ranges, connections=tuple(found))


def render_connlist(connlist: ConnList) -> str:
    """netpol-analyzer's ``list`` text: one line per connected pair (empty when none)."""
    return "".join(f"{connection}\n" for connection in connlist.connections)
