"""Which endpoints ipBlock peers match: external IPs, pod IPs, host-network pods.

Selector peers never match an endpoint known only by its IP; ipBlocks match
pod IPs too (Calico's semantics). See :mod:`tests.policy.rules_world` for the
cluster and how each row is checked.
"""

from __future__ import annotations

from service.policy.model import Peer
from tests.policy.rules_world import (
    AGENT,
    CLIENT,
    CLIENT_IP,
    DB,
    DENY_IN,
    DEV_WEB,
    EXTERNAL,
    OTHER_EXTERNAL,
    PROBE,
    THING,
    WEB,
    Case,
    cases,
    check,
    cidr,
    egr,
    ing,
    nss,
    pods,
    policy,
    rule,
    sel,
)


@cases(
    {
        "in-test-net": [ing("prod", rule(cidr("203.0.113.0/24", "203.0.113.8/29")))],
        "in-test-net-but-7": [ing("prod", rule(cidr("203.0.113.0/24", "203.0.113.7/32")))],
        "out-test-net": [egr("prod", rule(cidr("203.0.113.0/24")))],
        "in-ipv6": [ing("prod", rule(cidr("::/0")))],
    },
    [
        ("inside-cidr-outside-except", "in-test-net", EXTERNAL, WEB, "80", True),
        ("inside-except", "in-test-net-but-7", EXTERNAL, WEB, "80", False),
        ("outside-cidr", "in-test-net", OTHER_EXTERNAL, WEB, "80", False),
        ("egress-inside-cidr", "out-test-net", WEB, EXTERNAL, "80", True),
        ("egress-outside-cidr", "out-test-net", WEB, OTHER_EXTERNAL, "80", False),
        ("ipv6-block-never-matches-ipv4", "in-ipv6", EXTERNAL, WEB, "80", False),
    ],
)
def test_ip_block_with_except_matches_external_ips(case: Case) -> None:
    check(case)


@cases(
    {
        "from-dev-pod-net": [ing("prod", rule(cidr("10.0.2.0/24", "10.0.2.1/32")))],
        "from-0/0": [ing("prod", rule(cidr("0.0.0.0/0")))],
        "to-prod-pod-net": [egr("dev", rule(cidr("10.0.1.0/24")))],
    },
    [
        ("pod-ip-inside-cidr", "from-dev-pod-net", CLIENT, WEB, "80", True),
        ("pod-ip-inside-except", "from-dev-pod-net", DEV_WEB, WEB, "80", False),
        ("pod-without-ip-never-matches", "from-0/0", PROBE, WEB, "80", False),
        ("egress-to-pod-ip-inside-cidr", "to-prod-pod-net", CLIENT, WEB, "80", True),
        ("egress-to-pod-ip-outside-cidr", "to-prod-pod-net", CLIENT, THING, "80", False),
    ],
)
def test_ip_block_matches_pod_ips_calico_semantics_never_pods_without_ip(case: Case) -> None:
    check(case)


@cases(
    {
        "from-all-pods": [ing("prod", rule(Peer(sel(), sel())))],
        "to-all-namespaces": [egr("prod", rule(nss()))],
    },
    [
        ("ingress-from-external-ip", "from-all-pods", EXTERNAL, WEB, "80", False),
        ("ingress-from-pod-known-only-by-ip", "from-all-pods", CLIENT_IP, WEB, "80", False),
        ("ingress-from-the-pod-itself", "from-all-pods", CLIENT, WEB, "80", True),
        ("egress-to-external-ip", "to-all-namespaces", WEB, EXTERNAL, "80", False),
        ("egress-to-pod-known-only-by-ip", "to-all-namespaces", WEB, CLIENT_IP, "80", False),
        ("egress-to-the-pod-itself", "to-all-namespaces", WEB, CLIENT, "8080", True),
    ],
)
def test_selector_peers_never_match_ip_only_endpoints(case: Case) -> None:
    check(case)


NODE_NET = cidr("192.168.0.0/24")


@cases(
    {
        "deny-in": [DENY_IN],
        "deny-web": [policy("prod", "deny", sel({"app": "web"}), ingress=[], egress=[])],
        "from-web-pods": [ing("prod", rule(pods(app="web")))],
        "from-team-a": [ing("prod", rule(nss(team="a")))],
        "from-node-net": [ing("prod", rule(NODE_NET))],
        "to-node-net": [egr("dev", rule(NODE_NET))],
        "to-all-ns": [egr("dev", rule(nss()))],
    },
    [
        ("empty-pod-selector-does-not-isolate-it", "deny-in", CLIENT, AGENT, "80", True),
        ("matching-pod-selector-does-not-isolate-it", "deny-web", AGENT, CLIENT, "80", True),
        ("pod-selector-peer-never-matches-it", "from-web-pods", AGENT, DB, "80", False),
        ("namespace-selector-peer-never-matches-it", "from-team-a", AGENT, DB, "80", False),
        ("ip-block-matches-its-node-ip", "from-node-net", AGENT, DB, "80", True),
        ("egress-ip-block-matches-its-node-ip", "to-node-net", CLIENT, AGENT, "80", True),
        ("egress-namespace-selector-never-matches-it", "to-all-ns", CLIENT, AGENT, "80", False),
    ],
)
def test_host_network_pods_unselected_unmatched_by_selectors_but_by_ip_block(case: Case) -> None:
    check(case)
