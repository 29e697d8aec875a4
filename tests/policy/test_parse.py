"""Parsing API-shaped objects into engine values, rejecting what the API server would.

Each rule is a table row: the offending input, the field path reported, and the
message, so the message shape is part of the contract.
"""

from __future__ import annotations

import ipaddress
from typing import Any

import pytest

from service.errors import FieldPath, InvalidInput
from service.policy.model import (
    Direction,
    IPBlock,
    Labels,
    LabelSelector,
    Operator,
    Peer,
    PolicyPort,
    Protocol,
    Requirement,
    Rule,
    SourceRef,
)
from service.policy.parse import (
    parse_label_selector,
    parse_network_policy,
)


def policy(spec: Any, **metadata: Any) -> dict[str, Any]:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": "p", "namespace": "prod", **metadata},
        "spec": spec,
    }


def ingress_peer(peer: Any) -> dict[str, Any]:
    return policy({"podSelector": {}, "ingress": [{"from": [peer]}]})


def ingress_port(port: Any) -> dict[str, Any]:
    return policy({"podSelector": {}, "ingress": [{"ports": [port]}]})


def problems_of(obj: Any) -> list[str]:
    with pytest.raises(InvalidInput) as err:
        parse_network_policy(obj)
    return [str(p) for p in err.value.problems]


# --- what a valid policy becomes -----------------------------------------------------------------


def test_a_valid_policy_becomes_engine_values() -> None:
    obj = policy(
        {
            "podSelector": {"matchLabels": {"app": "web"}},
            "ingress": [
                {
                    "from": [
                        {"podSelector": {"matchLabels": {"role": "client"}}},
                        {
                            "namespaceSelector": {
                                "matchExpressions": [
                                    {"key": "team", "operator": "In", "values": ["a", "b"]}
                                ]
                            },
                            "podSelector": {},
                        },
                        {"ipBlock": {"cidr": "10.0.0.0/8", "except": ["10.1.0.0/16"]}},
                    ],
                    "ports": [
                        {"port": 80},
                        {"protocol": "UDP", "port": 1000, "endPort": 2000},
                        {"port": "http"},
                    ],
                }
            ],
        }
    )
    source = SourceRef("p.yaml", 0, 3)
    parsed = parse_network_policy(obj, source=source)
    assert parsed.ref == "prod/p"
    assert parsed.source == source
    assert parsed.pod_selector == LabelSelector(Labels({"app": "web"}))
    assert parsed.policy_types == frozenset({Direction.INGRESS})
    assert parsed.egress == ()
    assert parsed.ingress == (
        Rule(
            peers=(
                Peer(pod_selector=LabelSelector(Labels({"role": "client"}))),
                Peer(
                    pod_selector=LabelSelector(),
                    namespace_selector=LabelSelector(
                        match_expressions=(Requirement("team", Operator.IN, frozenset({"a", "b"})),)
                    ),
                ),
                Peer(
                    ip_block=IPBlock(
                        ipaddress.ip_network("10.0.0.0/8"),
                        (ipaddress.ip_network("10.1.0.0/16"),),
                    )
                ),
            ),
            ports=(
                PolicyPort(Protocol.TCP, 80),
                PolicyPort(Protocol.UDP, 1000, 2000),
                PolicyPort(Protocol.TCP, "http"),
            ),
        ),
    )


@pytest.mark.parametrize(
    ("spec", "types"),
    [
        ({"podSelector": {}}, {Direction.INGRESS}),
        ({"podSelector": {}, "ingress": [{}]}, {Direction.INGRESS}),
        ({"podSelector": {}, "egress": [{}]}, {Direction.INGRESS, Direction.EGRESS}),
        ({"podSelector": {}, "egress": []}, {Direction.INGRESS}),
        (
            {"podSelector": {}, "policyTypes": [], "egress": [{}]},
            {Direction.INGRESS, Direction.EGRESS},
        ),
        ({"podSelector": {}, "policyTypes": ["Egress"]}, {Direction.EGRESS}),
        ({"podSelector": {}, "policyTypes": ["Egress"], "ingress": [{}]}, {Direction.EGRESS}),
    ],
)
def test_policy_types_default_to_ingress_plus_egress_when_egress_rules_exist(
    spec: dict[str, Any], types: set[Direction]
) -> None:
    assert parse_network_policy(policy(spec)).policy_types == frozenset(types)


def test_absent_namespace_selector_differs_from_empty_one() -> None:
    only_pods = parse_network_policy(ingress_peer({"podSelector": {}}))
    every_namespace = parse_network_policy(
        ingress_peer({"podSelector": {}, "namespaceSelector": {}})
    )
    assert only_pods.ingress[0].peers[0].namespace_selector is None
    assert every_namespace.ingress[0].peers[0].namespace_selector == LabelSelector()


