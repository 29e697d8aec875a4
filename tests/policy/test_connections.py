"""ConnectionSet: the algebra of (protocol, port) sets and netpol-analyzer's printed form."""

from __future__ import annotations

from itertools import pairwise

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from service.errors import InvalidInput
from service.policy.connections import MAX_PORT, MIN_PORT, ConnectionSet
from service.policy.model import Protocol

TCP, UDP, SCTP = Protocol.TCP, Protocol.UDP, Protocol.SCTP
C = ConnectionSet


@pytest.mark.parametrize(
    ("connections", "printed"),
    [
        pytest.param(C.all(), "All Connections", id="all"),
        pytest.param(C.none(), "No Connections", id="none"),
        pytest.param(C.of(TCP, 80), "TCP 80", id="single-port-printed-alone"),
        pytest.param(C.of(TCP, 80, 80), "TCP 80", id="one-port-range-printed-alone"),
        pytest.param(C.of(UDP, 1000, 2000), "UDP 1000-2000", id="range"),
        pytest.param(C.of(SCTP, MIN_PORT, MAX_PORT), "SCTP 1-65535", id="whole-protocol"),
        pytest.param(
            (C.of(TCP, 1, MAX_PORT) - C.of(TCP, 80)) | C.of(UDP, 53),
            "TCP 1-79,81-65535,UDP 53",
            id="netpol-analyzer-example",
        ),
        pytest.param(
            C.of(UDP, 53) | C.of(TCP, 80) | C.of(SCTP, 9),
            "SCTP 9,TCP 80,UDP 53",
            id="protocols-alphabetical",
        ),
        pytest.param(C.of(TCP, 81) | C.of(TCP, 80), "TCP 80-81", id="adjacent-ports-merge"),
        pytest.param(C.of(TCP, 5, 20) | C.of(TCP, 1, 10), "TCP 1-20", id="overlaps-merge"),
        pytest.param(
            C.of(TCP, 90) | C.of(TCP, 80) | C.of(TCP, 85), "TCP 80,85,90", id="ports-sorted"
        ),
        pytest.param(
            C.of(TCP, 1, MAX_PORT) | C.of(UDP, 1, MAX_PORT) | C.of(SCTP, 1, MAX_PORT),
            "All Connections",
            id="every-protocol-whole-is-all",
        ),
        pytest.param(C.all() - C.of(SCTP, 1, MAX_PORT), "TCP 1-65535,UDP 1-65535", id="no-sctp"),
    ],
)
def test_str_prints_netpol_analyzer_format(connections: ConnectionSet, printed: str) -> None:
    assert str(connections) == printed


@pytest.mark.parametrize(
    ("protocol", "lo", "hi"),
    [
        pytest.param(TCP, 0, None, id="port-zero"),
        pytest.param(UDP, 65536, None, id="above-65535"),
        pytest.param(SCTP, 10, 5, id="hi-below-lo"),
        pytest.param(TCP, -1, 80, id="negative"),
    ],
)
def test_of_rejects_ports_outside_1_to_65535(protocol: Protocol, lo: int, hi: int | None) -> None:
    with pytest.raises(InvalidInput, match="1 <= lo <= hi <= 65535"):
        C.of(protocol, lo, hi)


def test_equal_sets_built_differently_are_equal_and_hash_alike() -> None:
    a = C.of(TCP, 1, 100) - C.of(TCP, 50)
    b = C.of(TCP, 51, 100) | C.of(TCP, 1, 49)
    assert a == b
    assert hash(a) == hash(b)
    assert len({a, b}) == 1


@pytest.mark.parametrize(
    ("connections", "is_all", "truthy"),
    [
        pytest.param(C.all(), True, True, id="all"),
        pytest.param(C.none(), False, False, id="none"),
        pytest.param(C.all() - C.of(UDP, 7), False, True, id="all-but-one"),
        pytest.param(C.of(TCP, 1, MAX_PORT), False, True, id="one-whole-protocol"),
    ],
)
def test_is_all_and_truthiness(connections: ConnectionSet, is_all: bool, truthy: bool) -> None:
    assert connections.is_all is is_all
    assert bool(connections) is truthy


