"""Sets of (protocol, port) connections, printed as netpol-analyzer prints them.

A :class:`ConnectionSet` is, per protocol (TCP, UDP, SCTP), a set of ports in
1..65535 kept as merged, sorted, inclusive intervals. It is what the connlist
output shows for a pair of endpoints and what :meth:`Evaluator.connections`
returns. The printed form follows netpol-analyzer so reports can be compared
line by line: ``All Connections``, ``No Connections``, or protocol groups in
alphabetical order such as ``TCP 1-79,81-65535,UDP 53``.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TypeAlias

from service.errors import FieldPath, InvalidInput, Problem
from service.policy.model import Protocol

__all__ = ["MAX_PORT", "MIN_PORT", "ConnectionSet", "Interval"]

MIN_PORT = 1
MAX_PORT = 65535

# An inclusive port range (lo, hi) with MIN_PORT <= lo <= hi <= MAX_PORT.
Interval: TypeAlias = tuple[int, int]
Intervals: TypeAlias = tuple[Interval, ...]

_FULL: Intervals = ((MIN_PORT, MAX_PORT),)
# Alphabetical, the order netpol-analyzer prints protocol groups in.
_PRINT_ORDER = tuple(sorted(Protocol, key=lambda p: p.value))


def _normalise(intervals: Iterable[Interval]) -> Intervals:
    """Sort and merge overlapping or adjacent intervals, so equal sets compare equal."""
    merged: list[list[int]] = []
    for lo, hi in sorted(intervals):
        if merged and lo <= merged[-1][1] + 1:
            merged[-1][1] = max(merged[-1][1], hi)
        else:
            merged.append([lo, hi])
    return tuple((lo, hi) for lo, hi in merged)


def _union(a: Intervals, b: Intervals) -> Intervals:
    # The common cases (one side empty or everything) need no merge at all.
    if not b or a == _FULL:
        return a
    if not a or b == _FULL:
        return b
    return _normalise(a + b)


def _intersect(a: Intervals, b: Intervals) -> Intervals:
    out: list[Interval] = []
    i = j = 0
    while i < len(a) and j < len(b):
        lo = max(a[i][0], b[j][0])
        hi = min(a[i][1], b[j][1])
        if lo <= hi:
            out.append((lo, hi))
        # Advance whichever interval ends first; the other may still overlap the next one.
        if a[i][1] < b[j][1]:
            i += 1
        else:
            j += 1
    return tuple(out)


def _complement(a: Intervals) -> Intervals:
    out: list[Interval] = []
    start = MIN_PORT
    for lo, hi in a:
        if lo > start:
            out.append((start, lo - 1))
        start = hi + 1
    if start <= MAX_PORT:
        out.append((start, MAX_PORT))
    return tuple(out)


def _format(intervals: Intervals) -> str:
    return ",".join(str(lo) if lo == hi else f"{lo}-{hi}" for lo, hi in intervals)


@dataclass(frozen=True, slots=True)
class ConnectionSet:
    """Ports per protocol. Build with :meth:`all`, :meth:`none`, :meth:`of` and the operators.

    The fields are always normalised (sorted, merged, within 1..65535), so two
    sets holding the same connections are equal and hash alike.
    """

    tcp: Intervals = ()
    udp: Intervals = ()
    sctp: Intervals = ()

    def __post_init__(self) -> None:
        problems: list[Problem] = []
        for protocol in Protocol:
            ranges = self.ranges(protocol)
            for i, (lo, hi) in enumerate(ranges):
                if not MIN_PORT <= lo <= hi <= MAX_PORT:
                    problems.append(
                        Problem(
                            f"expected a port range lo-hi with {MIN_PORT} <= lo <= hi <= "
                            f"{MAX_PORT}, got {lo}-{hi}",
                            path=FieldPath((protocol.value.lower(), i)),
                        )
                    )
        InvalidInput.collect(problems)
        # Frozen dataclass: normalising in place is the one sanctioned write.
        object.__setattr__(self, "tcp", _normalise(self.tcp))
        object.__setattr__(self, "udp", _normalise(self.udp))
        object.__setattr__(self, "sctp", _normalise(self.sctp))

    @classmethod
    def _normalised(cls, tcp: Intervals, udp: Intervals, sctp: Intervals) -> ConnectionSet:
        """Wrap intervals already valid and merged; the operators' results are, by construction.

        Skipping __post_init__ here keeps the evaluator's connections() cheap: it
        combines sets per rule, per pair of endpoints.
        """
        out = object.__new__(cls)
        object.__setattr__(out, "tcp", tcp)
        object.__setattr__(out, "udp", udp)
        object.__setattr__(out, "sctp", sctp)
        return out

    @classmethod
    def all(cls) -> ConnectionSet:
        return cls._normalised(_FULL, _FULL, _FULL)

    @classmethod
    def none(cls) -> ConnectionSet:
        return cls._normalised((), (), ())

    @classmethod
    def of(cls, protocol: Protocol, lo: int, hi: int | None = None) -> ConnectionSet:
        """Ports ``lo``..``hi`` (inclusive; ``hi`` defaults to ``lo``) of one protocol."""
        top = lo if hi is None else hi
        return cls._with(protocol, ((lo, top),))

    @classmethod
    def _with(cls, protocol: Protocol, ranges: Intervals) -> ConnectionSet:
        match protocol:
            case Protocol.TCP:
                return cls(tcp=ranges)
            case Protocol.UDP:
                return cls(udp=ranges)
            case Protocol.SCTP:
                return cls(sctp=ranges)

    def ranges(self, protocol: Protocol) -> Intervals:
        """The merged, sorted inclusive intervals open for ``protocol``."""
        match protocol:
            case Protocol.TCP:
                return self.tcp
            case Protocol.UDP:
                return self.udp
            case Protocol.SCTP:
                return self.sctp

    def contains(self, protocol: Protocol, port: int) -> bool:
        ranges = self.ranges(protocol)
        i = bisect_right(ranges, (port, MAX_PORT + 1)) - 1
        return i >= 0 and ranges[i][0] <= port <= ranges[i][1]

    @property
    def is_all(self) -> bool:
        return self.tcp == _FULL and self.udp == _FULL and self.sctp == _FULL

    def __bool__(self) -> bool:
        return bool(self.tcp or self.udp or self.sctp)

    def __or__(self, other: ConnectionSet) -> ConnectionSet:
        return ConnectionSet._normalised(
            _union(self.tcp, other.tcp), _union(self.udp, other.udp), _union(self.sctp, other.sctp)
        )

    def __and__(self, other: ConnectionSet) -> ConnectionSet:
        return ConnectionSet._normalised(
            _intersect(self.tcp, other.tcp),
            _intersect(self.udp, other.udp),
            _intersect(self.sctp, other.sctp),
        )

    def __sub__(self, other: ConnectionSet) -> ConnectionSet:
        return ConnectionSet._normalised(
            _intersect(self.tcp, _complement(other.tcp)),
            _intersect(self.udp, _complement(other.udp)),
            _intersect(self.sctp, _complement(other.sctp)),
        )

    def __le__(self, other: ConnectionSet) -> bool:
        """Subset: every connection of ``self`` is in ``other``."""
        return not (self - other)

    def __str__(self) -> str:
        if self.is_all:
            return "All Connections"
        if not self:
            return "No Connections"
        groups = []
        for protocol in _PRINT_ORDER:
            ranges = self.ranges(protocol)
            if ranges:
                groups.append(f"{protocol.value} {_format(ranges)}")
        return ",".join(groups)
