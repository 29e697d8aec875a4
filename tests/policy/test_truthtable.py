"""The vectorised truth table: the per-cell Evaluator's answers, every cell at once.

Three kinds of tests:

- hand-written rows on one small cluster, each naming the rule of
  reference/policy-semantics.md section 1 it checks, with the verdict worked
  out from the rule (allowed, blocked, or invalid: nothing to probe);
- cell-by-cell equality with ``Evaluator.is_allowed`` on generated clusters
  (bench.synthetic), for a table of sizes and seeds and as a hypothesis
  property over seeds;
- the table's own contract: probe validation, read-only arrays, classes.
"""

from __future__ import annotations

from collections.abc import Mapping
from ipaddress import ip_address, ip_network
from typing import NamedTuple

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bench.synthetic import DEFAULT_PROBES, generate_cluster
from service.errors import FieldPath, InvalidInput
from service.policy.evaluate import Evaluator
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
    Peer,
    Pod,
    PolicyPort,
    Protocol,
    Rule,
)
from service.policy.truthtable import PortProbe, TruthTable, compute_truth_table

TCP, UDP, SCTP = Protocol.TCP, Protocol.UDP, Protocol.SCTP
INGRESS, EGRESS = Direction.INGRESS, Direction.EGRESS
ALL = LabelSelector()

# Probes for generated clusters: numbered, named (resolving to different numbers
# on different pods, or absent), a range member, UDP and SCTP.
PROBES = (
    *DEFAULT_PROBES,
    PortProbe("metrics"),
    PortProbe(443),
    PortProbe(8500),
    PortProbe("dns", UDP),
    PortProbe(3868, SCTP),
    PortProbe("diameter", SCTP),
)


# --- the reference: one Evaluator call per cell ------------------------------------------


def evaluator_matrix(state: ClusterState, evaluator: Evaluator, probe: PortProbe) -> np.ndarray:
    """What the contract says pod_matrix must be, built from is_allowed cell by cell."""
    pods = state.pods
    out = np.zeros((len(pods), len(pods)), dtype=np.bool_)
    for j, dst in enumerate(pods):
        number = (
            probe.port
            if isinstance(probe.port, int)
            else dst.named_port(probe.port, probe.protocol)
        )
        if number is None:
            continue  # invalid: the destination lacks the named port; the column stays False
        for i, src in enumerate(pods):
            out[i, j] = i == j or evaluator.is_allowed(
                src, dst, port=number, protocol=probe.protocol
            )
    return out


def assert_table_matches_evaluator(state: ClusterState, probes: tuple[PortProbe, ...]) -> None:
    table = compute_truth_table(state, probes)
    evaluator = Evaluator(state)
    for k, probe in enumerate(probes):
        expected = evaluator_matrix(state, evaluator, probe)
        got = table.pod_matrix(k)
        wrong = np.argwhere(got != expected)
        if len(wrong):
            i, j = (int(x) for x in wrong[0])
            src, dst = state.pods[i], state.pods[j]
            number = table.port_number(j, k)
            why = (
                evaluator.explain(src, dst, port=number, protocol=probe.protocol).render()
                if number is not None
                else "destination lacks the named port"
            )
            pytest.fail(
                f"{len(wrong)} cells differ on probe {probe}; first {src.ref} -> {dst.ref}: "
                f"table {bool(got[i, j])}, evaluator {bool(expected[i, j])}\n{why}"
            )


# --- a small hand-made cluster ---------------------------------------------------------------


def pod(
    ref: str,
    ip: str | None,
    labels: Mapping[str, str],
    *ports: ContainerPort,
    host_network: bool = False,
) -> Pod:
    namespace, name = ref.split("/")
    return Pod(
        namespace=namespace,
        name=name,
        labels=Labels(labels),
        ports=ports,
        ip=ip_address(ip) if ip is not None else None,
        host_network=host_network,
    )


def sel(**labels: str) -> LabelSelector:
    return LabelSelector(Labels(labels))


def policy(
    namespace: str,
    name: str,
    selector: LabelSelector = ALL,
    *,
    ingress: tuple[Rule, ...] = (),
    egress: tuple[Rule, ...] = (),
    types: frozenset[Direction] | None = None,
) -> NetworkPolicy:
    """A policy with policyTypes defaulted as the API server does, unless given."""
    if types is None:
        types = frozenset({INGRESS, EGRESS} if egress else {INGRESS})
    return NetworkPolicy(namespace, name, selector, types, ingress, egress)


