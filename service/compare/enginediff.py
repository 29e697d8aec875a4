"""The version diff from the engine: every connection two cluster states allow, compared.

Each side is a :class:`ClusterState` (a scenario's layout under one policy
version, or manifests read from two folders). Its connectivity is
:func:`service.report.connlist.compute_connlist`: workloads (the objects owning
pods) and ranges of external addresses, with the connections the policies
allow between them, every port and protocol. Pairs whose connections differ
are the diff, as netpol-analyzer's ``diff`` prints it.

External ranges line up across the sides by refining: each side cuts the
address space at its own ipBlock boundaries, so the diff cuts at the
boundaries of both. Every common range lies inside exactly one range of each
side, whose connections it has. A side whose policies name no IPv6 block
lists no IPv6 range; the whole IPv6 space is then alike for it (no rule tells
two IPv6 addresses apart), and one engine query per workload and direction
answers for every IPv6 range the other side brings.
"""

from __future__ import annotations

import ipaddress
from bisect import bisect_right
from collections.abc import Sequence
from itertools import pairwise

from service.compare.pairdiff import VersionDiff, diff_pairs
from service.policy.connections import ConnectionSet
from service.policy.evaluate import Evaluator
from service.policy.model import ClusterState, IPAddress, Pod, WorkloadRef
from service.report.connlist import (
    ConnList,
    Endpoint,
    ExternalRange,
    compute_connlist,
    endpoint_sort_key,
    representative_pods,
)

__all__ = ["common_ranges", "engine_diff"]

_TOP = {4: 2**32 - 1, 6: 2**128 - 1}
Pairs = dict[tuple[Endpoint, Endpoint], ConnectionSet]
_NONE = ConnectionSet.none()


def _address(version: int, value: int) -> IPAddress:
    return ipaddress.IPv4Address(value) if version == 4 else ipaddress.IPv6Address(value)


def common_ranges(*sides: Sequence[ExternalRange]) -> tuple[ExternalRange, ...]:
    """The coarsest split of the address space finer than every side's ranges, sorted."""
    cuts: dict[int, set[int]] = {}
    for ranges in sides:
        for r in ranges:
            bounds = cuts.setdefault(r.version, {0, _TOP[r.version] + 1})
            bounds.add(int(r.first))
            bounds.add(int(r.last) + 1)
    return tuple(
        ExternalRange(_address(version, lo), _address(version, hi - 1))
        for version in sorted(cuts)
        for lo, hi in pairwise(sorted(cuts[version]))
    )


class _Side:
    """One state's connlist, answering for the common ranges."""

    def __init__(self, state: ClusterState) -> None:
        self.state = state
        self.connlist: ConnList = compute_connlist(state)
        self._starts: dict[int, list[int]] = {}
        self._ranges: dict[int, list[ExternalRange]] = {}
        for r in self.connlist.external:
            self._starts.setdefault(r.version, []).append(int(r.first))
            self._ranges.setdefault(r.version, []).append(r)
        self._pairs: Pairs = {
            (c.source, c.destination): c.connections for c in self.connlist.connections
        }
        self._evaluator: Evaluator | None = None
        self._pods: dict[WorkloadRef, Pod] = {}

    def _own_range(self, common: ExternalRange) -> ExternalRange | None:
        starts = self._starts.get(common.version)
        if starts is None:
            return None
        # The connlist's ranges are sorted and cover the space: the last start <= first holds it.
        return self._ranges[common.version][bisect_right(starts, int(common.first)) - 1]

    def _uniform(self, workload: WorkloadRef, address: IPAddress) -> tuple[ConnectionSet, ...]:
        """Connections out to and in from ``address`` of an IP version the side never cut."""
        if self._evaluator is None:
            self._evaluator = Evaluator(self.state)
            self._pods = representative_pods(self.state.pods)
        pod = self._pods[workload]
        return (
            self._evaluator.connections(pod, address),
            self._evaluator.connections(address, pod),
        )

    def pairs(self, ranges: Sequence[ExternalRange]) -> Pairs:
        """Workload pairs as listed, external pairs re-keyed on the common ``ranges``."""
        found: Pairs = {
            pair: conns
            for pair, conns in self._pairs.items()
            if isinstance(pair[0], WorkloadRef) and isinstance(pair[1], WorkloadRef)
        }
        for common in ranges:
            own = self._own_range(common)
            for workload in self.connlist.workloads:
                if own is not None:
                    out = self._pairs.get((workload, own), _NONE)
                    into = self._pairs.get((own, workload), _NONE)
                else:
                    out, into = self._uniform(workload, common.first)
                # Like the connlist, a pair without connections is simply absent.
                if out:
                    found[(workload, common)] = out
                if into:
                    found[(common, workload)] = into
        return found


def engine_diff(
    ref1: ClusterState, ref2: ClusterState, *, names: tuple[str, str] = ("ref1", "ref2")
) -> VersionDiff[Endpoint]:
    """The connections added, removed and changed from ``ref1`` to ``ref2``, every port.

    Workloads of one side only are the added and removed workloads; their pairs
    are ``added`` or ``removed`` with a note saying so. Raises
    :class:`~service.errors.InvalidInput` for policies the engine rejects.
    """
    one = _Side(ref1)
    two = _Side(ref2)
    ranges = common_ranges(one.connlist.external, two.connlist.external)
    return diff_pairs(
        one.pairs(ranges),
        two.pairs(ranges),
        endpoints1=(*one.connlist.workloads, *ranges),
        endpoints2=(*two.connlist.workloads, *ranges),
        sort_key=endpoint_sort_key,
        names=names,
    )