def test_a_null_rule_entry_is_an_empty_rule_allowing_everything() -> None:
    # `ingress: [null]` (a bare "-" in YAML) decodes to an empty rule in Kubernetes.
    parsed = parse_network_policy(policy({"podSelector": {}, "ingress": [None]}))
    assert parsed.ingress == (Rule(),)


def test_a_policy_without_namespace_is_in_default_like_kubectl() -> None:
    obj = policy({"podSelector": {}})
    del obj["metadata"]["namespace"]
    assert parse_network_policy(obj).namespace == "default"
    assert parse_network_policy(obj, default_namespace="team-a").namespace == "team-a"


# --- every rule, with its exact message ----------------------------------------------------------

FROM0 = "spec.ingress[0].from[0]"
PORT0 = "spec.ingress[0].ports[0]"
EXPR0 = f"{FROM0}.podSelector.matchExpressions[0]"
DNS_SUBDOMAIN = (
    "is not a DNS-1123 subdomain (lowercase alphanumerics and '-',"
    " starting and ending with an alphanumeric, in parts separated by '.')"
)
DNS_LABEL = (
    "is not a DNS-1123 label (lowercase alphanumerics and '-',"
    " starting and ending with an alphanumeric)"
)
PORT_NAME_CHARS = "must be lowercase alphanumerics and '-', not starting or ending with '-'"
QUOTE = "expected a string (quote numbers and booleans)"


def with_expression(**requirement: Any) -> dict[str, Any]:
    return ingress_peer({"podSelector": {"matchExpressions": [requirement]}})


def without_spec() -> dict[str, Any]:
    return {k: v for k, v in policy({}).items() if k != "spec"}


def ip_block(cidr_text: str, *excepts: str) -> dict[str, Any]:
    return ingress_peer({"ipBlock": {"cidr": cidr_text, "except": list(excepts)}})