HTTP_80 = ContainerPort(80, TCP, "http")
HTTP_8080 = ContainerPort(8080, TCP, "http")
DNS_UDP = ContainerPort(53, UDP, "dns")

NAMESPACES = (
    Namespace("shop", Labels({"team": "payments", "env": "prod"})),
    Namespace("ops", Labels({"team": "platform"})),
    # "ghost" has a pod but no Namespace object: it still carries its name label.
)
PODS = (
    pod("shop/web", "10.0.1.10", {"app": "web"}, HTTP_80),
    pod("shop/api", "10.0.1.20", {"app": "api"}, HTTP_8080, DNS_UDP),
    pod("shop/db", "10.0.2.30", {"app": "db"}, ContainerPort(5432)),
    pod("shop/pending", None, {"app": "api", "phase": "pending"}, HTTP_8080),
    pod("shop/v6", "fd00::5", {"app": "web", "family": "v6"}, HTTP_80),
    pod("ops/client", "10.0.3.40", {"app": "client"}),
    # Host network: labels that selectors would match, and the node's IP.
    pod("ops/agent", "172.16.0.5", {"app": "client"}, HTTP_80, host_network=True),
    pod("ghost/visitor", "10.0.4.50", {"app": "client"}),
)


def web_from(*peers: Peer) -> tuple[NetworkPolicy]:
    """One policy isolating shop's app=web pods for ingress, admitting ``peers`` on any port."""
    return (policy("shop", "p", sel(app="web"), ingress=(Rule(peers),)),)


POLICY_SETS: Mapping[str, tuple[NetworkPolicy, ...]] = {
    "none": (),
    "deny-ingress-shop": (policy("shop", "deny"),),
    "deny-all-shop": (policy("shop", "deny", types=frozenset({INGRESS, EGRESS})),),
    "deny-all-ops": (policy("ops", "deny", types=frozenset({INGRESS, EGRESS})),),
    "web-from-client-pods": web_from(Peer(pod_selector=sel(app="client"))),
    "web-from-platform-namespaces": web_from(Peer(namespace_selector=sel(team="platform"))),
    "web-from-platform-api-pods": web_from(
        Peer(namespace_selector=sel(team="platform"), pod_selector=sel(app="api"))
    ),
    "web-from-ghost-by-name": web_from(
        Peer(namespace_selector=sel(**{NAMESPACE_NAME_LABEL: "ghost"}))
    ),
    "web-from-pod-cidr-except-10.0.2/24": web_from(
        Peer(ip_block=IPBlock(ip_network("10.0.0.0/16"), (ip_network("10.0.2.0/24"),)))
    ),
    "web-from-node-ips": web_from(Peer(ip_block=IPBlock(ip_network("172.16.0.0/16")))),
    "shop-on-named-http": (
        policy("shop", "p", ingress=(Rule(ports=(PolicyPort(TCP, "http"),)),)),
    ),
    "shop-on-8000-8100": (
        policy("shop", "p", ingress=(Rule(ports=(PolicyPort(TCP, 8000, 8100),)),)),
    ),
    "web-egress-to-db-5432": (
        policy("shop", "p", sel(app="web"), egress=(Rule(
            (Peer(pod_selector=sel(app="db")),), (PolicyPort(TCP, 5432),),
        ),), types=frozenset({EGRESS})),
    ),
    "web-egress-rules-without-egress-type": (
        policy("shop", "p", sel(app="web"), ingress=(Rule(),), egress=(Rule(
            (Peer(pod_selector=sel(app="db")),),
        ),), types=frozenset({INGRESS})),
    ),
    "web-from-api-and-client-two-policies": (
        policy("shop", "a", sel(app="web"), ingress=(Rule((Peer(pod_selector=sel(app="api")),)),)),
        policy("shop", "b", sel(app="web"), ingress=(Rule((Peer(
            namespace_selector=ALL, pod_selector=sel(app="client"),
        ),)),)),
    ),
}  # fmt: skip


class Row(NamedTuple):
    policies: str
    src: str
    dst: str
    probe: PortProbe
    expected: str  # "allowed" | "blocked" | "invalid"


P80, P8080, HTTP = PortProbe(80), PortProbe(8080), PortProbe("http")

