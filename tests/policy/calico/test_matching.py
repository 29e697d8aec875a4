"""What a Calico policy selects and what a rule matches (policy-semantics.md section 2).

Namespaced scoping, the labels Calico gives endpoints (pcns., projectcalico.org/*),
nets against pod IPs and network sets, ports and notPorts, protocols, ICMP,
service accounts, Services, host-network pods, and the policies that never
apply to pods. Every check goes through both engines (builders.allowed).
"""

from __future__ import annotations

import pytest

from service.policy.connections import ConnectionSet
from service.policy.evaluate import Evaluator
from service.policy.model import Direction, Protocol
from service.report.connlist import external_ranges
from tests.policy.calico.builders import (
    AGENT,
    DEV_DB,
    DEV_WEB,
    OUTSIDE,
    PROD_CLIENT,
    PROD_WEB,
    SCTP,
    TCP,
    UDP,
    allowed,
    cluster,
    ip,
    pod,
)


def db_ingress(*rules: str, namespace: str = "dev", extra: str = "") -> str:
    """A namespaced Calico policy on app=db's ingress with ``rules`` then nothing (end of tier)."""
    body = "\n".join(f"    - {r}" for r in rules)
    return f"""
apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata: {{name: db, namespace: {namespace}}}
spec:
  selector: app == 'db'
  {extra}
  ingress:
{body}
---
"""


def global_db_ingress(*rules: str, extra: str = "") -> str:
    body = "\n".join(f"    - {r}" for r in rules)
    return f"""
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {{name: gdb}}
spec:
  selector: app == 'db'
  {extra}
  ingress:
{body}
---
"""


# --- which endpoints a policy applies to ----------------------------------------------------


def test_a_namespaced_policy_selects_only_in_its_namespace() -> None:
    text = """
apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata: {name: web, namespace: dev}
spec: {selector: app == 'web'}
"""
    state = cluster(text)
    assert not allowed(state, PROD_CLIENT, DEV_WEB, 80)
    assert allowed(state, PROD_CLIENT, PROD_WEB, 8080)


def test_a_global_policy_selects_in_every_namespace_or_those_its_namespace_selector_picks() -> None:
    everywhere = "apiVersion: projectcalico.org/v3\nkind: GlobalNetworkPolicy\n"
    everywhere += "metadata: {name: web}\nspec: {selector: app == 'web'}\n"
    state = cluster(everywhere)
    assert not allowed(state, PROD_CLIENT, DEV_WEB, 80)
    assert not allowed(state, PROD_CLIENT, PROD_WEB, 8080)
    state = cluster(everywhere.replace("spec: {", "spec: {namespaceSelector: env == 'prod', "))
    assert allowed(state, PROD_CLIENT, DEV_WEB, 80)
    assert not allowed(state, PROD_CLIENT, PROD_WEB, 8080)


@pytest.mark.parametrize(
    ("selector", "selects_dev_db"),
    [
        ("projectcalico.org/namespace == 'dev'", True),
        ("projectcalico.org/orchestrator == 'k8s'", True),
        ("projectcalico.org/serviceaccount == 'db'", True),
        ("pcns.team == 'a'", True),
        ("pcns.kubernetes.io/metadata.name == 'dev'", True),
        ("pcns.projectcalico.org/name == 'dev'", True),
        ("pcsa.projectcalico.org/name == 'db'", True),
        ("pcns.team == 'b'", False),
        ("team == 'a'", False),  # namespace labels are only seen with the pcns. prefix
    ],
)
def test_endpoints_carry_calicos_namespace_and_service_account_labels(
    selector: str, selects_dev_db: bool
) -> None:
    text = "apiVersion: projectcalico.org/v3\nkind: GlobalNetworkPolicy\nmetadata: {name: p}\n"
    text += f'spec: {{selector: "{selector}"}}\n'
    assert allowed(cluster(text), DEV_WEB, DEV_DB, 5432) is not selects_dev_db


def test_a_service_account_selector_matches_the_pods_service_account_name() -> None:
    text = db_ingress(
        "{action: Allow}", extra="serviceAccountSelector: projectcalico.org/name == 'x'"
    )
    assert allowed(cluster(text), DEV_WEB, DEV_DB, 5432)  # db's account is "db": not selected
    text = db_ingress(extra="serviceAccountSelector: projectcalico.org/name == 'db'")
    assert not allowed(cluster(text), DEV_WEB, DEV_DB, 5432)


