"""Hypothesis strategies for random, small, overlap-rich cluster states.

The vocabularies are deliberately tiny (three label keys with three values,
four namespaces, three port names, a handful of port numbers and CIDRs) so
random selectors, named ports and ipBlocks hit the same pods often: most
drawn states have pods that are isolated, matched by several peers, reached
through named ports that only some destinations declare, and IPs inside some
excepts. Every state drawn is one the API server would accept.

Public: :func:`cluster_states` (the main entry), :func:`endpoints`,
:func:`rules`, :func:`network_policies` and the smaller strategies they use,
plus the vocabularies (``PORT_NUMBERS``, ``EXTERNAL_IPS``...) for probes.
"""

from __future__ import annotations

from dataclasses import replace
from functools import cache
from ipaddress import IPv4Network, ip_address

from hypothesis import strategies as st

from service.policy.evaluate import Endpoint
from service.policy.model import (
    NAMESPACE_NAME_LABEL,
    ClusterState,
    ContainerPort,
    Direction,
    IPAddress,
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

__all__ = [
    "CIDRS",
    "EXTERNAL_IPS",
    "LABEL_KEYS",
    "LABEL_VALUES",
    "NAMESPACES",
    "PORT_NAMES",
    "PORT_NUMBERS",
    "cluster_states",
    "container_ports",
    "endpoints",
    "ip_blocks",
    "label_selectors",
    "labels",
    "namespace_selectors",
    "network_policies",
    "peers",
    "pods",
    "policy_ports",
    "probe_ports",
    "requirements",
    "rules",
    "with_rule_added",
]

LABEL_KEYS = ("app", "tier", "team")
LABEL_VALUES = ("a", "b", "c")
NAMESPACES = ("ns-a", "ns-b", "ns-c", "ns-d")
PORT_NAMES = ("http", "dns", "metrics")
PORT_NUMBERS = (53, 80, 81, 443, 8080)
POD_IPS = tuple(ip_address(f"10.0.0.{i}") for i in range(1, 13))
NODE_IPS = (ip_address("192.168.0.1"), ip_address("192.168.0.2"))
EXTERNAL_IPS = (ip_address("203.0.113.1"), ip_address("203.0.113.9"), ip_address("198.51.100.7"))
# Nested on purpose: excepts are drawn from the proper subnets of the chosen CIDR.
CIDRS: tuple[IPv4Network, ...] = tuple(
    IPv4Network(c)
    for c in (
        "0.0.0.0/0",
        "10.0.0.0/24",
        "10.0.0.0/28",
        "10.0.0.0/29",
        "10.0.0.4/30",
        "10.0.0.8/29",
        "10.0.0.2/32",
        "192.168.0.0/16",
        "192.168.0.1/32",
        "203.0.113.0/24",
        "203.0.113.8/29",
    )
)


# Strategy objects are built once: hypothesis validates each new strategy on first
# use, and rebuilding them on every draw made generation several times slower.
_PROTOCOLS = st.sampled_from(list(Protocol))
_PORT_NUMBERS = st.sampled_from(PORT_NUMBERS)
_PORT_NAMES = st.sampled_from(PORT_NAMES)
_NAMESPACE_NAMES = st.sampled_from(NAMESPACES)
_ONE_IN_FIVE = st.integers(0, 4).map(lambda n: n == 0)


@cache
def labels(keys: tuple[str, ...] = LABEL_KEYS) -> st.SearchStrategy[Labels]:
    return st.dictionaries(st.sampled_from(keys), st.sampled_from(LABEL_VALUES), max_size=3).map(
        Labels
    )


@cache
def requirements(
    keys: tuple[str, ...] = LABEL_KEYS, values: tuple[str, ...] = LABEL_VALUES
) -> st.SearchStrategy[Requirement]:
    """In/NotIn with one or two values, Exists/DoesNotExist without: what the API accepts."""
    with_values = st.builds(
        Requirement,
        st.sampled_from(keys),
        st.sampled_from([Operator.IN, Operator.NOT_IN]),
        st.frozensets(st.sampled_from(values), min_size=1, max_size=2),
    )
    without = st.builds(
        Requirement,
        st.sampled_from(keys),
        st.sampled_from([Operator.EXISTS, Operator.DOES_NOT_EXIST]),
    )
    return st.one_of(with_values, without)


@cache
def label_selectors(
    keys: tuple[str, ...] = LABEL_KEYS, values: tuple[str, ...] = LABEL_VALUES
) -> st.SearchStrategy[LabelSelector]:
    return st.builds(
        lambda match, exprs: LabelSelector(Labels(match), tuple(exprs)),
        st.dictionaries(st.sampled_from(keys), st.sampled_from(values), max_size=2),
        st.lists(requirements(keys, values), max_size=2),
    )


@cache
def namespace_selectors() -> st.SearchStrategy[LabelSelector]:
    """Selectors over namespace labels: the usual vocabulary, or by metadata.name."""
    by_name = st.builds(
        lambda names: LabelSelector(
            match_expressions=(Requirement(NAMESPACE_NAME_LABEL, Operator.IN, names),)
        ),
        st.frozensets(_NAMESPACE_NAMES, min_size=1, max_size=2),
    )
    return st.one_of(label_selectors(), by_name)


@cache
def ip_blocks() -> st.SearchStrategy[IPBlock]:
    """A CIDR of the vocabulary and up to two excepts strictly inside it."""

    def with_excepts(cidr: IPv4Network) -> st.SearchStrategy[IPBlock]:
        inside = [c for c in CIDRS if c != cidr and c.subnet_of(cidr)]
        if not inside:
            return st.just(IPBlock(cidr))
        excepts = st.lists(st.sampled_from(inside), max_size=2, unique=True)
        return excepts.map(lambda chosen: IPBlock(cidr, tuple(chosen)))

    return st.sampled_from(CIDRS).flatmap(with_excepts)


@cache
def peers() -> st.SearchStrategy[Peer]:
    return st.one_of(
        st.builds(Peer, pod_selector=label_selectors()),
        st.builds(Peer, namespace_selector=namespace_selectors()),
        st.builds(Peer, pod_selector=label_selectors(), namespace_selector=namespace_selectors()),
        st.builds(Peer, ip_block=ip_blocks()),
    )


@cache
def policy_ports() -> st.SearchStrategy[PolicyPort]:
    """Every port of a protocol, a number, a name, or a range port..endPort."""
    ranges = _PORT_NUMBERS.flatmap(
        lambda lo: st.sampled_from([p for p in PORT_NUMBERS if p >= lo]).map(lambda hi: (lo, hi))
    )
    return st.one_of(
        st.builds(PolicyPort, _PROTOCOLS),
        st.builds(PolicyPort, _PROTOCOLS, _PORT_NUMBERS),
        st.builds(PolicyPort, _PROTOCOLS, _PORT_NAMES),
        st.builds(lambda proto, r: PolicyPort(proto, r[0], r[1]), _PROTOCOLS, ranges),
    )


@cache
def rules() -> st.SearchStrategy[Rule]:
    return st.builds(
        Rule,
        peers=st.lists(peers(), max_size=3).map(tuple),
        ports=st.lists(policy_ports(), max_size=3).map(tuple),
    )


_TYPES = st.frozensets(st.sampled_from(list(Direction)), min_size=1)
_RULE_LISTS = st.lists(rules(), max_size=3).map(tuple)


@st.composite
def network_policies(draw: st.DrawFn, namespace: str, name: str) -> NetworkPolicy:
    """Any policyTypes (rules of an unlisted type are drawn too: they must be ignored)."""
    return NetworkPolicy(
        namespace=namespace,
        name=name,
        pod_selector=draw(label_selectors()),
        policy_types=draw(_TYPES),
        ingress=draw(_RULE_LISTS),
        egress=draw(_RULE_LISTS),
    )


@cache
def container_ports() -> st.SearchStrategy[tuple[ContainerPort, ...]]:
    """A pod's ports; names unique per pod, and a name may be served on any protocol."""
    port = st.builds(
        lambda n, proto, name: ContainerPort(n, proto, name), _PORT_NUMBERS, _PROTOCOLS, _PORT_NAMES
    )
    return st.lists(port, max_size=3, unique_by=lambda cp: cp.name).map(tuple)


@st.composite
def pods(draw: st.DrawFn, namespace: str, name: str, ip: IPAddress | None) -> Pod:
    host_network = draw(_ONE_IN_FIVE)
    return Pod(
        namespace=namespace,
        name=name,
        labels=draw(labels()),
        ports=draw(container_ports()),
        # A host-network pod's traffic carries its node's IP.
        ip=draw(st.sampled_from(NODE_IPS)) if host_network else ip,
        host_network=host_network,
    )


_POD_IP_ORDERS = st.permutations(POD_IPS)
_DECLARED = st.lists(_NAMESPACE_NAMES, unique=True)


@st.composite
def cluster_states(
    draw: st.DrawFn, *, max_pods: int = 6, max_policies: int = 4, policies: bool = True
) -> ClusterState:
    """Pods and policies over the tiny vocabularies; some namespaces left undeclared."""
    ips = draw(_POD_IP_ORDERS)
    drawn_pods = []
    for i in range(draw(st.integers(1, max_pods))):
        # About one pod in five has no IP yet: ipBlocks must never match it.
        ip = None if draw(_ONE_IN_FIVE) else ips[i]
        drawn_pods.append(draw(pods(draw(_NAMESPACE_NAMES), f"pod-{i}", ip)))
    drawn_policies = []
    if policies:
        for i in range(draw(st.integers(0, max_policies))):
            drawn_policies.append(draw(network_policies(draw(_NAMESPACE_NAMES), f"policy-{i}")))
    namespaces = tuple(Namespace(name, draw(labels())) for name in sorted(draw(_DECLARED)))
    return ClusterState(
        namespaces=namespaces, pods=tuple(drawn_pods), policies=tuple(drawn_policies)
    )


def endpoints(state: ClusterState) -> list[Endpoint]:
    """Every pod of ``state``, the external IPs and one pod IP seen as a bare address."""
    out: list[Endpoint] = [*state.pods, *EXTERNAL_IPS]
    with_ip = [p.ip for p in state.pods if p.ip is not None and not p.host_network]
    if with_ip:
        out.append(with_ip[0])
    return out


def probe_ports(state: ClusterState) -> list[int]:
    """Ports worth probing: the vocabulary, its neighbours and the ends of the port space."""
    ports = {
        1,
        65535,
        *PORT_NUMBERS,
        *(p + 1 for p in PORT_NUMBERS),
        *(p - 1 for p in PORT_NUMBERS),
    }
    for pod in state.pods:
        ports.update(cp.port for cp in pod.ports)
    return sorted(ports)


def with_rule_added(
    state: ClusterState, *, index: int, direction: Direction, rule: Rule
) -> ClusterState:
    """``state`` with ``rule`` appended to the ``direction`` rules of policy ``index``."""
    policy = state.policies[index]
    if direction is Direction.INGRESS:
        changed = replace(policy, ingress=(*policy.ingress, rule))
    else:
        changed = replace(policy, egress=(*policy.egress, rule))
    updated = (*state.policies[:index], changed, *state.policies[index + 1 :])
    return replace(state, policies=updated)