ROWS = {
    "no-policy-allows-everything":
        Row("none", "ops/client", "shop/web", P80, "allowed"),
    "ingress-isolation-blocks-other-pods":
        Row("deny-ingress-shop", "shop/api", "shop/web", P80, "blocked"),
    "ingress-isolation-leaves-egress-open":
        Row("deny-ingress-shop", "shop/web", "ops/client", P80, "allowed"),
    "egress-isolation-blocks-the-source":
        Row("deny-all-shop", "shop/web", "ops/client", P80, "blocked"),
    "loopback-is-never-blocked":
        Row("deny-all-shop", "shop/web", "shop/web", P80, "allowed"),
    "loopback-on-an-absent-named-port-is-invalid":
        Row("none", "shop/db", "shop/db", HTTP, "invalid"),
    "named-probe-absent-on-destination-is-invalid":
        Row("none", "shop/web", "shop/db", HTTP, "invalid"),
    "named-probe-matches-name-and-protocol":
        Row("none", "shop/web", "shop/api", PortProbe("dns", TCP), "invalid"),
    "named-probe-resolves-per-destination":
        Row("shop-on-named-http", "ops/client", "shop/api", HTTP, "allowed"),
    "named-rule-port-resolves-on-destination-80":
        Row("shop-on-named-http", "ops/client", "shop/web", P80, "allowed"),
    "named-rule-port-not-another-number":
        Row("shop-on-named-http", "ops/client", "shop/web", P8080, "blocked"),
    "named-rule-port-resolves-on-destination-8080":
        Row("shop-on-named-http", "ops/client", "shop/api", P8080, "allowed"),
    "named-rule-port-absent-on-destination-matches-nothing":
        Row("shop-on-named-http", "ops/client", "shop/db", P80, "blocked"),
    "end-port-range-includes-its-ends":
        Row("shop-on-8000-8100", "ops/client", "shop/db", PortProbe(8100), "allowed"),
    "end-port-range-excludes-past-the-end":
        Row("shop-on-8000-8100", "ops/client", "shop/db", PortProbe(8101), "blocked"),
    "port-protocol-must-match":
        Row("shop-on-8000-8100", "ops/client", "shop/db", PortProbe(8050, UDP), "blocked"),
    "absent-namespace-selector-scopes-to-policy-namespace":
        Row("web-from-client-pods", "ops/client", "shop/web", P80, "blocked"),
    "namespace-selector-only-admits-all-pods-there":
        Row("web-from-platform-namespaces", "ops/client", "shop/web", P80, "allowed"),
    "namespace-selector-mismatch-blocks":
        Row("web-from-platform-namespaces", "shop/api", "shop/web", P80, "blocked"),
    "namespace-and-pod-selector-in-one-peer-are-anded":
        Row("web-from-platform-api-pods", "ops/client", "shop/web", P80, "blocked"),
    "undeclared-namespace-still-has-its-name-label":
        Row("web-from-ghost-by-name", "ghost/visitor", "shop/web", P80, "allowed"),
    "ip-block-matches-a-pod-ip-inside":
        Row("web-from-pod-cidr-except-10.0.2/24", "shop/api", "shop/web", P80, "allowed"),
    "ip-block-except-carves-out-a-pod-ip":
        Row("web-from-pod-cidr-except-10.0.2/24", "shop/db", "shop/web", P80, "blocked"),
    "ip-block-never-matches-a-pod-without-ip":
        Row("web-from-pod-cidr-except-10.0.2/24", "shop/pending", "shop/web", P80, "blocked"),
    "ip-block-v4-never-matches-an-ipv6-pod":
        Row("web-from-pod-cidr-except-10.0.2/24", "shop/v6", "shop/web", P80, "blocked"),
    "host-network-pod-not-matched-by-namespace-selector":
        Row("web-from-platform-namespaces", "ops/agent", "shop/web", P80, "blocked"),
    "host-network-pod-not-matched-by-pod-selector":
        Row("web-from-api-and-client-two-policies", "ops/agent", "shop/web", P80, "blocked"),
    "host-network-pod-matched-by-ip-block-on-node-ip":
        Row("web-from-node-ips", "ops/agent", "shop/web", P80, "allowed"),
    "ip-block-on-node-ips-does-not-match-pod-ips":
        Row("web-from-node-ips", "ops/client", "shop/web", P80, "blocked"),
    "host-network-pod-never-isolated-for-egress":
        Row("deny-all-ops", "ops/agent", "shop/web", P80, "allowed"),
    "host-network-pod-never-isolated-for-ingress":
        Row("deny-all-ops", "shop/web", "ops/agent", P80, "allowed"),
    "egress-rule-admits-its-peer-and-port":
        Row("web-egress-to-db-5432", "shop/web", "shop/db", PortProbe(5432), "allowed"),
    "egress-rule-port-mismatch-blocks":
        Row("web-egress-to-db-5432", "shop/web", "shop/db", P80, "blocked"),
    "egress-rule-peer-mismatch-blocks":
        Row("web-egress-to-db-5432", "shop/web", "shop/api", PortProbe(5432), "blocked"),
    "egress-needs-ingress-of-destination-too":
        Row("deny-ingress-shop", "shop/web", "shop/db", PortProbe(5432), "blocked"),
    "egress-rules-ignored-without-egress-type":
        Row("web-egress-rules-without-egress-type", "shop/web", "ops/client", P80, "allowed"),
    "rules-of-policies-are-a-union-first":
        Row("web-from-api-and-client-two-policies", "shop/api", "shop/web", P80, "allowed"),
    "rules-of-policies-are-a-union-second":
        Row("web-from-api-and-client-two-policies", "ghost/visitor", "shop/web", P80, "allowed"),
}  # fmt: skip


