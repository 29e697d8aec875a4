"""The Kubernetes admin policies as Calico places them: kube-admin, default, kube-baseline.

AdminNetworkPolicy: tier kube-admin (order 1000, defaultAction Pass), order =
priority, lower first; Pass hands over to the NetworkPolicies, then to the
baseline. BaselineAdminNetworkPolicy: tier kube-baseline (defaultAction Pass),
consulted only for traffic no NetworkPolicy decided. ClusterNetworkPolicy
v1alpha2: tier Admin or Baseline, Accept = Allow.
"""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from service.errors import InvalidInput
from service.policy.calico.admin import parse_admin_policy
from service.policy.calico.model import ADMIN_TIER, BASELINE_TIER, NamedPort, PortRange
from service.policy.model import Direction
from service.policy.verdict import Action
from tests.policy.calico.builders import (
    DEV_DB,
    DEV_WEB,
    PROD_CLIENT,
    PROD_WEB,
    UDP,
    allowed,
    cluster,
)

NP_ALLOWS_WEB = """
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: db, namespace: dev}
spec:
  podSelector: {matchLabels: {app: db}}
  ingress: [{from: [{podSelector: {matchLabels: {app: web}}}]}]
---
"""


def anp(name: str, priority: int, action: str, peer: str = "namespaces: {}") -> str:
    return f"""
apiVersion: policy.networking.k8s.io/v1alpha1
kind: AdminNetworkPolicy
metadata: {{name: {name}}}
spec:
  priority: {priority}
  subject: {{pods: {{namespaceSelector: {{}}, podSelector: {{matchLabels: {{app: db}}}}}}}}
  ingress: [{{action: {action}, from: [{{{peer}}}]}}]
---
"""


BANP_DENY = """
apiVersion: policy.networking.k8s.io/v1alpha1
kind: BaselineAdminNetworkPolicy
metadata: {name: default}
spec:
  subject: {namespaces: {}}
  ingress: [{action: Deny, from: [{namespaces: {matchLabels: {env: prod}}}]}]
---
"""


def test_an_admin_deny_wins_over_a_network_policy_allow() -> None:
    state = cluster(
        NP_ALLOWS_WEB + anp("no-dev", 10, "Deny", "namespaces: {matchLabels: {env: dev}}")
    )
    assert not allowed(state, DEV_WEB, DEV_DB, 5432)


def test_an_admin_allow_wins_over_a_network_policy_that_isolates() -> None:
    state = cluster(
        NP_ALLOWS_WEB + anp("prod-in", 10, "Allow", "namespaces: {matchLabels: {env: prod}}")
    )
    assert allowed(state, PROD_CLIENT, DEV_DB, 5432)


def test_lower_priority_number_is_consulted_first() -> None:
    state = cluster(anp("deny", 20, "Deny") + anp("allow", 10, "Allow"))
    assert allowed(state, PROD_CLIENT, DEV_DB, 5432)
    state = cluster(anp("deny", 5, "Deny") + anp("allow", 10, "Allow"))
    assert not allowed(state, PROD_CLIENT, DEV_DB, 5432)


def test_pass_hands_over_to_network_policies_then_to_the_baseline() -> None:
    state = cluster(anp("pass", 10, "Pass") + NP_ALLOWS_WEB + BANP_DENY)
    # The NetworkPolicy selects db: it decides, the baseline is never reached.
    assert allowed(state, DEV_WEB, DEV_DB, 5432)
    assert not allowed(state, PROD_CLIENT, DEV_DB, 5432)
    # Without a NetworkPolicy on db, the baseline decides for prod; the rest is allowed.
    state = cluster(anp("pass", 10, "Pass") + BANP_DENY)
    assert not allowed(state, PROD_CLIENT, DEV_DB, 5432)
    assert allowed(state, DEV_WEB, DEV_DB, 5432)


def test_an_admin_policy_matching_nothing_passes_by_its_tiers_default_action() -> None:
    state = cluster(anp("other", 10, "Deny", "namespaces: {matchLabels: {env: nowhere}}"))
    assert allowed(state, DEV_WEB, DEV_DB, 5432)


def test_a_network_policy_overrides_the_baseline() -> None:
    allow_prod = NP_ALLOWS_WEB.replace(
        "podSelector: {matchLabels: {app: web}}", "namespaceSelector: {}"
    )
    state = cluster(allow_prod + BANP_DENY)
    assert allowed(state, PROD_CLIENT, DEV_DB, 5432)


