"""Reading projectcalico.org/v3 objects: Calico's defaults, and what its API server rejects."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from service.errors import FieldPath, InvalidInput
from service.policy.calico.model import (
    CalicoPolicy,
    NamedPort,
    NetworkSet,
    PolicyKind,
    PortRange,
    StagedAction,
    Tier,
)
from service.policy.calico.parse import parse_calico
from service.policy.calico.tiers import check_calico
from service.policy.model import Direction
from service.policy.verdict import Action
from tests.policy.calico.builders import objects

INGRESS, EGRESS = Direction.INGRESS, Direction.EGRESS


def policy(spec: str, kind: str = "NetworkPolicy", name: str = "p") -> dict[str, Any]:
    meta = f"{{name: {name}, namespace: dev}}" if "Global" not in kind else f"{{name: {name}}}"
    doc = yaml.safe_load(f"apiVersion: projectcalico.org/v3\nkind: {kind}\nmetadata: {meta}\n")
    doc["spec"] = yaml.safe_load(spec)
    return doc  # type: ignore[no-any-return]


def parsed(spec: str, kind: str = "NetworkPolicy") -> CalicoPolicy:
    found = parse_calico(policy(spec, kind))
    assert isinstance(found, CalicoPolicy)
    return found


def test_calico_defaults_tier_order_selector_and_types() -> None:
    found = parsed("{}")
    assert (found.tier, found.order, found.selector.text) == ("default", None, "all()")
    assert found.types == {INGRESS}
    assert found.namespace == "dev"


@pytest.mark.parametrize(
    ("spec", "types"),
    [
        ("{}", {INGRESS}),
        ("{ingress: [{action: Allow}]}", {INGRESS}),
        ("{egress: [{action: Allow}]}", {EGRESS}),
        ("{ingress: [{action: Allow}], egress: [{action: Allow}]}", {INGRESS, EGRESS}),
        ("{types: [Egress], ingress: [{action: Allow}]}", {EGRESS}),
    ],
)
def test_types_default_as_calico_defaults_them(spec: str, types: set[Direction]) -> None:
    assert parsed(spec).types == types


def test_a_rule_reads_every_criterion() -> None:
    found = parsed(
        """
ingress:
  - action: Deny
    protocol: TCP
    ipVersion: 4
    source:
      nets: [10.0.0.1]
      notNets: [10.1.0.0/16]
      selector: app == 'a'
      notSelector: has(b)
      namespaceSelector: team == 'x'
      serviceAccounts: {names: [api], selector: role == 'r'}
    destination:
      ports: [80, '8000:8080', http]
      notPorts: [8081]
