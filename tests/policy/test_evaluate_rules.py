"""The evaluator against Kubernetes NetworkPolicy semantics, one rule per test.

Every test names the rule of reference/policy-semantics.md section 1 it checks
and is a table: named policy sets, then rows of (case id, policy set, source,
destination, probe, expected verdict) on one small cluster described below.
Each row is checked three ways: is_allowed, explain().allowed, connections().
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from ipaddress import ip_address, ip_network
from typing import NamedTuple

import pytest

from service.errors import InvalidInput
from service.policy.evaluate import Endpoint, Evaluator
from service.policy.model import (
    NAMESPACE_NAME_LABEL,
    ClusterState,
    ContainerPort,
    Direction,
    IPBlock,
    Labels,
    LabelSelector,
    Namespace,
    NetworkPolicy,
    Operator,
    Peer,
    Pod,
    PolicyPort,
    Protocol,
    Requirement,
    Rule,
)
from service.policy.verdict import Action, RuleMatch

TCP, UDP, SCTP = Protocol.TCP, Protocol.UDP, Protocol.SCTP
INGRESS, EGRESS = Direction.INGRESS, Direction.EGRESS


def sel(labels: Mapping[str, str] | None = None, *exprs: Requirement) -> LabelSelector:
    return LabelSelector(Labels(labels or {}), tuple(exprs))


def req(key: str, operator: Operator, *values: str) -> Requirement:
    return Requirement(key, operator, frozenset(values))


def pods(**labels: str) -> Peer:
    return Peer(pod_selector=sel(labels))


def nss(*exprs: Requirement, **labels: str) -> Peer:
    return Peer(namespace_selector=sel(labels, *exprs))


def ns_named(name: str) -> Peer:
    return Peer(namespace_selector=sel({NAMESPACE_NAME_LABEL: name}))


def cidr(block: str, *excepts: str) -> Peer:
    return Peer(ip_block=IPBlock(ip_network(block), tuple(ip_network(e) for e in excepts)))


def rule(*peers: Peer, ports: Sequence[PolicyPort] = ()) -> Rule:
    return Rule(peers=peers, ports=tuple(ports))


def port(
    number: int | str | None = None, protocol: Protocol = TCP, end: int | None = None
) -> PolicyPort:
    return PolicyPort(protocol, number, end)


def policy(
    namespace: str,
    name: str,
    selector: LabelSelector | None = None,
    *,
    ingress: Sequence[Rule] | None = None,
    egress: Sequence[Rule] | None = None,
    types: Sequence[Direction] | None = None,
) -> NetworkPolicy:
    """A policy whose types are the sections given (None = absent), unless ``types`` says."""
    if types is None:
        types = [d for d, rules in ((INGRESS, ingress), (EGRESS, egress)) if rules is not None]
    return NetworkPolicy(
        namespace=namespace,
        name=name,
        pod_selector=selector or sel(),
        policy_types=frozenset(types),
        ingress=tuple(ingress or ()),
        egress=tuple(egress or ()),
    )


def ing(
    namespace: str, *rules: Rule, name: str = "in", on: LabelSelector | None = None
) -> NetworkPolicy:
    return policy(namespace, name, on, ingress=rules)


def egr(
    namespace: str, *rules: Rule, name: str = "out", on: LabelSelector | None = None
) -> NetworkPolicy:
    return policy(namespace, name, on, egress=rules)


# --- the cluster every table runs on -------------------------------------------------
#
# prod {team=a, env=prod}  web (app=web) serves http TCP 80, dns UDP 53, sig SCTP 9000,
#                          metrics TCP 9090; db (app=db) serves pg TCP 5432;
#                          agent (app=web) is on the host network (node IP 192.168.0.10)
# dev  {team=b, env=dev}   web (app=web); client (app=client, role=tester) serves
#                          http TCP 8080 and metrics UDP 9090
# ops  (no labels)         probe: no labels, no IP yet
# ghost (not declared)     thing (app=web): its namespace is known only by name

PROD = Namespace("prod", Labels({"team": "a", "env": "prod"}))
DEV = Namespace("dev", Labels({"team": "b", "env": "dev"}))
OPS = Namespace("ops")
WEB_IP, DB_IP, CLIENT_IP = ip_address("10.0.1.1"), ip_address("10.0.1.2"), ip_address("10.0.2.2")
EXTERNAL, OTHER_EXTERNAL = ip_address("203.0.113.7"), ip_address("198.51.100.1")

WEB = Pod(
    "prod",
    "web",
    Labels({"app": "web"}),
    (
        ContainerPort(80, TCP, "http"),
        ContainerPort(53, UDP, "dns"),
        ContainerPort(9000, SCTP, "sig"),
        ContainerPort(9090, TCP, "metrics"),
    ),
    WEB_IP,
)
DB = Pod("prod", "db", Labels({"app": "db"}), (ContainerPort(5432, TCP, "pg"),), DB_IP)
AGENT = Pod(
    "prod", "agent", Labels({"app": "web"}), ip=ip_address("192.168.0.10"), host_network=True
)
DEV_WEB = Pod("dev", "web", Labels({"app": "web"}), ip=ip_address("10.0.2.1"))
CLIENT = Pod(
    "dev",
    "client",
    Labels({"app": "client", "role": "tester"}),
    (ContainerPort(8080, TCP, "http"), ContainerPort(9090, UDP, "metrics")),
    CLIENT_IP,
)
PROBE = Pod("ops", "probe")
THING = Pod("ghost", "thing", Labels({"app": "web"}), ip=ip_address("10.0.3.1"))
ALL_PODS = (WEB, DB, AGENT, DEV_WEB, CLIENT, PROBE, THING)


def evaluator(*policies: NetworkPolicy) -> Evaluator:
    return Evaluator(ClusterState(namespaces=(PROD, DEV, OPS), pods=ALL_PODS, policies=policies))


class Case(NamedTuple):
    policies: tuple[NetworkPolicy, ...]
    src: Endpoint
    dst: Endpoint
    probe: str  # "80" is TCP 80, "53/UDP" is UDP 53
    expected: bool


# (case id, key of the policy set, source, destination, probe, expected allowed)
Row = tuple[str, str, Endpoint, Endpoint, str, bool]


def cases(
    policy_sets: Mapping[str, Sequence[NetworkPolicy]], rows: Sequence[Row]
) -> pytest.MarkDecorator:
    """Parametrise a test over ``rows``, each run on its named set of policies."""
    return pytest.mark.parametrize(
        "case",
        [
            pytest.param(Case(tuple(policy_sets[key]), src, dst, probe, allowed), id=case_id)
            for case_id, key, src, dst, probe, allowed in rows
        ],
    )


def check(case: Case) -> None:
    """The verdict, asked three ways: boolean, explanation, and the full connection set."""
    number, _, name = case.probe.partition("/")
    port, protocol = int(number), Protocol(name or "TCP")
    ev = evaluator(*case.policies)
    assert ev.is_allowed(case.src, case.dst, port=port, protocol=protocol) is case.expected
    assert ev.explain(case.src, case.dst, port=port, protocol=protocol).allowed is case.expected
    assert ev.connections(case.src, case.dst).contains(protocol, port) is case.expected


DENY_IN = policy("prod", "deny-in", ingress=[])
DENY_OUT = policy("prod", "deny-out", egress=[])

TYPES = {
    "Ingress-listed": [
        policy("prod", "p", ingress=[rule()], egress=[rule(pods(app="db"))], types=[INGRESS])
    ],
    "Egress-listed": [
        policy("prod", "p", ingress=[rule(pods(app="db"))], egress=[rule()], types=[EGRESS])
    ],
    "both-listed": [policy("prod", "p", ingress=[rule()], egress=[rule(pods(app="db"))])],
    "Egress-without-rules": [policy("prod", "p", egress=[])],
}


@cases(
    TYPES,
    [
        ("egress-rules-ignored-unless-Egress", "Ingress-listed", WEB, DEV_WEB, "80", True),
        ("ingress-rules-ignored-unless-Ingress", "Egress-listed", CLIENT, WEB, "80", True),
        ("egress-rules-apply-with-Egress-type", "both-listed", WEB, DEV_WEB, "80", False),
        ("egress-rules-allow-with-Egress-type", "both-listed", WEB, DB, "5432", True),
        ("Egress-type-without-rules-denies-all", "Egress-without-rules", WEB, DB, "5432", False),
    ],
)
def test_policy_types_decide_which_rules_apply(case: Case) -> None:
    check(case)


ISOLATION = {
    "dev-deny-in": [policy("dev", "deny-in", ingress=[])],
    "deny-in-db": [policy("prod", "deny-in", sel({"app": "db"}), ingress=[])],
    "deny-in-web": [policy("prod", "deny-in", sel({"app": "web"}), ingress=[])],
    "deny-in": [DENY_IN],
    "deny-out": [DENY_OUT],
}


@cases(
    ISOLATION,
    [
        ("other-namespace-policy-does-not-isolate", "dev-deny-in", CLIENT, WEB, "80", True),
        ("unselected-pod-is-not-isolated", "deny-in-db", CLIENT, WEB, "80", True),
        ("selected-pod-is-isolated", "deny-in-web", CLIENT, WEB, "80", False),
        ("ingress-policy-does-not-isolate-egress", "deny-in", WEB, DEV_WEB, "80", True),
        ("egress-policy-does-not-isolate-ingress", "deny-out", CLIENT, WEB, "80", True),
        ("egress-policy-isolates-egress", "deny-out", WEB, CLIENT, "8080", False),
    ],
)
def test_isolation_needs_a_policy_of_the_pods_namespace_selecting_it_with_that_type(
    case: Case,
) -> None:
    check(case)


ALLOW_80 = ing("prod", rule(nss(team="b"), ports=[port(80)]), name="allow-80")
ALLOW_81 = ing("prod", rule(nss(team="b"), ports=[port(81)]), name="allow-81")
UNION = {
    "two-policies": [ALLOW_80, ALLOW_81],
    "deny-all-and-allow": [DENY_IN, ALLOW_80],
    "two-rules": [ing("prod", rule(pods(app="db")), rule(nss(env="dev"), ports=[port(53, UDP)]))],
}


@cases(
    UNION,
    [
        ("first-policy-port", "two-policies", CLIENT, WEB, "80", True),
        ("second-policy-port", "two-policies", CLIENT, WEB, "81", True),
        ("neither-policy-port", "two-policies", CLIENT, WEB, "82", False),
        ("deny-all-adds-nothing-to-the-union", "deny-all-and-allow", CLIENT, WEB, "80", True),
        ("second-rule-of-one-policy", "two-rules", CLIENT, WEB, "53/UDP", True),
        ("first-rule-of-one-policy", "two-rules", DB, WEB, "80", True),
    ],
)
def test_allowed_traffic_is_the_union_of_all_rules_of_all_policies(case: Case) -> None:
    check(case)


OUT_OK = egr("dev", rule(nss(team="a")), on=sel({"app": "client"}))
OUT_NO = egr("dev", on=sel({"app": "client"}))
IN_OK = ing("prod", rule(nss(team="b")), on=sel({"app": "web"}))
IN_NO = ing("prod", on=sel({"app": "web"}))
BOTH_SIDES = {
    "both-allow": [OUT_OK, IN_OK],
    "ingress-denies": [OUT_OK, IN_NO],
    "egress-denies": [OUT_NO, IN_OK],
    "both-deny": [OUT_NO, IN_NO],
    "egress-allows-only": [OUT_OK],
    "ingress-allows-only": [IN_OK],
}


@cases(
    BOTH_SIDES,
    [
        ("both-allow", "both-allow", CLIENT, WEB, "80", True),
        ("ingress-denies", "ingress-denies", CLIENT, WEB, "80", False),
        ("egress-denies", "egress-denies", CLIENT, WEB, "80", False),
        ("both-deny", "both-deny", CLIENT, WEB, "80", False),
        ("egress-allows-ingress-not-isolated", "egress-allows-only", CLIENT, WEB, "80", True),
        ("ingress-allows-egress-not-isolated", "ingress-allows-only", CLIENT, WEB, "80", True),
    ],
)
def test_connection_needs_source_egress_and_destination_ingress(case: Case) -> None:
    check(case)


@cases(
    {"deny-both": [DENY_IN, DENY_OUT], "deny-in": [DENY_IN], "deny-out": [DENY_OUT]},
    [
        ("deny-all-both-ways", "deny-both", WEB, WEB, "80", True),
        ("deny-all-ingress", "deny-in", DB, DB, "5432", True),
        ("any-port-and-protocol", "deny-out", WEB, WEB, "1/SCTP", True),
        ("another-pod-still-blocked", "deny-in", DB, WEB, "80", False),
    ],
)
def test_pod_to_itself_is_always_allowed(case: Case) -> None:
    check(case)


@cases(
    {"deny-in": [DENY_IN]},
    [
        ("selects-web", "deny-in", CLIENT, WEB, "80", False),
        ("selects-db", "deny-in", CLIENT, DB, "5432", False),
        ("not-pods-of-other-namespaces", "deny-in", WEB, DEV_WEB, "80", True),
    ],
)
def test_empty_pod_selector_selects_every_pod_of_its_namespace(case: Case) -> None:
    check(case)


@cases(
    {
        "in-80": [ing("prod", rule(ports=[port(80)]))],
        "out-53": [egr("prod", rule(ports=[port(53, UDP)]))],
    },
    [
        ("pod-of-other-namespace", "in-80", CLIENT, WEB, "80", True),
        ("external-ip", "in-80", EXTERNAL, WEB, "80", True),
        ("host-network-pod", "in-80", AGENT, WEB, "80", True),
        ("pod-without-ip", "in-80", PROBE, WEB, "80", True),
        ("egress-to-external-ip", "out-53", WEB, EXTERNAL, "53/UDP", True),
        ("ports-still-apply", "in-80", CLIENT, WEB, "81", False),
    ],
)
def test_rule_without_peers_admits_every_peer_including_external_ips(case: Case) -> None:
    check(case)


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
    {"db-from-web": [ing("prod", rule(pods(app="web")), on=sel({"app": "db"}))]},
    [
        ("matching-pod-of-policy-namespace", "db-from-web", WEB, DB, "5432", True),
        ("matching-pod-of-other-namespace", "db-from-web", DEV_WEB, DB, "5432", False),
        ("matching-pod-of-undeclared-namespace", "db-from-web", THING, DB, "5432", False),
    ],
)
def test_absent_namespace_selector_scopes_pod_selector_to_policy_namespace(case: Case) -> None:
    check(case)


@cases(
    {
        "team-b": [ing("prod", rule(nss(team="b")))],
        "named-ops": [ing("prod", rule(ns_named("ops")))],
        "named-ghost": [ing("prod", rule(ns_named("ghost")))],
    },
    [
        ("any-pod-of-matching-namespace", "team-b", CLIENT, WEB, "80", True),
        ("another-pod-of-matching-namespace", "team-b", DEV_WEB, WEB, "80", True),
        ("own-namespace-when-not-matching", "team-b", DB, WEB, "80", False),
        ("metadata-name-of-unlabelled-namespace", "named-ops", PROBE, WEB, "80", True),
        ("metadata-name-of-undeclared-namespace", "named-ghost", THING, WEB, "80", True),
        ("metadata-name-of-another-namespace", "named-ghost", CLIENT, WEB, "80", False),
    ],
)
def test_namespace_selector_alone_admits_all_pods_of_matching_namespaces(case: Case) -> None:
    check(case)


@cases(
    {
        "and": [ing("prod", rule(Peer(sel({"app": "web"}), sel({"team": "b"}))))],
        "or": [ing("prod", rule(pods(app="db"), nss(team="b")))],
    },
    [
        ("one-peer-both-match", "and", DEV_WEB, WEB, "80", True),
        ("one-peer-only-namespace-matches", "and", CLIENT, WEB, "80", False),
        ("one-peer-only-pod-matches", "and", THING, WEB, "80", False),
        ("two-peers-first-matches", "or", DB, WEB, "80", True),
        ("two-peers-second-matches", "or", CLIENT, WEB, "80", True),
        ("two-peers-neither-matches", "or", THING, WEB, "80", False),
    ],
)
def test_selectors_in_one_peer_are_anded_separate_peers_are_ored(case: Case) -> None:
    check(case)


@cases(
    {
        "pod-{}": [ing("prod", rule(Peer(pod_selector=sel())), on=sel({"app": "db"}))],
        "ns-{}": [ing("prod", rule(Peer(namespace_selector=sel())), on=sel({"app": "db"}))],
        "both-{}": [ing("prod", rule(Peer(sel(), sel())), on=sel({"app": "db"}))],
    },
    [
        ("pod-selector-{}-own-namespace", "pod-{}", WEB, DB, "5432", True),
        ("pod-selector-{}-absent-namespace-selector", "pod-{}", CLIENT, DB, "5432", False),
        ("namespace-selector-{}-every-namespace", "ns-{}", CLIENT, DB, "5432", True),
        ("namespace-selector-{}-undeclared-namespace", "ns-{}", THING, DB, "5432", True),
        ("namespace-selector-{}-not-ip-endpoints", "ns-{}", EXTERNAL, DB, "5432", False),
        ("both-{}-every-pod", "both-{}", PROBE, DB, "5432", True),
    ],
)
def test_empty_selector_matches_everything_in_scope_absent_is_unspecified(case: Case) -> None:
    check(case)


def _from_dev(*exprs: Requirement, **labels: str) -> list[NetworkPolicy]:
    return [
        ing(
            "prod",
            rule(Peer(pod_selector=sel(labels, *exprs), namespace_selector=sel({"team": "b"}))),
        )
    ]


# dev/client: app=client, role=tester; dev/web: app=web (no role); ops has no labels.
EXPRESSIONS = {
    "app=client": _from_dev(app="client"),
    "app=client,role=x": _from_dev(app="client", role="x"),
    "app-In": _from_dev(req("app", Operator.IN, "client", "web")),
    "role-In": _from_dev(req("role", Operator.IN, "tester")),
    "app-NotIn": _from_dev(req("app", Operator.NOT_IN, "client")),
    "role-NotIn": _from_dev(req("role", Operator.NOT_IN, "tester")),
    "role-Exists": _from_dev(req("role", Operator.EXISTS)),
    "role-DoesNotExist": _from_dev(req("role", Operator.DOES_NOT_EXIST)),
    "app=web,role-Exists": _from_dev(req("role", Operator.EXISTS), app="web"),
    "ns-env-NotIn": [ing("prod", rule(nss(req("env", Operator.NOT_IN, "prod"))))],
}


@cases(
    EXPRESSIONS,
    [
        ("matchLabels-equal", "app=client", CLIENT, WEB, "80", True),
        ("matchLabels-every-label-must-match", "app=client,role=x", CLIENT, WEB, "80", False),
        ("In-value-listed", "app-In", DEV_WEB, WEB, "80", True),
        ("In-key-absent", "role-In", DEV_WEB, WEB, "80", False),
        ("NotIn-value-listed", "app-NotIn", CLIENT, WEB, "80", False),
        ("NotIn-key-absent-matches", "role-NotIn", DEV_WEB, WEB, "80", True),
        ("Exists-key-present", "role-Exists", CLIENT, WEB, "80", True),
        ("Exists-key-absent", "role-Exists", DEV_WEB, WEB, "80", False),
        ("DoesNotExist-key-absent", "role-DoesNotExist", DEV_WEB, WEB, "80", True),
        ("DoesNotExist-key-present", "role-DoesNotExist", CLIENT, WEB, "80", False),
        ("matchLabels-and-expressions-are-anded", "app=web,role-Exists", DEV_WEB, WEB, "80", False),
        ("namespace-NotIn-key-absent-matches", "ns-env-NotIn", PROBE, WEB, "80", True),
        ("namespace-NotIn-value-listed", "ns-env-NotIn", DB, WEB, "80", False),
    ],
)
def test_match_labels_and_match_expressions_operators(case: Case) -> None:
    check(case)


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


@cases(
    {
        "deny-both": [DENY_IN, DENY_OUT],
        "out-test-net": [egr("prod", rule(cidr("203.0.113.0/24")))],
    },
    [
        ("ip-to-ip", "deny-both", EXTERNAL, OTHER_EXTERNAL, "80", True),
        ("no-ingress-side-for-an-ip", "out-test-net", WEB, EXTERNAL, "12345/SCTP", True),
        ("pod-ip-alone-is-not-isolated-for-ingress", "deny-both", CLIENT, WEB_IP, "80", True),
        ("pod-ip-alone-is-not-isolated-for-egress", "deny-both", WEB_IP, CLIENT, "8080", True),
    ],
)
def test_external_ip_endpoint_is_never_isolated(case: Case) -> None:
    check(case)


# --- explanations ----------------------------------------------------------------------

ZZ_WEB = ing(
    "prod",
    rule(pods(app="db")),
    rule(nss(team="b"), ports=[port(80), port("http"), port(53, UDP)]),
    name="zz-web",
    on=sel({"app": "web"}),
)
AA_ALL = ing("prod", rule(ports=[port(8000)]), name="aa-all")
MM_DENY = ing("prod", name="mm-deny")
EXPLAINED = evaluator(ZZ_WEB, MM_DENY, AA_ALL)


def _indexes(
    matches: Sequence[RuleMatch],
) -> list[tuple[str, Direction, int, int | None, int | None]]:
    return [(m.policy, m.direction, m.rule_index, m.peer_index, m.port_index) for m in matches]


def test_explanation_names_isolating_policies_sorted_and_every_matching_peer_and_port() -> None:
    explained = EXPLAINED.explain(CLIENT, WEB, port=80, protocol=TCP)
    assert explained.allowed
    assert explained.ingress.isolated
    assert explained.ingress.isolating_policies == ("prod/aa-all", "prod/mm-deny", "prod/zz-web")
    # Rule 1, peer 0, and both port 0 (80) and port 1 (http, which is 80 on web) admit it.
    assert _indexes(explained.ingress.matches) == [
        ("prod/zz-web", INGRESS, 1, 0, 0),
        ("prod/zz-web", INGRESS, 1, 0, 1),
    ]
    assert [m.detail for m in explained.ingress.matches] == [
        "from namespaceSelector team=b; TCP 80",
        "from namespaceSelector team=b; TCP http=80",
    ]
    assert all(m.action is Action.ALLOW for m in explained.ingress.matches)


def test_explanation_of_rule_without_peers_or_ports_has_no_peer_or_port_index() -> None:
    explained = evaluator(egr("dev", rule(), on=sel({"app": "client"}))).explain(
        CLIENT, EXTERNAL, port=443, protocol=TCP
    )
    assert _indexes(explained.egress.matches) == [("dev/out", EGRESS, 0, None, None)]
    assert explained.egress.matches[0].detail == "to any peer; all ports"


def test_blocked_explanation_names_policies_peer_port_and_near_misses() -> None:
    explained = EXPLAINED.explain(CLIENT, WEB, port=81, protocol=TCP)
    assert not explained.allowed
    assert explained.ingress.matches == ()
    assert explained.ingress.reason.splitlines() == [
        "no rule of prod/aa-all, prod/mm-deny, prod/zz-web "
        "allows ingress from dev/client on TCP 81",
        "prod/aa-all ingress[0] admits dev/client only on TCP 8000",
        "prod/mm-deny has no ingress rules: it denies all ingress",
        "prod/zz-web ingress[1] admits dev/client only on TCP 80, TCP http=80, UDP 53",
    ]


@pytest.mark.parametrize(
    ("src", "dst", "direction", "reason"),
    [
        pytest.param(CLIENT, WEB, EGRESS, "no policy selects dev/client for Egress", id="pod"),
        pytest.param(
            EXTERNAL,
            WEB,
            EGRESS,
            "203.0.113.7 is outside the cluster or known only by IP: no policy applies",
            id="ip",
        ),
        pytest.param(
            CLIENT,
            AGENT,
            INGRESS,
            "prod/agent uses the host network: no policy selects host-network pods",
            id="host-network",
        ),
    ],
)
def test_explanation_says_why_an_endpoint_is_not_isolated(
    src: Endpoint, dst: Endpoint, direction: Direction, reason: str
) -> None:
    explained = EXPLAINED.explain(src, dst, port=80, protocol=TCP)
    verdict = explained.egress if direction is EGRESS else explained.ingress
    assert not verdict.isolated
    assert verdict.allowed
    assert verdict.isolating_policies == ()
    assert verdict.reason == reason


def test_loopback_explanation_says_so_and_still_shows_the_policies() -> None:
    explained = evaluator(DENY_IN).explain(WEB, WEB, port=80, protocol=TCP)
    assert explained.loopback
    assert explained.allowed
    assert not explained.ingress.allowed
    assert "loopback: a pod is never blocked from itself" in explained.render()


def test_explanation_render_reads_as_indented_lines() -> None:
    rendered = EXPLAINED.explain(DB, WEB, port=53, protocol=UDP).render()
    assert rendered.splitlines() == [
        "prod/db -> prod/web UDP 53: allowed",
        "  egress of prod/db: allowed, not isolated",
        "    no policy selects prod/db for Egress",
        "  ingress of prod/web: allowed, isolated by prod/aa-all, prod/mm-deny, prod/zz-web",
        "    prod/zz-web ingress[0] (peer 0) -> Allow: "
        "from podSelector app=db in namespace prod; all ports",
    ]


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


# --- input the evaluator refuses ------------------------------------------------------------


def test_policies_the_api_server_would_reject_are_refused_with_every_field_path() -> None:
    bad = policy(
        "prod",
        "bad",
        ingress=[
            rule(Peer(), Peer(pod_selector=sel(), ip_block=IPBlock(ip_network("10.0.0.0/8")))),
            rule(ports=[port("http", end=90), port(90, end=80), port(0), port(1, end=70000)]),
        ],
    )
    with pytest.raises(InvalidInput) as err:
        Evaluator(ClusterState(policies=(bad,)))
    prefix = "NetworkPolicy prod/bad: "
    assert [(str(p.path), p.message.removeprefix(prefix)) for p in err.value.problems] == [
        ("spec.ingress[0].from[0]", "expected podSelector, namespaceSelector or ipBlock"),
        (
            "spec.ingress[0].from[1]",
            "expected ipBlock alone, not with podSelector or namespaceSelector",
        ),
        ("spec.ingress[1].ports[0].port", "expected a numeric port with endPort"),
        ("spec.ingress[1].ports[1].endPort", "expected endPort >= port (90), got 80"),
        ("spec.ingress[1].ports[2].port", "expected a port 1-65535, got 0"),
        ("spec.ingress[1].ports[3].endPort", "expected a port 1-65535, got 70000"),
    ]


def test_the_same_policy_twice_is_refused() -> None:
    with pytest.raises(InvalidInput, match="prod/deny-in is given twice"):
        Evaluator(ClusterState(policies=(DENY_IN, DENY_IN)))


@pytest.mark.parametrize("probe_port", [0, 65536, -80])
def test_probe_port_outside_1_to_65535_is_refused(probe_port: int) -> None:
    ev = evaluator()
    with pytest.raises(InvalidInput, match="expected a port 1-65535"):
        ev.is_allowed(CLIENT, WEB, port=probe_port, protocol=TCP)
    with pytest.raises(InvalidInput, match="expected a port 1-65535"):
        ev.explain(CLIENT, WEB, port=probe_port, protocol=TCP)
