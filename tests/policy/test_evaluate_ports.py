"""Which ports and protocols a rule admits: numbers, ranges, named ports, protocols.

See :mod:`tests.policy.rules_world` for the cluster and how each row is checked;
the last test asks for every port of a connection at once.
"""

from __future__ import annotations

import pytest

from service.policy.evaluate import Endpoint
from service.policy.model import NetworkPolicy, PolicyPort, Protocol
from tests.policy.rules_world import (
    CLIENT,
    DB,
    DEV_WEB,
    EXTERNAL,
    PROBE,
    SCTP,
    TCP,
    UDP,
    WEB,
    Case,
    cases,
    check,
    egr,
    evaluator,
    ing,
    nss,
    port,
    rule,
    sel,
)


@cases(
    {"from-dev": [ing("prod", rule(nss(team="b")))]},
    [
        ("tcp-1", "from-dev", CLIENT, WEB, "1", True),
        ("udp-65535", "from-dev", CLIENT, WEB, "65535/UDP", True),
        ("sctp", "from-dev", CLIENT, WEB, "9000/SCTP", True),
        ("peers-still-apply", "from-dev", PROBE, WEB, "80", False),
    ],
)
def test_rule_without_ports_admits_every_port_and_protocol(case: Case) -> None:
    check(case)


@cases(
    {
        "80": [ing("prod", rule(ports=[port(80)]))],
        "8000-8080": [ing("prod", rule(ports=[port(8000, end=8080)]))],
    },
    [
        ("number-equal", "80", CLIENT, WEB, "80", True),
        ("number-other", "80", CLIENT, WEB, "81", False),
        ("range-start-inclusive", "8000-8080", CLIENT, WEB, "8000", True),
        ("range-end-inclusive", "8000-8080", CLIENT, WEB, "8080", True),
        ("below-range", "8000-8080", CLIENT, WEB, "7999", False),
        ("above-range", "8000-8080", CLIENT, WEB, "8081", False),
    ],
)
def test_numbered_ports_and_ranges_port_to_end_port(case: Case) -> None:
    check(case)


def _in_named(name: str, protocol: Protocol = TCP) -> list[NetworkPolicy]:
    return [ing("prod", rule(ports=[port(name, protocol)]))]


def _out_named(name: str, protocol: Protocol = TCP) -> list[NetworkPolicy]:
    return [egr("dev", rule(ports=[port(name, protocol)]), on=sel({"app": "client"}))]


NAMED = {
    "in-http": _in_named("http"),
    "in-dns-udp": _in_named("dns", UDP),
    "in-dns-tcp": _in_named("dns"),
    "in-sig-sctp": _in_named("sig", SCTP),
    "in-pg": _in_named("pg"),
    "out-http": _out_named("http"),
    "out-pg": _out_named("pg"),
    "out-metrics-udp": _out_named("metrics", UDP),
    "out-metrics-tcp": _out_named("metrics"),
}


# CLIENT calls its own TCP 8080 "http" and its UDP 9090 "metrics"; WEB has TCP metrics 9090.
@cases(
    NAMED,
    [
        ("ingress-resolved-on-destination", "in-http", CLIENT, WEB, "80", True),
        ("ingress-not-resolved-on-source", "in-http", CLIENT, WEB, "8080", False),
        ("ingress-by-name-and-protocol", "in-dns-udp", CLIENT, WEB, "53/UDP", True),
        ("ingress-name-with-other-protocol", "in-dns-tcp", CLIENT, WEB, "53", False),
        ("ingress-sctp-name", "in-sig-sctp", CLIENT, WEB, "9000/SCTP", True),
        ("ingress-destination-lacks-name", "in-pg", CLIENT, WEB, "5432", False),
        ("egress-resolved-on-destination", "out-http", CLIENT, WEB, "80", True),
        ("egress-not-resolved-on-source", "out-http", CLIENT, WEB, "8080", False),
        ("egress-each-destination-its-own", "out-pg", CLIENT, DB, "5432", True),
        ("egress-destination-lacks-name", "out-pg", CLIENT, WEB, "5432", False),
        ("egress-name-only-for-other-protocol", "out-metrics-udp", CLIENT, WEB, "9090/UDP", False),
        ("egress-name-for-its-protocol", "out-metrics-tcp", CLIENT, WEB, "9090", True),
        ("ip-destination-has-no-named-ports", "out-http", CLIENT, EXTERNAL, "80", False),
    ],
)
def test_named_port_resolves_on_destination_by_name_and_protocol(case: Case) -> None:
    check(case)


@cases(
    {
        "53": [ing("prod", rule(ports=[PolicyPort(port=53)]))],
        "53/UDP": [ing("prod", rule(ports=[port(53, UDP)]))],
        "9000/SCTP": [ing("prod", rule(ports=[port(9000, SCTP)]))],
        "all-UDP": [ing("prod", rule(ports=[port(None, UDP)]))],
    },
    [
        ("default-is-tcp", "53", CLIENT, WEB, "53", True),
        ("default-tcp-is-not-udp", "53", CLIENT, WEB, "53/UDP", False),
        ("udp", "53/UDP", CLIENT, WEB, "53/UDP", True),
        ("udp-is-not-tcp", "53/UDP", CLIENT, WEB, "53", False),
        ("sctp", "9000/SCTP", CLIENT, WEB, "9000/SCTP", True),
        ("sctp-is-not-tcp", "9000/SCTP", CLIENT, WEB, "9000", False),
        ("no-number-udp-1", "all-UDP", CLIENT, WEB, "1/UDP", True),
        ("no-number-udp-65535", "all-UDP", CLIENT, WEB, "65535/UDP", True),
        ("no-number-not-tcp", "all-UDP", CLIENT, WEB, "53", False),
        ("no-number-not-sctp", "all-UDP", CLIENT, WEB, "53/SCTP", False),
    ],
)
def test_protocol_defaults_to_tcp_and_port_none_matches_every_port_of_it(case: Case) -> None:
    check(case)


# --- every port at once -------------------------------------------------------------------

CONNECTIONS = [
    egr(
        "dev",
        rule(nss(team="a"), ports=[port(1, end=1000), port(None, UDP)]),
        on=sel({"app": "client"}),
    ),
    ing(
        "prod", rule(ports=[port(80), port(8080), port(53, UDP), port("sig", SCTP)]), name="in-web"
    ),
    egr("prod", rule(ports=[port("http")]), name="out-named"),
]


@pytest.mark.parametrize(
    ("src", "dst", "printed"),
    [
        pytest.param(CLIENT, WEB, "TCP 80,UDP 53", id="egress-of-source-and-ingress-of-dst"),
        pytest.param(WEB, CLIENT, "TCP 8080", id="named-port-resolved-on-destination"),
        pytest.param(WEB, DEV_WEB, "No Connections", id="destination-lacks-named-port"),
        pytest.param(DB, EXTERNAL, "No Connections", id="ip-destination-has-no-named-ports"),
        pytest.param(CLIENT, CLIENT, "All Connections", id="loopback"),
        pytest.param(EXTERNAL, CLIENT, "All Connections", id="nothing-isolated"),
    ],
)
def test_connections_are_source_egress_intersected_with_destination_ingress(
    src: Endpoint, dst: Endpoint, printed: str
) -> None:
    assert str(evaluator(*CONNECTIONS).connections(src, dst)) == printed
