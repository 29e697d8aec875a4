"""The shape of a version diff, shared by the matrix-level and the engine-level diff.

It follows netpol-analyzer's ``diff``: one line per (source, destination) pair
whose connections differ between two references (``ref1``, then ``ref2``):

    diff-type: added, source: a, destination: b, ref1: No Connections, ref2: TCP 80

``added``: no connections in ref1, some in ref2; ``removed``: the reverse;
``changed``: some on both sides, not the same. A pair whose source or
destination exists on one side only says so in ``workloads-diff-info``
(``workload x added``), and the report lists those endpoints apart.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Hashable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Generic, TypeVar

from service.policy.connections import ConnectionSet

__all__ = ["DiffType", "PairDiff", "VersionDiff", "diff_pairs"]

E = TypeVar("E", bound=Hashable)


class DiffType(StrEnum):
    CHANGED = "changed"
    ADDED = "added"
    REMOVED = "removed"


@dataclass(frozen=True, slots=True)
class PairDiff(Generic[E]):
    """One pair whose connections differ; ``workloads_info`` names endpoints on one side only."""

    diff_type: DiffType
    source: E
    destination: E
    ref1: ConnectionSet
    ref2: ConnectionSet
    workloads_info: str = ""

    def __str__(self) -> str:
        line = (
            f"diff-type: {self.diff_type}, source: {self.source}, "
            f"destination: {self.destination}, ref1: {self.ref1}, ref2: {self.ref2}"
        )
        if self.workloads_info:
            line += f", workloads-diff-info: {self.workloads_info}"
        return line


@dataclass(frozen=True, slots=True)
class VersionDiff(Generic[E]):
    """Connections added, removed and changed from ``ref1`` to ``ref2``.

    ``added_workloads`` exist in ref2 only, ``removed_workloads`` in ref1 only;
    ``changes`` are sorted by source, then destination.
    """

    ref1: str
    ref2: str
    changes: tuple[PairDiff[E], ...]
    added_workloads: tuple[E, ...] = ()
    removed_workloads: tuple[E, ...] = ()

    def of_type(self, diff_type: DiffType) -> tuple[PairDiff[E], ...]:
        return tuple(c for c in self.changes if c.diff_type is diff_type)

    def render(self) -> str:
        """netpol-analyzer's diff text: a headline, one line per pair (nothing when equal)."""
        if not self.changes and not self.added_workloads and not self.removed_workloads:
            return f"No connections differ between {self.ref1} (ref1) and {self.ref2} (ref2).\n"
        lines = [f"Connections from {self.ref1} (ref1) to {self.ref2} (ref2):"]
        lines.extend(str(change) for change in self.changes)
        lines.extend(f"workload {w} added" for w in self.added_workloads)
        lines.extend(f"workload {w} removed" for w in self.removed_workloads)
        return "".join(f"{line}\n" for line in lines)


def _diff_type(ref1: ConnectionSet, ref2: ConnectionSet) -> DiffType:
    if not ref1:
        return DiffType.ADDED
    if not ref2:
        return DiffType.REMOVED
    return DiffType.CHANGED


def _info(source: E, destination: E, added: Collection[E], removed: Collection[E]) -> str:
    notes = []
    for endpoint in (source, destination):
        if endpoint in added:
            notes.append(f"workload {endpoint} added")
        elif endpoint in removed:
            notes.append(f"workload {endpoint} removed")
    # The same endpoint at both ends is one workload, noted once.
    return "; ".join(dict.fromkeys(notes))


def diff_pairs(
    connections1: Mapping[tuple[E, E], ConnectionSet],
    connections2: Mapping[tuple[E, E], ConnectionSet],
    *,
    endpoints1: Collection[E],
    endpoints2: Collection[E],
    sort_key: Callable[[E], tuple[object, ...]],
    names: tuple[str, str] = ("ref1", "ref2"),
) -> VersionDiff[E]:
    """Every pair whose connections differ between the two maps (a missing pair has none).

    ``endpoints1``/``endpoints2`` are all endpoints each side knows, connected or
    not; those on one side only are the added and removed workloads.
    """
    none = ConnectionSet.none()
    one = set(endpoints1)
    two = set(endpoints2)
    added = two - one
    removed = one - two
    changes = []
    for pair in connections1.keys() | connections2.keys():
        before = connections1.get(pair, none)
        after = connections2.get(pair, none)
        if before == after:
            continue
        source, destination = pair
        changes.append(
            PairDiff(
                _diff_type(before, after),
                source,
                destination,
                before,
                after,
                _info(source, destination, added, removed),
            )
        )
    changes.sort(key=lambda c: (sort_key(c.source), sort_key(c.destination)))
    return VersionDiff(
        ref1=names[0],
        ref2=names[1],
        changes=tuple(changes),
        added_workloads=tuple(sorted(added, key=sort_key)),
        removed_workloads=tuple(sorted(removed, key=sort_key)),
    )
