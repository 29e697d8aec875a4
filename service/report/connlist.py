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
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from enum import StrEnum
from itertools import pairwise
from typing import TypeAlias

from service.policy.calico.model import CalicoEntry, CalicoObject, CalicoPolicy, NetworkSet
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
    "ConnectionChange",
    "DiffType",
    "Endpoint",
    "ExternalRange",
    "compute_connlist",
    "endpoint_sort_key",
    "external_ranges",
    "has_staged",
    "render_connlist",
    "render_staged_diff",
    "representative_pods",
    "staged_diff",
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


def _calico_nets(found: CalicoObject) -> Iterator[IPNetwork]:
    if isinstance(found, NetworkSet):
        yield from found.nets
    elif isinstance(found, CalicoPolicy):
        for direction in Direction:
            for rule in found.rules(direction):
                for entity in (rule.source, rule.destination):
                    yield from entity.nets
                    yield from entity.not_nets


def _ip_blocks(policies: Iterable[NetworkPolicy]) -> Iterator[IPNetwork]:
    for policy in policies:
        if isinstance(policy, CalicoEntry):
            # Staged policies' nets too: the staged diff compares on the same ranges.
            yield from _calico_nets(policy.calico)
            continue
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


def compute_connlist(state: ClusterState, *, with_staged: bool = False) -> ConnList:
    """Every connected (workload or external range) pair of ``state``, with its connections.

    ``with_staged``: as if Calico's staged policies were applied (never enforced).
    """
    evaluator = Evaluator(state, with_staged=with_staged)
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


# --- staged policies: what applying them would change ---------------------------------------


class DiffType(StrEnum):
    ADDED = "added"
    REMOVED = "removed"
    CHANGED = "changed"


@dataclass(frozen=True, slots=True)
class ConnectionChange:
    """One pair whose connections the staged policies would change (either side may be empty)."""

    source: Endpoint
    destination: Endpoint
    enforced: ConnectionSet
    staged: ConnectionSet

    @property
    def kind(self) -> DiffType:
        if not self.enforced:
            return DiffType.ADDED
        if not self.staged:
            return DiffType.REMOVED
        return DiffType.CHANGED

    def __str__(self) -> str:
        # netpol-analyzer's diff line, with "enforced" and "staged" as its two refs.
        return (
            f"diff-type: {self.kind}, source: {self.source}, destination: {self.destination},"
            f" enforced: {self.enforced}, staged: {self.staged}"
        )


def has_staged(state: ClusterState) -> bool:
    return any(
        isinstance(p, CalicoEntry) and isinstance(p.calico, CalicoPolicy) and p.calico.staged
        for p in state.policies
    )


def staged_diff(state: ClusterState) -> tuple[ConnectionChange, ...]:
    """Every pair whose connections differ between the enforced policies and the enforced
    policies with the staged ones applied (Set replaces or adds, Delete removes), sorted.

    Staged policies are never enforced; this says what enforcing them would change.
    """
    if not has_staged(state):
        return ()
    before = {(c.source, c.destination): c.connections for c in compute_connlist(state).connections}
    after = {
        (c.source, c.destination): c.connections
        for c in compute_connlist(state, with_staged=True).connections
    }
    none = ConnectionSet.none()
    changes = [
        ConnectionChange(src, dst, before.get((src, dst), none), after.get((src, dst), none))
        for src, dst in before.keys() | after.keys()
        if before.get((src, dst), none) != after.get((src, dst), none)
    ]
    changes.sort(key=lambda c: (endpoint_sort_key(c.source), endpoint_sort_key(c.destination)))
    return tuple(changes)


def render_staged_diff(changes: Sequence[ConnectionChange]) -> str:
    """The staged diff as text: a headline, then one line per changed pair."""
    if not changes:
        return "Staged policies (never enforced) would change no connection.\n"
    head = f"Staged policies (never enforced) would change {len(changes)} connection(s):\n"
    return head + "".join(f"  {change}\n" for change in changes)