def index_of(ref: str) -> int:
    return next(i for i, p in enumerate(PODS) if p.ref == ref)


@pytest.mark.parametrize("row", ROWS.values(), ids=ROWS.keys())
def test_semantics_rule(row: Row) -> None:
    state = ClusterState(namespaces=NAMESPACES, pods=PODS, policies=POLICY_SETS[row.policies])
    table = compute_truth_table(state, [row.probe])
    src, dst = index_of(row.src), index_of(row.dst)
    got = table.allowed(src, dst, 0)
    assert got == bool(table.pod_matrix(0)[src, dst])
    assert table.valid(dst, 0) is (row.expected != "invalid")
    assert got is (row.expected == "allowed")


@pytest.mark.parametrize("policies", POLICY_SETS.keys())
def test_hand_made_cluster_equals_evaluator(policies: str) -> None:
    state = ClusterState(namespaces=NAMESPACES, pods=PODS, policies=POLICY_SETS[policies])
    probes = (P80, P8080, HTTP, PortProbe(5432), PortProbe(8100), PortProbe("dns", UDP))
    assert_table_matches_evaluator(state, probes)


# --- generated clusters ------------------------------------------------------------------------

SIZES = [
    pytest.param(pods, namespaces, policies, seed, id=f"{pods}p-{namespaces}ns-{policies}np-{seed}")
    for pods, namespaces, policies, seeds in (
        (0, 1, 3, (0,)),
        (12, 1, 0, (0,)),
        (30, 1, 19, (1, 2)),
        (40, 4, 8, (3, 4, 5)),
        (80, 8, 19, (6, 7, 8)),
        (120, 12, 40, (9, 10)),
    )
    for seed in seeds
]  # fmt: skip


@pytest.mark.parametrize(("pods", "namespaces", "policies", "seed"), SIZES)
def test_generated_cluster_equals_evaluator(
    pods: int, namespaces: int, policies: int, seed: int
) -> None:
    state = generate_cluster(pods=pods, namespaces=namespaces, policies=policies, seed=seed)
    assert_table_matches_evaluator(state, PROBES)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(min_value=0, max_value=2**32 - 1),
    pods=st.integers(min_value=0, max_value=60),
    namespaces=st.integers(min_value=1, max_value=8),
    policies=st.integers(min_value=0, max_value=40),
)
def test_generated_cluster_equals_evaluator_for_any_seed(
    seed: int, pods: int, namespaces: int, policies: int
) -> None:
    state = generate_cluster(pods=pods, namespaces=namespaces, policies=policies, seed=seed)
    assert_table_matches_evaluator(state, PROBES[:6])


def test_generated_clusters_reach_the_hard_cells() -> None:
    """The equality tests above are only as good as the cells they meet: check they meet them."""
    states = [
        generate_cluster(pods=pods, namespaces=namespaces, policies=policies, seed=seed)
        for pods, namespaces, policies, seed in ((80, 8, 19, 6), (120, 12, 40, 9))
    ]
    invalid = host_network_pods = pod_ip_in_block = 0
    allowed = blocked = 0
    for state in states:
        table = compute_truth_table(state, PROBES)
        invalid += int((~table.class_valid).sum())
        allowed += int(table.class_allowed.sum())
        blocked += int((~table.class_allowed & table.class_valid[:, None, :]).sum())
        blocks = [
            peer.ip_block
            for p in state.policies
            for rule in (*p.ingress, *p.egress)
            for peer in rule.peers
            if peer.ip_block is not None
        ]
        pod_ip_in_block += sum(
            1 for pod_ in state.pods for b in blocks if pod_.ip is not None and b.contains(pod_.ip)
        )
        host_network_pods += sum(1 for pod_ in state.pods if pod_.host_network)
    assert invalid > 0
    assert pod_ip_in_block > 0
    assert host_network_pods > 0
    assert allowed > 0
    assert blocked > 0