def cnp(tier: str, action: str, protocols: str = "") -> str:
    return f"""
apiVersion: policy.networking.k8s.io/v1alpha2
kind: ClusterNetworkPolicy
metadata: {{name: c}}
spec:
  tier: {tier}
  priority: 3
  subject: {{namespaces: {{matchLabels: {{env: dev}}}}}}
  ingress:
    - {{action: {action}, from: [{{namespaces: {{matchLabels: {{env: prod}}}}}}] {protocols}}}
---
"""


def test_cluster_network_policy_accept_is_allow_in_the_admin_tier() -> None:
    state = cluster(NP_ALLOWS_WEB + cnp("Admin", "Accept"))
    assert allowed(state, PROD_CLIENT, DEV_DB, 5432)


def test_cluster_network_policy_baseline_tier_only_decides_what_no_network_policy_did() -> None:
    state = cluster(cnp("Baseline", "Deny"))
    assert not allowed(state, PROD_CLIENT, DEV_DB, 5432)
    state = cluster(
        NP_ALLOWS_WEB.replace("podSelector: {matchLabels: {app: web}}", "namespaceSelector: {}")
        + cnp("Baseline", "Deny")
    )
    assert allowed(state, PROD_CLIENT, DEV_DB, 5432)


def test_cluster_network_policy_protocols_limit_the_rule() -> None:
    state = cluster(cnp("Admin", "Deny", ", protocols: [{tcp: {destinationPort: {number: 5432}}}]"))
    assert not allowed(state, PROD_CLIENT, DEV_DB, 5432)
    assert allowed(state, PROD_CLIENT, DEV_DB, 5433)


def load(text: str) -> dict[str, Any]:
    """The first document of ``text`` (the builders end each with a separator)."""
    return next(d for d in yaml.safe_load_all(text) if d is not None)


def test_admin_policies_land_in_the_admin_and_baseline_tiers_with_their_priority() -> None:
    admin = parse_admin_policy(load(anp("a", 7, "Pass")))
    assert (admin.tier, admin.order, admin.namespace) == (ADMIN_TIER, 7.0, None)
    assert admin.types == {Direction.INGRESS}
    assert admin.ingress[0].action is Action.PASS
    baseline = parse_admin_policy(load(BANP_DENY))
    assert baseline.tier == BASELINE_TIER
    assert parse_admin_policy(load(cnp("Baseline", "Accept"))).ingress[0].action is Action.ALLOW


def test_admin_ports_named_and_ranged() -> None:
    text = anp("p", 1, "Allow").replace(
        "from: [{namespaces: {}}]",
        "from: [{namespaces: {}}], ports: [{portNumber: {protocol: UDP, port: 53}},"
        " {namedPort: pg}, {portRange: {start: 8000, end: 8100}}]",
    )
    found = parse_admin_policy(load(text))
    pairs = [(str(r.protocol), r.destination.ports) for r in found.ingress]
    assert ("UDP", (PortRange(53, 53),)) in pairs
    assert ("TCP", (PortRange(8000, 8100),)) in pairs
    assert {p for p, ports in pairs if ports == (NamedPort("pg"),)} == {"TCP", "UDP", "SCTP"}
    state = cluster(text + anp("deny", 2, "Deny"))
    assert allowed(state, DEV_WEB, DEV_DB, 5432)  # named port pg on db
    assert allowed(state, DEV_WEB, PROD_WEB, 53, UDP) is True  # web is no subject: not selected
    assert not allowed(state, DEV_WEB, DEV_DB, 22)


@pytest.mark.parametrize(
    ("text", "words"),
    [
        (BANP_DENY.replace("name: default", "name: other"), "must be named 'default'"),
        (anp("a", 1001, "Deny"), "out of range: expected 0-1000"),
        (anp("a", 1, "Accept"), "not one of Allow, Deny, Pass"),
        (BANP_DENY.replace("action: Deny", "action: Pass"), "not one of Allow, Deny"),
        (cnp("Middle", "Accept"), "not one of Admin, Baseline"),
        (anp("a", 1, "Deny", "namespaces: {}, pods: {podSelector: {}}"), "exactly one of"),
        (
            anp("a", 1, "Deny")
            .replace("ingress:", "egress:")
            .replace("from:", "to:")
            .replace("namespaces: {}", "nodes: {}"),
            "nodes peers are not modelled",
        ),
        (anp("a", 1, "Deny").replace("from: [{namespaces: {}}]", "from: []"), "at least one peer"),
        (anp("a", 1, "Deny").replace("  subject:", "  subjec:"), "subject: required"),
    ],
)
def test_invalid_admin_policies_are_rejected(text: str, words: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_admin_policy(load(text))
    assert any(words in str(p) for p in caught.value.problems), caught.value