"""
    )
    (rule,) = found.ingress
    assert rule.action is Action.DENY
    assert rule.protocol is not None
    assert rule.protocol.number == 6
    assert str(rule.source.nets[0]) == "10.0.0.1/32"  # a bare address is a /32
    assert rule.source.service_accounts is not None
    assert rule.source.service_accounts.names == ("api",)
    assert rule.destination.ports == (PortRange(80, 80), PortRange(8000, 8080), NamedPort("http"))
    assert rule.destination.not_ports == (PortRange(8081, 8081),)


def test_a_global_policy_reads_its_namespace_selector_and_flags() -> None:
    found = parsed(
        "{namespaceSelector: team == 'a', preDNAT: true, applyOnForward: true}",
        "GlobalNetworkPolicy",
    )
    assert found.namespace is None
    assert found.kind is PolicyKind.GLOBAL_NETWORK_POLICY
    assert found.namespace_selector is not None
    assert found.pre_dnat
    assert found.host_only


def test_staged_policies_default_to_stagedaction_set() -> None:
    found = parsed("{}", "StagedNetworkPolicy")
    assert found.staged
    assert found.staged_action is StagedAction.SET
    assert parsed("{stagedAction: Delete}", "StagedGlobalNetworkPolicy").staged_action is (
        StagedAction.DELETE
    )


def test_a_staged_kubernetes_network_policy_is_a_kubernetes_spec_with_a_staged_action() -> None:
    doc = yaml.safe_load(
        "apiVersion: projectcalico.org/v3\nkind: StagedKubernetesNetworkPolicy\n"
        "metadata: {name: k, namespace: dev}\n"
        "spec: {stagedAction: Set, podSelector: {}, ingress: [{}]}\n"
    )
    found = parse_calico(doc)
    assert isinstance(found, CalicoPolicy)
    assert found.kind is PolicyKind.STAGED_KUBERNETES_NETWORK_POLICY
    assert found.kind.enforced_kind is PolicyKind.KUBERNETES
    assert (found.tier, found.order) == ("default", 1000.0)


def test_tiers_and_network_sets() -> None:
    tier = parse_calico(
        yaml.safe_load(
            "apiVersion: projectcalico.org/v3\nkind: Tier\nmetadata: {name: sec}\n"
            "spec: {order: 100, defaultAction: Pass}"
        )
    )
    assert tier == Tier("sec", 100.0, Action.PASS)
    bare = parse_calico(
        yaml.safe_load("apiVersion: projectcalico.org/v3\nkind: Tier\nmetadata: {name: t}")
    )
    assert bare == Tier("t", None, Action.DENY)
    found = parse_calico(
        yaml.safe_load(
            "apiVersion: projectcalico.org/v3\nkind: NetworkSet\n"
            "metadata: {name: s, namespace: dev, labels: {role: x}}\nspec: {nets: [10.0.0.0/8]}"
        )
    )
    assert isinstance(found, NetworkSet)
    assert found.namespace == "dev"
    assert found.labels == {"role": "x"}


# (spec, kind, field path of the problem, words of the message)
REJECTED: list[tuple[str, str, str, str]] = [
    (
        "{ingress: [{action: allow}]}",
        "NetworkPolicy",
        "spec.ingress[0].action",
        "did you mean 'Allow'",
    ),
    ("{ingress: [{}]}", "NetworkPolicy", "spec.ingress[0].action", "required"),
    (
        "{ingress: [{action: Allow, protocol: tcp}]}",
        "NetworkPolicy",
        "spec.ingress[0].protocol",
        "did you mean 'TCP'",
    ),
    (
        "{ingress: [{action: Allow, protocol: 256}]}",
        "NetworkPolicy",
        "spec.ingress[0].protocol",
        "1-255",
    ),
    (
        "{ingress: [{action: Allow, destination: {ports: [80]}}]}",
        "NetworkPolicy",
        "spec.ingress[0].destination.ports",
        "must set protocol to TCP, UDP or SCTP",
    ),
    (
        "{ingress: [{action: Allow, protocol: ICMP, destination: {ports: [80]}}]}",
        "NetworkPolicy",
        "spec.ingress[0].destination.ports",
        "TCP, UDP or SCTP",
    ),
    (
        "{ingress: [{action: Allow, icmp: {type: 8}}]}",
        "NetworkPolicy",
        "spec.ingress[0].icmp",
        "protocol to ICMP",
    ),
    (
        "{ingress: [{action: Allow, protocol: ICMP, icmp: {code: 1}}]}",
        "NetworkPolicy",
        "spec.ingress[0].icmp.code",
        "needs an ICMP type",
    ),
    (
        "{ingress: [{action: Allow, protocol: ICMP, ipVersion: 6}]}",
        "NetworkPolicy",
        "spec.ingress[0].ipVersion",
        "must be 4",
    ),
    (
        "{ingress: [{action: Allow, ipVersion: 5}]}",
        "NetworkPolicy",
        "spec.ingress[0].ipVersion",
        "expected 4 or 6",
    ),
    (
        "{ingress: [{action: Allow, source: {nets: [10.0.0.0/8, 'fd00::/8']}}]}",
        "NetworkPolicy",
        "spec.ingress[0].source.nets",
        "mix IPv4 and IPv6",
    ),
    (
        "{ingress: [{action: Allow, ipVersion: 6, source: {nets: [10.0.0.0/8]}}]}",
        "NetworkPolicy",
        "spec.ingress[0].source.nets",
        "not ipVersion 6",
    ),
    (
        "{ingress: [{action: Allow, source: {nets: [not-a-cidr]}}]}",
        "NetworkPolicy",
        "spec.ingress[0].source.nets[0]",
        "not a CIDR",
    ),
    (
        "{ingress: [{action: Allow, source: {selector: global()}}]}",
        "NetworkPolicy",
        "spec.ingress[0].source.selector",
        "only be used in an EntityRule namespaceSelector",
    ),
    (
        "{ingress: [{action: Allow, source: {namespaceSelector: global() || has(a)}}]}",
        "NetworkPolicy",
        "spec.ingress[0].source.namespaceSelector",
        "cannot be combined",
    ),
    (
        "{selector: global()}",
        "NetworkPolicy",
        "spec.selector",
        "only be used in an EntityRule namespaceSelector",
    ),
    ("{selector: 'app = x'}", "NetworkPolicy", "spec.selector", "at character 5: expected '=='"),
    (
        "{ingress: [{action: Allow, source: {services: {name: db}, selector: has(a)}}]}",
        "NetworkPolicy",
        "spec.ingress[0].source.services",
        "cannot be combined with selector",
    ),
    (
        "{egress: [{action: Allow, source: {services: {name: db}}}]}",
        "NetworkPolicy",
        "spec.egress[0].source.services",
        "not allowed in an egress rule's source",
    ),
    (
        "{ingress: [{action: Allow, destination: {services: {name: db}}}]}",
        "NetworkPolicy",
        "spec.ingress[0].destination.services",
        "not allowed in an ingress rule's destination",
    ),
    (
        "{egress: [{action: Allow, protocol: TCP,"
        " destination: {services: {name: db}, ports: [1]}}]}",
        "NetworkPolicy",
        "spec.egress[0].destination",
        "ports cannot be given with services",
    ),
    (
        "{egress: [{action: Allow, destination: {services: {name: db}}}]}",
        "GlobalNetworkPolicy",
        "spec.egress[0].destination.services.namespace",
        "required in a global policy",
    ),
    (
        "{ingress: [{action: Allow, http: {methods: [GET]}}]}",
        "NetworkPolicy",
        "spec.ingress[0].http",
        "application layer policy",
    ),
    (
        "{ingress: [{action: Allow, protocol: TCP, destination: {ports: ['90:80']}}]}",
        "NetworkPolicy",
        "spec.ingress[0].destination.ports[0]",
        "lo <= hi",
    ),
    ("{types: [Ingress, Ingress]}", "NetworkPolicy", "spec.types[1]", "more than once"),
    ("{types: [ingress]}", "NetworkPolicy", "spec.types[0]", "not one of Ingress, Egress"),
    ("{order: high}", "NetworkPolicy", "spec.order", "expected a number"),
    ("{tier: Security}", "NetworkPolicy", "spec.tier", "DNS-1123 label"),
    ("{selectr: all()}", "NetworkPolicy", "spec.selectr", "did you mean 'selector'"),
    ("{namespaceSelector: all()}", "NetworkPolicy", "spec.namespaceSelector", "unknown field"),
    (
        "{doNotTrack: true, preDNAT: true, applyOnForward: true}",
        "GlobalNetworkPolicy",
        "spec.preDNAT",
        "cannot both be true",
    ),
    ("{preDNAT: true}", "GlobalNetworkPolicy", "spec.applyOnForward", "must be true when preDNAT"),
    (
        "{preDNAT: true, applyOnForward: true, egress: [{action: Allow}]}",
        "GlobalNetworkPolicy",
        "spec.egress",
        "cannot have egress rules",
    ),
    ("{stagedAction: Apply}", "StagedNetworkPolicy", "spec.stagedAction", "not one of Set, Delete"),
]


@pytest.mark.parametrize(("spec", "kind", "path", "words"), REJECTED)
def test_what_calicos_api_server_rejects_is_rejected_at_its_field(
    spec: str, kind: str, path: str, words: str
) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_calico(policy(spec, kind))
    found = [(str(p.path), p.message) for p in caught.value.problems]
    assert any(p == path and words in m for p, m in found), found


def test_every_problem_is_reported_at_once() -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_calico(policy("{selector: 'a ==', order: x, ingress: [{action: Nope}]}"))
    assert {str(p.path) for p in caught.value.problems} == {
        "spec.selector",
        "spec.order",
        "spec.ingress[0].action",
    }


@pytest.mark.parametrize(
    ("kind", "name", "ok"),
    [
        ("NetworkPolicy", "allow-web", True),
        ("NetworkPolicy", "security.allow-web", True),
        ("NetworkPolicy", "a.b.c", False),
        ("NetworkPolicy", "knp.default.web.x", True),
        ("GlobalNetworkPolicy", "security.deny", True),
        ("GlobalNetworkPolicy", "a.b.c", False),
        ("GlobalNetworkPolicy", "Upper", False),
    ],
)
def test_policy_names_follow_calicos_rules(kind: str, name: str, ok: bool) -> None:
    doc = policy("{}", kind, name=name)
    if ok:
        assert parse_calico(doc).name == name
    else:
        with pytest.raises(InvalidInput, match=r"metadata\.name"):
            parse_calico(doc)


def test_tier_objects_are_validated() -> None:
    with pytest.raises(InvalidInput, match="not one of Deny, Pass"):
        parse_calico(
            yaml.safe_load(
                "apiVersion: projectcalico.org/v3\nkind: Tier\nmetadata: {name: t}\n"
                "spec: {defaultAction: Allow}"
            )
        )
    with pytest.raises(InvalidInput, match="built in with order 1000000"):
        parse_calico(
            yaml.safe_load(
                "apiVersion: projectcalico.org/v3\nkind: Tier\nmetadata: {name: default}\n"
                "spec: {order: 5}"
            )
        )


def test_network_sets_may_not_set_calicos_namespace_label() -> None:
    with pytest.raises(InvalidInput, match=r"projectcalico\.org/namespace is not a valid label"):
        parse_calico(
            yaml.safe_load(
                "apiVersion: projectcalico.org/v3\nkind: GlobalNetworkSet\n"
                "metadata: {name: s, labels: {projectcalico.org/namespace: x}}"
            )
        )


def test_a_policy_in_a_tier_no_tier_object_defines_is_rejected() -> None:
    state_objects = objects(
        "apiVersion: projectcalico.org/v3\nkind: NetworkPolicy\n"
        "metadata: {name: p, namespace: dev}\nspec: {tier: security}\n"
    )
    with pytest.raises(InvalidInput) as caught:
        check_calico(state_objects)
    (problem,) = caught.value.problems
    assert problem.path == FieldPath(("spec", "tier"))
    assert "tier 'security', which no Tier object defines" in problem.message
    defined = objects(
        "apiVersion: projectcalico.org/v3\nkind: Tier\nmetadata: {name: security}\n---\n"
        "apiVersion: projectcalico.org/v3\nkind: NetworkPolicy\n"
        "metadata: {name: p, namespace: dev}\nspec: {tier: security}\n"
    )
    check_calico(defined)