# --- the table's own contract -------------------------------------------------------------


def test_loopback_diagonal_true_and_invalid_columns_false() -> None:
    state = ClusterState(namespaces=NAMESPACES, pods=PODS, policies=POLICY_SETS["deny-all-shop"])
    table = compute_truth_table(state, [HTTP])
    matrix = table.pod_matrix(0)
    for j, dst in enumerate(PODS):
        has_http = dst.named_port("http", TCP) is not None
        assert bool(matrix[j, j]) is has_http
        if not has_http:
            assert not matrix[:, j].any()


def test_allowed_agrees_with_pod_matrix_everywhere() -> None:
    state = generate_cluster(pods=25, namespaces=3, policies=12, seed=42)
    table = compute_truth_table(state, PROBES[:4])
    for k in range(len(table.probes)):
        matrix = table.pod_matrix(k)
        cells = [
            [table.allowed(i, j, k) for j in range(len(state.pods))] for i in range(len(state.pods))
        ]
        assert (np.array(cells, dtype=np.bool_) == matrix).all()


def test_port_number_is_the_named_port_on_each_destination() -> None:
    state = ClusterState(namespaces=NAMESPACES, pods=PODS)
    table = compute_truth_table(state, [HTTP, P80])
    assert table.port_number(index_of("shop/web"), 0) == 80
    assert table.port_number(index_of("shop/api"), 0) == 8080
    assert table.port_number(index_of("shop/db"), 0) is None
    assert table.port_number(index_of("shop/db"), 1) == 80


def test_pods_no_selector_can_tell_apart_share_a_class() -> None:
    twins = (
        pod("shop/a-1", "10.0.1.1", {"app": "a", "pod-template-hash": "x1"}, HTTP_80),
        pod("shop/a-2", "10.0.1.2", {"app": "a", "pod-template-hash": "x2"}, HTTP_80),
        pod("shop/b-1", "10.0.1.3", {"app": "b"}, HTTP_80),
        pod("shop/a-3", "10.0.2.4", {"app": "a"}, HTTP_80),  # outside the ipBlock
    )
    policies = (
        policy("shop", "p", sel(app="a"), ingress=(Rule((
            Peer(ip_block=IPBlock(ip_network("10.0.1.0/24"))),
        )),)),
    )  # fmt: skip
    table = compute_truth_table(
        ClusterState(namespaces=NAMESPACES, pods=twins, policies=policies), [P80]
    )
    classes = table.pod_class.tolist()
    assert classes[0] == classes[1]
    assert len({classes[0], classes[2], classes[3]}) == 3
    assert table.class_count == 3


def test_empty_cluster_gives_empty_tables() -> None:
    table = compute_truth_table(ClusterState(), [P80, HTTP])
    assert table.class_allowed.shape == (2, 0, 0)
    assert table.pod_matrix(1).shape == (0, 0)


def test_arrays_are_read_only() -> None:
    table = compute_truth_table(ClusterState(namespaces=NAMESPACES, pods=PODS), [P80])
    with pytest.raises(ValueError, match="read-only"):
        table.class_allowed[0, 0, 0] = False
    assert isinstance(table, TruthTable)


def test_bad_probes_are_rejected_with_every_field_path() -> None:
    probes = [
        PortProbe(0),
        PortProbe(70000, UDP),
        PortProbe("HTTP"),
        PortProbe("a--b"),
        PortProbe(80, "ICMP"),  # type: ignore[arg-type]
        PortProbe(80),
    ]
    with pytest.raises(InvalidInput) as caught:
        compute_truth_table(ClusterState(), probes)
    paths = [problem.path for problem in caught.value.problems]
    assert paths == [
        FieldPath(("probes", 0, "port")),
        FieldPath(("probes", 1, "port")),
        FieldPath(("probes", 2, "port")),
        FieldPath(("probes", 3, "port")),
        FieldPath(("probes", 4, "protocol")),
    ]


def test_policies_the_evaluator_rejects_are_rejected() -> None:
    shapeless = policy("shop", "p", ingress=(Rule((Peer(),)),))
    state = ClusterState(namespaces=NAMESPACES, pods=PODS, policies=(shapeless,))
    with pytest.raises(InvalidInput, match="podSelector, namespaceSelector or ipBlock"):
        compute_truth_table(state, [P80])