INVALID_POLICIES = [
    # metadata
    ({**policy({"podSelector": {}}), "metadata": {}}, "metadata.name: required"),
    (policy({"podSelector": {}}, name="Web_1"), f"metadata.name: 'Web_1' {DNS_SUBDOMAIN}"),
    (policy({"podSelector": {}}, namespace="a.b"), f"metadata.namespace: 'a.b' {DNS_LABEL}"),
    (
        policy({"podSelector": {}}, labels={"app": "has space"}),
        "metadata.labels.app: 'has space' is not a valid label value: it must be empty or"
        " alphanumerics, '-', '_' or '.', starting and ending with an alphanumeric",
    ),
    (
        policy({"podSelector": {}}, labels={"app": 1}),
        f"metadata.labels.app: {QUOTE}, got an integer",
    ),
    (
        policy({"podSelector": {}}, label={"app": "x"}),
        "metadata.label: unknown field; did you mean 'labels'?",
    ),
    # type meta
    (
        {**policy({"podSelector": {}}), "apiVersion": "extensions/v1beta1"},
        "apiVersion: expected 'networking.k8s.io/v1' for a NetworkPolicy, got 'extensions/v1beta1'",
    ),
    (
        {**policy({"podSelector": {}}), "kind": "Pod"},
        "kind: expected 'NetworkPolicy', got 'Pod'",
    ),
    # spec shape
    (without_spec(), "spec: required"),
    (policy({}), "spec.podSelector: required: use {} to select every pod of the namespace"),
    (policy([]), "spec: expected a mapping, got a list"),
    (
        policy({"podSelector": {}, "ingres": []}),
        "spec.ingres: unknown field; did you mean 'ingress'?",
    ),
    (
        policy({"podSelector": {}, "zzz": 1}),
        "spec.zzz: unknown field; expected one of egress, ingress, podSelector, policyTypes",
    ),
    (
        policy({"podSelector": {}, "ingress": {"from": []}}),
        "spec.ingress: expected a list, got a mapping",
    ),
    (
        policy({"podSelector": {}, "ingress": [{"to": []}]}),
        "spec.ingress[0].to: ingress rules list their peers under 'from', not 'to'",
    ),
    (
        policy({"podSelector": {}, "egress": [{"from": []}]}),
        "spec.egress[0].from: egress rules list their peers under 'to', not 'from'",
    ),
    # policyTypes
    (
        policy({"podSelector": {}, "policyTypes": ["Ingress", "ingress"]}),
        "spec.policyTypes[1]: 'ingress' is not one of Ingress, Egress; did you mean 'Ingress'?",
    ),
    (
        policy({"podSelector": {}, "policyTypes": ["Both"]}),
        "spec.policyTypes[0]: 'Both' is not one of Ingress, Egress",
    ),
    (
        policy({"podSelector": {}, "policyTypes": ["Egress", "Egress"]}),
        "spec.policyTypes[1]: duplicate 'Egress'",
    ),
    (
        policy({"podSelector": {}, "policyTypes": "Ingress"}),
        "spec.policyTypes: expected a list, got a string",
    ),
    # peers
    (ingress_peer({}), f"{FROM0}: a peer needs podSelector, namespaceSelector or ipBlock"),
    (
        ingress_peer({"ipBlock": {"cidr": "10.0.0.0/8"}, "namespaceSelector": {}}),
        f"{FROM0}.ipBlock: ipBlock cannot be combined with podSelector or namespaceSelector"
        " in one peer; list them as separate peers",
    ),
    (
        ingress_peer({"podSelectr": {}}),
        f"{FROM0}.podSelectr: unknown field; did you mean 'podSelector'?",
    ),
    (
        ingress_peer({"podselector": {}}),
        f"{FROM0}.podselector: unknown field; did you mean 'podSelector'?",
    ),
    (ingress_peer("web"), f"{FROM0}: expected a mapping, got a string"),
    # ipBlock
    (ingress_peer({"ipBlock": {}}), f"{FROM0}.ipBlock.cidr: required"),
    (
        ip_block("10.0.0.1/8"),
        f"{FROM0}.ipBlock.cidr: '10.0.0.1/8' has host bits set; did you mean 10.0.0.0/8?",
    ),
    (
        ip_block("10.0.0.1"),
        f"{FROM0}.ipBlock.cidr: '10.0.0.1' is not a CIDR: it needs a prefix length,"
        " such as 10.0.0.1/32",
    ),
    (
        ip_block("10.0.0.0/8", "192.168.0.0/16"),
        f"{FROM0}.ipBlock.except[0]: 192.168.0.0/16 must be strictly inside cidr 10.0.0.0/8",
    ),
    (
        ip_block("10.0.0.0/8", "10.0.0.0/8"),
        f"{FROM0}.ipBlock.except[0]: 10.0.0.0/8 must be strictly inside cidr 10.0.0.0/8",
    ),
    (
        ip_block("10.0.0.0/8", "fd00::/64"),
        f"{FROM0}.ipBlock.except[0]: fd00::/64 is IPv6 but cidr 10.0.0.0/8 is IPv4",
    ),
    (
        ip_block("10.0.0.0/8", "10.0.0.1/16"),
        f"{FROM0}.ipBlock.except[0]: '10.0.0.1/16' has host bits set; did you mean 10.0.0.0/16?",
    ),
    (
        ingress_peer({"ipBlock": {"cidr": "10.0.0.0/8", "except": "10.1.0.0/16"}}),
        f"{FROM0}.ipBlock.except: expected a list, got a string",
    ),
    # selectors
    (
        with_expression(key="tier", operator="Inn", values=["a"]),
        f"{EXPR0}.operator: 'Inn' is not one of In, NotIn, Exists, DoesNotExist",
    ),
    (
        with_expression(key="tier", operator="In"),
        f"{EXPR0}.values: must be non-empty when operator is In",
    ),
    (
        with_expression(key="tier", operator="NotIn", values=[]),
        f"{EXPR0}.values: must be non-empty when operator is NotIn",
    ),
    (
        with_expression(key="tier", operator="Exists", values=["a"]),
        f"{EXPR0}.values: must be empty when operator is Exists",
    ),
    (
        with_expression(key="tier", operator="DoesNotExist", values=["a"]),
        f"{EXPR0}.values: must be empty when operator is DoesNotExist",
    ),
    (with_expression(operator="Exists"), f"{EXPR0}.key: required"),
    (
        with_expression(key="t", operator="In", values=[1]),
        f"{EXPR0}.values[0]: {QUOTE}, got an integer",
    ),
    (
        with_expression(key="t", operator="In", values=["-x"]),
        f"{EXPR0}.values[0]: '-x' is not a valid label value: it must be empty or"
        " alphanumerics, '-', '_' or '.', starting and ending with an alphanumeric",
    ),
    (
        with_expression(key="t", operator="In", values=["a"], value=["b"]),
        f"{EXPR0}.value: unknown field; did you mean 'values'?",
    ),
    (
        ingress_peer({"podSelector": {"matchLabels": {"a/b/c": "x"}}}),
        f"{FROM0}.podSelector.matchLabels.a/b/c: 'a/b/c' is not a valid label key:"
        " at most one '/' is allowed",
    ),
    (
        ingress_peer({"podSelector": {"matchLabel": {"app": "x"}}}),
        f"{FROM0}.podSelector.matchLabel: unknown field; did you mean 'matchLabels'?",
    ),
    (
        ingress_peer({"podSelector": ["app"]}),
        f"{FROM0}.podSelector: expected a mapping, got a list",
    ),
    # ports
    (ingress_port({"port": 0}), f"{PORT0}.port: 0 is not a valid port number: expected 1-65535"),
    (
        ingress_port({"port": 65536}),
        f"{PORT0}.port: 65536 is not a valid port number: expected 1-65535",
    ),
    (
        ingress_port({"port": "80"}),
        f"{PORT0}.port: '80' is a string; write a port number without quotes",
    ),
    (ingress_port({"port": "Http"}), f"{PORT0}.port: port name 'Http' {PORT_NAME_CHARS}"),
    (ingress_port({"port": "-ab"}), f"{PORT0}.port: port name '-ab' {PORT_NAME_CHARS}"),
    (ingress_port({"port": "a--b"}), f"{PORT0}.port: port name 'a--b' must not contain '--'"),
    (
        ingress_port({"port": "sixteen-chars-xx"}),
        f"{PORT0}.port: port name 'sixteen-chars-xx' is longer than 15 characters",
    ),
    (
        ingress_port({"port": True}),
        f"{PORT0}.port: expected a port number or a port name, got a boolean",
    ),
    (
        ingress_port({"port": 80.5}),
        f"{PORT0}.port: expected a port number or a port name, got a number",
    ),
    (
        ingress_port({"protocol": "ICMP"}),
        f"{PORT0}.protocol: 'ICMP' is not one of TCP, UDP, SCTP",
    ),
    (
        ingress_port({"protocol": "udp"}),
        f"{PORT0}.protocol: 'udp' is not one of TCP, UDP, SCTP; did you mean 'UDP'?",
    ),
    (ingress_port({"endPort": 90}), f"{PORT0}.endPort: endPort needs port to be set"),
    (
        ingress_port({"port": "http", "endPort": 90}),
        f"{PORT0}.endPort: endPort needs a numeric port, not the named port 'http'",
    ),
    (
        ingress_port({"port": 100, "endPort": 90}),
        f"{PORT0}.endPort: 90 must be greater than or equal to port 100",
    ),
    (
        ingress_port({"port": 100, "endPort": 70000}),
        f"{PORT0}.endPort: 70000 is not a valid port number: expected 1-65535",
    ),
    (
        ingress_port({"port": 100, "endPort": "200"}),
        f"{PORT0}.endPort: expected an integer, got a string",
    ),
    (ingress_port({"prot": 80}), f"{PORT0}.prot: unknown field; did you mean 'port'?"),
]