# --- rule selectors and their scope ----------------------------------------------------------


def test_a_rule_selector_in_a_namespaced_policy_is_limited_to_the_policys_namespace() -> None:
    state = cluster(db_ingress("{action: Allow, source: {selector: app == 'web'}}"))
    assert allowed(state, DEV_WEB, DEV_DB, 5432)
    assert not allowed(state, PROD_WEB, DEV_DB, 5432)


def test_a_rule_selector_in_a_global_policy_reaches_every_namespace() -> None:
    state = cluster(global_db_ingress("{action: Allow, source: {selector: app == 'web'}}"))
    assert allowed(state, DEV_WEB, DEV_DB, 5432)
    assert allowed(state, PROD_WEB, DEV_DB, 5432)
    assert not allowed(state, PROD_CLIENT, DEV_DB, 5432)


def test_namespace_selector_all_means_every_namespace_and_reads_pcns_labels() -> None:
    state = cluster(db_ingress("{action: Allow, source: {namespaceSelector: all()}}"))
    assert allowed(state, PROD_CLIENT, DEV_DB, 5432)
    assert not allowed(state, OUTSIDE, DEV_DB, 5432)
    state = cluster(db_ingress("{action: Allow, source: {namespaceSelector: env == 'prod'}}"))
    assert allowed(state, PROD_CLIENT, DEV_DB, 5432)
    assert not allowed(state, DEV_WEB, DEV_DB, 5432)


def test_namespace_selector_global_matches_global_network_sets_not_pods() -> None:
    text = db_ingress(
        "{action: Allow, source: {namespaceSelector: global(), selector: role == 'partner'}}"
    )
    text += """
apiVersion: projectcalico.org/v3
kind: GlobalNetworkSet
metadata: {name: partners, labels: {role: partner}}
spec: {nets: [203.0.113.0/24]}
"""
    state = cluster(text)
    assert allowed(state, OUTSIDE, DEV_DB, 5432)
    assert not allowed(state, ip("198.51.100.1"), DEV_DB, 5432)
    assert not allowed(state, PROD_CLIENT, DEV_DB, 5432)


def test_a_not_selector_alone_in_a_global_policy_also_matches_ips_outside_calico() -> None:
    state = cluster(global_db_ingress("{action: Allow, source: {notSelector: has(app)}}"))
    assert allowed(state, OUTSIDE, DEV_DB, 5432)
    assert not allowed(state, DEV_WEB, DEV_DB, 5432)


def test_a_negated_selector_only_matches_known_endpoints() -> None:
    state = cluster(global_db_ingress("{action: Allow, source: {selector: '!has(team)'}}"))
    assert allowed(state, DEV_WEB, DEV_DB, 5432)
    assert not allowed(state, OUTSIDE, DEV_DB, 5432)


def test_a_not_selector_in_a_namespaced_policy_is_scoped_to_its_namespace() -> None:
    other = pod("dev", "x", {"app": "x"}, address="10.0.1.7")
    text = db_ingress("{action: Allow, source: {notSelector: app == 'web'}}")
    state = cluster(text, pods=(DEV_WEB, DEV_DB, PROD_CLIENT, other))
    assert allowed(state, other, DEV_DB, 5432)
    assert not allowed(state, DEV_WEB, DEV_DB, 5432)
    assert not allowed(state, PROD_CLIENT, DEV_DB, 5432)  # another namespace: out of scope
    assert not allowed(state, OUTSIDE, DEV_DB, 5432)


def test_service_accounts_match_by_name_and_by_labels() -> None:
    db_account = pod("dev", "batch", {"app": "batch"}, address="10.0.1.9", account="db")
    text = db_ingress("{action: Allow, source: {serviceAccounts: {names: [db, api]}}}")
    state = cluster(text, pods=(DEV_WEB, DEV_DB, db_account))
    assert allowed(state, db_account, DEV_DB, 5432)
    assert not allowed(state, DEV_WEB, DEV_DB, 5432)
    by_label = db_ingress(
        "{action: Allow, source: {serviceAccounts: {selector: projectcalico.org/name == 'db'}}}"
    )
    state = cluster(by_label, pods=(DEV_WEB, DEV_DB, db_account))
    assert allowed(state, db_account, DEV_DB, 5432)
    assert not allowed(state, DEV_WEB, DEV_DB, 5432)