@pytest.mark.parametrize(
    ("connections", "protocol", "port", "expected"),
    [
        pytest.param(C.of(TCP, 80, 90), TCP, 80, True, id="range-low-end"),
        pytest.param(C.of(TCP, 80, 90), TCP, 90, True, id="range-high-end"),
        pytest.param(C.of(TCP, 80, 90), TCP, 79, False, id="below-range"),
        pytest.param(C.of(TCP, 80, 90), TCP, 91, False, id="above-range"),
        pytest.param(C.of(TCP, 80, 90), UDP, 85, False, id="other-protocol"),
        pytest.param(C.of(SCTP, 1) | C.of(SCTP, MAX_PORT), SCTP, MAX_PORT, True, id="last-port"),
        pytest.param(C.of(SCTP, 1) | C.of(SCTP, MAX_PORT), SCTP, 2, False, id="gap"),
        pytest.param(C.none(), UDP, 53, False, id="none"),
    ],
)
def test_contains(
    connections: ConnectionSet, protocol: Protocol, port: int, expected: bool
) -> None:
    assert connections.contains(protocol, port) is expected


def test_subset_comparison() -> None:
    assert C.of(TCP, 80) <= C.of(TCP, 1, 100)
    assert not C.of(TCP, 1, 100) <= C.of(TCP, 80)
    assert C.none() <= C.none()
    assert not C.of(UDP, 80) <= C.of(TCP, 80)


# --- algebra against a brute-force model of membership --------------------------------

# Edges of the port space and a cluster of small numbers, so intervals touch and overlap.
_EDGES = [MIN_PORT, 2, 3, 4, 5, 6, 7, 8, 9, 10, 80, 81, MAX_PORT - 1, MAX_PORT]


@st.composite
def connection_sets(draw: st.DrawFn) -> ConnectionSet:
    out = C.none()
    for _ in range(draw(st.integers(0, 4))):
        a = draw(st.sampled_from(_EDGES))
        b = draw(st.sampled_from(_EDGES))
        out |= C.of(draw(st.sampled_from(list(Protocol))), min(a, b), max(a, b))
    return out


def _probe_points(*sets: ConnectionSet) -> list[tuple[Protocol, int]]:
    """Every interval edge and its neighbours: membership can only change there."""
    ports = {MIN_PORT, MAX_PORT}
    for s in sets:
        for protocol in Protocol:
            for lo, hi in s.ranges(protocol):
                ports.update({lo - 1, lo, hi, hi + 1})
    return [(p, n) for p in Protocol for n in sorted(ports) if MIN_PORT <= n <= MAX_PORT]


@settings(max_examples=150)
@given(connection_sets(), connection_sets())
def test_operators_agree_with_membership(a: ConnectionSet, b: ConnectionSet) -> None:
    union, inter, diff = a | b, a & b, a - b
    for protocol, port in _probe_points(a, b):
        in_a, in_b = a.contains(protocol, port), b.contains(protocol, port)
        assert union.contains(protocol, port) == (in_a or in_b)
        assert inter.contains(protocol, port) == (in_a and in_b)
        assert diff.contains(protocol, port) == (in_a and not in_b)


@settings(max_examples=150)
@given(connection_sets(), connection_sets())
def test_algebra_laws(a: ConnectionSet, b: ConnectionSet) -> None:
    assert a | b == b | a
    assert a & b == b & a
    assert (a - b) | (a & b) == a
    assert not ((a - b) & b)
    assert (a | C.all()).is_all
    assert a & C.none() == C.none()
    assert C.all() - (C.all() - a) == a


@settings(max_examples=100)
@given(connection_sets())
def test_ranges_are_merged_and_sorted(a: ConnectionSet) -> None:
    for protocol in Protocol:
        ranges = a.ranges(protocol)
        for (_, hi), (lo, _) in pairwise(ranges):
            # A gap of at least one port between consecutive intervals.
            assert lo > hi + 1