@pytest.mark.parametrize(("obj", "expected"), INVALID_POLICIES)
def test_each_invalid_field_is_named_with_what_was_expected(obj: Any, expected: str) -> None:
    assert problems_of(obj) == [expected]


def test_every_problem_is_reported_at_once() -> None:
    obj = policy(
        {
            "podSelector": {"matchLabels": {"app": "-bad"}},
            "policyTypes": ["Sideways"],
            "ingress": [{"from": [{}], "ports": [{"port": 0}]}],
            "egress": [{"to": [{"ipBlock": {"cidr": "nonsense/8"}}]}],
        },
        name="",
    )
    assert problems_of(obj) == [
        "metadata.name: required: must not be empty",
        "spec.podSelector.matchLabels.app: '-bad' is not a valid label value: it must be empty"
        " or alphanumerics, '-', '_' or '.', starting and ending with an alphanumeric",
        f"{FROM0}: a peer needs podSelector, namespaceSelector or ipBlock",
        f"{PORT0}.port: 0 is not a valid port number: expected 1-65535",
        "spec.egress[0].to[0].ipBlock.cidr: 'nonsense/8' is not a valid CIDR:"
        " 'nonsense/8' does not appear to be an IPv4 or IPv6 network",
        "spec.policyTypes[0]: 'Sideways' is not one of Ingress, Egress",
    ]


def test_a_non_mapping_object_is_rejected_whole() -> None:
    with pytest.raises(InvalidInput) as err:
        parse_network_policy([])  # type: ignore[arg-type]
    assert [str(p) for p in err.value.problems] == [
        "expected a mapping (a NetworkPolicy object), got a list"
    ]


def test_parse_label_selector_reports_paths_under_the_given_prefix() -> None:
    prefix = FieldPath(("spec", "selector"))
    with pytest.raises(InvalidInput) as err:
        parse_label_selector(
            {"matchExpressions": [{"key": "a", "operator": "Exists", "values": ["x"]}]}, prefix
        )
    assert [str(p) for p in err.value.problems] == [
        "spec.selector.matchExpressions[0].values: must be empty when operator is Exists"
    ]
    assert parse_label_selector(None, prefix) == LabelSelector()