# --- nets and network sets --------------------------------------------------------------------


def test_nets_and_not_nets_match_pod_ips_and_outside_addresses() -> None:
    state = cluster(
        db_ingress("{action: Allow, source: {nets: [10.0.0.0/16], notNets: [10.0.2.2/32]}}")
    )
    assert allowed(state, DEV_WEB, DEV_DB, 5432)
    assert allowed(state, PROD_WEB, DEV_DB, 5432)
    assert not allowed(state, PROD_CLIENT, DEV_DB, 5432)
    assert not allowed(state, OUTSIDE, DEV_DB, 5432)


def test_a_pod_without_an_ip_matches_no_nets() -> None:
    no_ip = pod("dev", "new", {"app": "new"})
    state = cluster(
        db_ingress("{action: Allow, source: {nets: [0.0.0.0/0]}}"), pods=(no_ip, DEV_DB)
    )
    assert not allowed(state, no_ip, DEV_DB, 5432)


def test_a_pod_whose_ip_lies_in_a_matching_network_set_is_matched_by_it() -> None:
    text = db_ingress("{action: Allow, source: {selector: role == 'trusted'}}")
    text += """
apiVersion: projectcalico.org/v3
kind: NetworkSet
metadata: {name: trusted, namespace: dev, labels: {role: trusted}}
spec: {nets: [10.0.2.0/24]}
"""
    state = cluster(text)
    assert allowed(state, PROD_CLIENT, DEV_DB, 5432)  # by IP, though in another namespace
    assert not allowed(state, DEV_WEB, DEV_DB, 5432)


def test_a_namespaced_network_set_is_out_of_reach_of_another_namespaces_policy() -> None:
    text = db_ingress("{action: Allow, source: {selector: role == 'trusted'}}")
    text += """
apiVersion: projectcalico.org/v3
kind: NetworkSet
metadata: {name: trusted, namespace: prod, labels: {role: trusted}}
spec: {nets: [10.0.2.0/24]}
"""
    assert not allowed(cluster(text), PROD_CLIENT, DEV_DB, 5432)


AGENT_PEER = pod("kube-system", "agent-2", {"app": "agent"}, address="172.16.0.11", host=True)


def test_host_network_pods_are_never_selected_and_only_nets_match_them() -> None:
    state = cluster(global_db_ingress("{action: Allow, source: {selector: app == 'agent'}}"))
    assert not allowed(state, AGENT, DEV_DB, 5432)
    state = cluster(global_db_ingress("{action: Allow, source: {nets: [172.16.0.0/16]}}"))
    assert allowed(state, AGENT, DEV_DB, 5432)
    deny_all = "apiVersion: projectcalico.org/v3\nkind: GlobalNetworkPolicy\n"
    deny_all += "metadata: {name: all}\nspec: {selector: all(), types: [Ingress, Egress]}\n"
    state = cluster(deny_all, pods=(DEV_WEB, AGENT, AGENT_PEER))
    assert not allowed(state, DEV_WEB, AGENT, 9100)  # web's egress is denied
    assert allowed(state, AGENT, AGENT_PEER, 9100)  # host-network pods have no endpoint
    assert Evaluator(state).isolating_policies(AGENT, Direction.INGRESS) == ()


