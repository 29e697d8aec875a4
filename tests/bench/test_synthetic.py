"""bench.synthetic: deterministic per seed, exact sizes, and the feature mix it promises.

The feature checks inspect the generated values themselves (not anything the
generator reports about itself), so a generator that silently stopped making
hostNetwork pods or ipBlocks with excepts would fail here before it weakened
the truth-table property tests that rely on it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from bench.synthetic import generate_cluster
from service.errors import FieldPath, InvalidInput
from service.policy.calico.model import CalicoEntry, CalicoPolicy
from service.policy.model import (
    ClusterState,
    Direction,
    Operator,
    Peer,
    PolicyPort,
    Protocol,
    Rule,
)
from service.policy.verdict import Action


def peers(state: ClusterState) -> Iterator[Peer]:
    for policy in state.policies:
        for rule in (*policy.ingress, *policy.egress):
            yield from rule.peers


def rules(state: ClusterState) -> Iterator[Rule]:
    for policy in state.policies:
        yield from policy.ingress
        yield from policy.egress


def ports(state: ClusterState) -> Iterator[PolicyPort]:
    for rule in rules(state):
        yield from rule.ports


def visible_namespaces(state: ClusterState) -> set[str]:
    return (
        {ns.name for ns in state.namespaces}
        | {p.namespace for p in state.pods}
        | {p.namespace for p in state.policies}
    )


def test_same_seed_gives_the_same_cluster() -> None:
    first = generate_cluster(pods=300, namespaces=12, policies=60, seed=7)
    second = generate_cluster(pods=300, namespaces=12, policies=60, seed=7)
    assert first == second


def test_different_seeds_give_different_clusters() -> None:
    first = generate_cluster(pods=300, namespaces=12, policies=60, seed=7)
    second = generate_cluster(pods=300, namespaces=12, policies=60, seed=8)
    assert first != second


@pytest.mark.parametrize(
    ("pods", "namespaces", "policies"),
    [
        (0, 0, 0),
        (0, 1, 0),
        (0, 3, 5),
        (1, 1, 1),
        (2, 5, 0),
        (37, 5, 19),
        (500, 20, 100),
        (2000, 40, 400),
    ],
)
def test_sizes_are_exactly_those_requested(pods: int, namespaces: int, policies: int) -> None:
    state = generate_cluster(pods=pods, namespaces=namespaces, policies=policies, seed=3)
    assert len(state.pods) == pods
    assert len(state.policies) == policies
    assert len(visible_namespaces(state)) == namespaces


def test_names_are_unique() -> None:
    state = generate_cluster(pods=2000, namespaces=40, policies=400, seed=5)
    assert len({p.ref for p in state.pods}) == len(state.pods)
    assert len({p.ref for p in state.policies}) == len(state.policies)
    assert len({ns.name for ns in state.namespaces}) == len(state.namespaces)


def test_rejects_negative_sizes_naming_each_field() -> None:
    with pytest.raises(InvalidInput) as caught:
        generate_cluster(pods=-1, namespaces=2, policies=-5)
    assert [p.path for p in caught.value.problems] == [
        FieldPath(("pods",)),
        FieldPath(("policies",)),
    ]


def test_rejects_pods_without_a_namespace() -> None:
    with pytest.raises(InvalidInput, match="at least one namespace"):
        generate_cluster(pods=3, namespaces=0, policies=0)


def _operators(state: ClusterState) -> set[Operator]:
    selectors = [p.pod_selector for p in state.policies]
    for peer in peers(state):
        selectors += [s for s in (peer.pod_selector, peer.namespace_selector) if s is not None]
    return {req.operator for s in selectors for req in s.match_expressions}


def _pod_ip_in_an_except(state: ClusterState) -> bool:
    excepts = [ex for peer in peers(state) if peer.ip_block for ex in peer.ip_block.excepts]
    return any(p.ip is not None and any(p.ip in ex for ex in excepts) for p in state.pods)


def _pod_ip_in_a_block(state: ClusterState) -> bool:
    blocks = [peer.ip_block for peer in peers(state) if peer.ip_block is not None]
    return any(p.ip is not None and any(b.contains(p.ip) for b in blocks) for p in state.pods)


FEATURES: dict[str, Callable[[ClusterState], bool]] = {
    "host-network-pods": lambda s: any(p.host_network for p in s.pods),
    "pods-without-ip": lambda s: any(p.ip is None for p in s.pods),
    "ipv6-pods": lambda s: any(p.ip is not None and p.ip.version == 6 for p in s.pods),
    "workloads-share-labels": lambda s: len({p.labels for p in s.pods}) < len(s.pods),
    "named-container-ports": lambda s: any(cp.name for p in s.pods for cp in p.ports),
    "unnamed-container-ports": lambda s: any(cp.name is None for p in s.pods for cp in p.ports),
    "one-port-name-two-numbers": lambda s: (
        len({cp.port for p in s.pods for cp in p.ports if cp.name == "http"}) > 1
    ),
    "udp-container-ports": lambda s: any(
        cp.protocol is Protocol.UDP for p in s.pods for cp in p.ports
    ),
    "sctp-container-ports": lambda s: any(
        cp.protocol is Protocol.SCTP for p in s.pods for cp in p.ports
    ),
    "undeclared-namespace": lambda s: bool(
        {p.namespace for p in s.pods} - {ns.name for ns in s.namespaces}
    ),
    "default-deny": lambda s: any(
        p.pod_selector.is_empty and not p.ingress and not p.egress for p in s.policies
    ),
    "ingress-policies": lambda s: any(Direction.INGRESS in p.policy_types for p in s.policies),
    "egress-policies": lambda s: any(Direction.EGRESS in p.policy_types for p in s.policies),
    "egress-rules-without-egress-type": lambda s: any(
        p.egress and Direction.EGRESS not in p.policy_types for p in s.policies
    ),
    "pod-selector-only-peer": lambda s: any(
        p.pod_selector is not None and p.namespace_selector is None for p in peers(s)
    ),
    "namespace-selector-only-peer": lambda s: any(
        p.pod_selector is None and p.namespace_selector is not None for p in peers(s)
    ),
    "both-selectors-peer": lambda s: any(
        p.pod_selector is not None and p.namespace_selector is not None for p in peers(s)
    ),
    "every-match-expression-operator": lambda s: _operators(s) == set(Operator),
    "ip-block-with-except": lambda s: any(p.ip_block and p.ip_block.excepts for p in peers(s)),
    "ip-block-containing-pod-ips": _pod_ip_in_a_block,
    "except-carving-out-pod-ips": _pod_ip_in_an_except,
    "ipv6-ip-block": lambda s: any(p.ip_block and p.ip_block.cidr.version == 6 for p in peers(s)),
    "rule-with-any-peer": lambda s: any(not r.peers for r in rules(s)),
    "numbered-rule-port": lambda s: any(
        isinstance(p.port, int) and p.end_port is None for p in ports(s)
    ),
    "named-rule-port": lambda s: any(isinstance(p.port, str) for p in ports(s)),
    "ranged-rule-port": lambda s: any(p.end_port is not None for p in ports(s)),
    "protocol-only-rule-port": lambda s: any(p.port is None for p in ports(s)),
    "udp-and-sctp-rule-ports": lambda s: (
        {Protocol.UDP, Protocol.SCTP} <= {p.protocol for p in ports(s)}
    ),
}


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("feature", FEATURES.keys())
def test_feature_mix(feature: str, seed: int) -> None:
    state = generate_cluster(pods=1000, namespaces=40, policies=120, seed=seed)
    assert FEATURES[feature](state)


@pytest.mark.parametrize("feature", ["default-deny", "ip-block-with-except", "named-rule-port"])
def test_small_clusters_get_the_policy_mix(feature: str) -> None:
    """Policy kinds cycle, so a cluster with a few dozen policies already has every kind."""
    state = generate_cluster(pods=30, namespaces=3, policies=19, seed=11)
    assert FEATURES[feature](state)


# --- the Calico half ------------------------------------------------------------------------


def calico_policies(state: ClusterState) -> list[CalicoPolicy]:
    return [
        p.calico
        for p in state.policies
        if isinstance(p, CalicoEntry) and isinstance(p.calico, CalicoPolicy)
    ]


def test_calico_fraction_turns_that_share_of_the_policies_into_calico_ones() -> None:
    state = generate_cluster(pods=600, namespaces=20, policies=200, seed=4, calico_fraction=0.3)
    calico = calico_policies(state)
    kubernetes = [p for p in state.policies if not isinstance(p, CalicoEntry)]
    assert (len(calico), len(kubernetes)) == (60, 140)
    objects = [p.calico for p in state.policies if isinstance(p, CalicoEntry)]
    assert {type(o).__name__ for o in objects} == {"CalicoPolicy", "Tier", "NetworkSet"}


def test_calico_policies_spread_over_three_tiers_and_the_admin_tiers() -> None:
    calico = calico_policies(
        generate_cluster(pods=600, namespaces=20, policies=200, seed=4, calico_fraction=0.3)
    )
    tiers = {p.tier for p in calico}
    assert {"security", "platform", "default"} <= tiers
    assert {"kube-admin", "kube-baseline"} <= tiers
    actions = {r.action for p in calico for r in (*p.ingress, *p.egress)}
    assert actions == set(Action)
    assert any(p.staged for p in calico)
    assert any(p.namespace is None for p in calico)
    assert any(p.namespace for p in calico)


def test_without_a_fraction_the_cluster_is_pure_kubernetes_and_unchanged() -> None:
    plain = generate_cluster(pods=300, namespaces=12, policies=60, seed=7)
    again = generate_cluster(pods=300, namespaces=12, policies=60, seed=7, calico_fraction=0.0)
    assert plain == again
    assert not any(isinstance(p, CalicoEntry) for p in plain.policies)


def test_rejects_a_fraction_outside_zero_to_one() -> None:
    with pytest.raises(InvalidInput) as caught:
        generate_cluster(pods=1, namespaces=1, policies=1, calico_fraction=1.5)
    assert [p.path for p in caught.value.problems] == [FieldPath(("calico_fraction",))]