# --- ports and protocols ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rule", "port", "protocol", "expected"),
    [
        ("{action: Allow, protocol: TCP, destination: {ports: [5432]}}", 5432, TCP, True),
        ("{action: Allow, protocol: TCP, destination: {ports: [5432]}}", 5433, TCP, False),
        ("{action: Allow, protocol: TCP, destination: {ports: ['5000:6000']}}", 5432, TCP, True),
        ("{action: Allow, protocol: TCP, destination: {ports: ['5000:6000']}}", 6001, TCP, False),
        ("{action: Allow, protocol: TCP, destination: {ports: [pg]}}", 5432, TCP, True),
        ("{action: Allow, protocol: UDP, destination: {ports: [pg]}}", 5432, UDP, False),
        ("{action: Allow, protocol: TCP, destination: {notPorts: [5432]}}", 5432, TCP, False),
        ("{action: Allow, protocol: TCP, destination: {notPorts: [5432]}}", 22, TCP, True),
        ("{action: Allow, protocol: UDP}", 5432, TCP, False),
        ("{action: Allow, protocol: 6}", 5432, TCP, True),
        ("{action: Allow, protocol: 132}", 5432, SCTP, True),
        ("{action: Allow, notProtocol: TCP}", 5432, TCP, False),
        ("{action: Allow, notProtocol: TCP}", 5432, UDP, True),
        ("{action: Allow, protocol: ICMP, icmp: {type: 8}}", 5432, TCP, False),
        ("{action: Allow, protocol: TCP, notICMP: {type: 8}}", 5432, TCP, True),
        ("{action: Allow, protocol: TCP, source: {ports: ['1:65535']}}", 5432, TCP, True),
        ("{action: Allow, protocol: TCP, source: {ports: [80]}}", 5432, TCP, False),
        ("{action: Allow, protocol: TCP, source: {notPorts: [80]}}", 5432, TCP, True),
        ("{action: Allow, protocol: TCP, source: {notPorts: ['40000:40001']}}", 5432, TCP, False),
        ("{action: Allow, ipVersion: 4}", 5432, TCP, True),
        ("{action: Allow, ipVersion: 6}", 5432, TCP, False),
    ],
)
def test_ports_protocols_icmp_and_ip_version(
    rule: str, port: int, protocol: Protocol, expected: bool
) -> None:
    assert allowed(cluster(db_ingress(rule)), DEV_WEB, DEV_DB, port, protocol) is expected


def test_destination_services_match_backing_pods_on_their_target_ports() -> None:
    text = """
apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata: {name: web-out, namespace: dev}
spec:
  selector: app == 'web'
  types: [Egress]
  egress: [{action: Allow, destination: {services: {name: db}}}]
"""
    state = cluster(text)
    assert allowed(state, DEV_WEB, DEV_DB, 5432)
    assert not allowed(state, DEV_WEB, DEV_DB, 5433)
    assert not allowed(state, DEV_WEB, PROD_WEB, 8080)


def test_do_not_track_and_pre_dnat_policies_never_apply_to_pods() -> None:
    text = """
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: host}
spec: {selector: all(), doNotTrack: true, applyOnForward: true, ingress: [{action: Deny}]}
"""
    assert allowed(cluster(text), DEV_WEB, DEV_DB, 5432)


def test_connections_follow_first_match_per_port() -> None:
    text = db_ingress(
        "{action: Deny, protocol: TCP, destination: {ports: ['5000:5999']}}", "{action: Allow}"
    )
    connections = Evaluator(cluster(text)).connections(DEV_WEB, DEV_DB)
    expected = ConnectionSet.all() - ConnectionSet.of(TCP, 5000, 5999)
    assert connections == expected


def test_external_ranges_are_cut_at_calico_nets_and_network_sets() -> None:
    text = db_ingress("{action: Allow, source: {nets: [192.0.2.0/24], notNets: [192.0.2.8/29]}}")
    text += """
apiVersion: projectcalico.org/v3
kind: GlobalNetworkSet
metadata: {name: partners, labels: {role: partner}}
spec: {nets: [198.51.100.0/24]}
"""
    spans = {r.span for r in external_ranges(cluster(text).policies)}
    assert {
        "192.0.2.0-192.0.2.7",
        "192.0.2.8-192.0.2.15",
        "192.0.2.16-192.0.2.255",
        "198.51.100.0-198.51.100.255",
    } <= spans


def test_a_kubernetes_policys_selector_peer_never_matches_a_network_set() -> None:
    # Calico ANDs projectcalico.org/orchestrator == 'k8s' onto Kubernetes selector
    # peers: a NetworkSet with the same labels lends its addresses to Calico rules only.
    network_set = """
apiVersion: projectcalico.org/v3
kind: NetworkSet
metadata: {name: trusted, namespace: dev, labels: {role: trusted}}
spec: {nets: [10.0.2.0/24]}
---
"""
    kubernetes = """
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: db, namespace: dev}
spec:
  podSelector: {matchLabels: {app: db}}
  ingress:
  - from:
    - podSelector: {matchLabels: {role: trusted}}
    - namespaceSelector: {}
      podSelector: {matchLabels: {role: trusted}}
"""
    state = cluster(network_set + kubernetes)
    assert not allowed(state, PROD_CLIENT, DEV_DB, 5432)  # its IP lies in the set
    calico = network_set + db_ingress("{action: Allow, source: {selector: role == 'trusted'}}")
    assert allowed(cluster(calico), PROD_CLIENT, DEV_DB, 5432)
