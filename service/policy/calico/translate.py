"""Kubernetes NetworkPolicies and label selectors in Calico's model, as Calico converts them.

A networking.k8s.io/v1 NetworkPolicy becomes a policy of tier ``default`` at
order 1000 (Felix's ``knp.default.<name>``) whose rules all Allow. Each
Kubernetes rule becomes one Calico rule per (peer, port) pair, so a Calico
rule's EntityRule holds one peer's criteria; the pairs remember their indexes
(:class:`RuleOrigin`) so explanations point at the rule, peer and port the user
wrote. As all are Allow rules, their order is irrelevant and the union the
Kubernetes semantics ask for is what first-match gives.

Peers: a podSelector alone selects in the policy's namespace (the namespaced
scoping of Calico rule selectors does that); a namespaceSelector becomes the
rule's namespaceSelector; an ipBlock becomes ``nets`` with its ``except`` as
``notNets``. Ports: a number or range becomes a port range, a name a named
port, a bare protocol a protocol match.
"""

from __future__ import annotations

from service.policy.calico.model import (
    DEFAULT_TIER,
    KUBERNETES_ORDER,
    CalicoPolicy,
    CalicoRule,
    EntityRule,
    NamedPort,
    PolicyKind,
    PortMatch,
    PortRange,
    ProtocolMatch,
    RuleOrigin,
    StagedAction,
)
from service.policy.calico.scope import ORCHESTRATOR_LABEL
from service.policy.calico.selector import (
    ALL,
    And,
    Compare,
    Has,
    Membership,
    Node,
    Not,
    Op,
    Selector,
    conjunction,
)
from service.policy.model import (
    Direction,
    LabelSelector,
    NetworkPolicy,
    Operator,
    Peer,
    PolicyPort,
    Protocol,
    Rule,
)
from service.policy.verdict import Action

__all__ = [
    "label_selector",
    "port_protocol",
    "translate_network_policy",
    "translate_port",
]

_PROTOCOLS = {Protocol.TCP: 6, Protocol.UDP: 17, Protocol.SCTP: 132}


def port_protocol(protocol: Protocol) -> ProtocolMatch:
    return ProtocolMatch(_PROTOCOLS[protocol], protocol.value)


def label_selector(selector: LabelSelector) -> Selector:
    """A metav1.LabelSelector as the Calico selector with the same meaning (``{}`` = all())."""
    nodes: list[Node] = [Compare(k, Op.EQ, v) for k, v in selector.match_labels.items()]
    for req in selector.match_expressions:
        match req.operator:
            case Operator.IN:
                nodes.append(Membership(req.key, tuple(sorted(req.values))))
            case Operator.NOT_IN:
                nodes.append(Membership(req.key, tuple(sorted(req.values)), inverted=True))
            case Operator.EXISTS:
                nodes.append(Has(req.key))
            case Operator.DOES_NOT_EXIST:
                nodes.append(Not(Has(req.key)))
    if not nodes:
        return ALL
    return Selector.of(nodes[0] if len(nodes) == 1 else And(tuple(nodes)))


# Calico's conversion ANDs this onto every selector peer of a Kubernetes policy, so
# a Kubernetes peer only ever matches pods: never a NetworkSet with look-alike labels.
_PODS_ONLY = Selector.of(Compare(ORCHESTRATOR_LABEL, Op.EQ, "k8s"))


def _peer(peer: Peer) -> EntityRule:
    if peer.ip_block is not None:
        return EntityRule(nets=(peer.ip_block.cidr,), not_nets=peer.ip_block.excepts)
    pods = None if peer.pod_selector is None else label_selector(peer.pod_selector)
    return EntityRule(
        selector=conjunction(pods, _PODS_ONLY),
        namespace_selector=(
            None if peer.namespace_selector is None else label_selector(peer.namespace_selector)
        ),
    )


def translate_port(port: PolicyPort) -> tuple[ProtocolMatch, tuple[PortMatch, ...]]:
    """A Kubernetes port entry as a protocol and the destination ports it admits."""
    protocol = port_protocol(port.protocol)
    if port.port is None:
        return protocol, ()
    if isinstance(port.port, str):
        return protocol, (NamedPort(port.port),)
    high = port.port if port.end_port is None else port.end_port
    return protocol, (PortRange(port.port, high),)


def _rules(rule: Rule, index: int, direction: Direction) -> list[CalicoRule]:
    peers: list[tuple[int | None, EntityRule]] = (
        [(i, _peer(p)) for i, p in enumerate(rule.peers)] if rule.peers else [(None, EntityRule())]
    )
    ports: list[tuple[int | None, PolicyPort | None]] = (
        [(i, p) for i, p in enumerate(rule.ports)] if rule.ports else [(None, None)]
    )
    out = []
    for peer_index, entity in peers:
        for port_index, port in ports:
            protocol: ProtocolMatch | None = None
            numbers: tuple[PortMatch, ...] = ()
            if port is not None:
                protocol, numbers = translate_port(port)
            if direction is Direction.INGRESS:
                source, destination = entity, EntityRule(ports=numbers)
            else:
                source = EntityRule()
                destination = EntityRule(
                    nets=entity.nets,
                    not_nets=entity.not_nets,
                    selector=entity.selector,
                    namespace_selector=entity.namespace_selector,
                    ports=numbers,
                )
            out.append(
                CalicoRule(
                    action=Action.ALLOW,
                    protocol=protocol,
                    source=source,
                    destination=destination,
                    origin=RuleOrigin(index, peer_index, port_index),
                )
            )
    return out


def translate_network_policy(
    policy: NetworkPolicy,
    *,
    kind: PolicyKind = PolicyKind.KUBERNETES,
    staged_action: StagedAction | None = None,
) -> CalicoPolicy:
    """``policy`` as Felix sees it: tier default, order 1000, Allow rules, same types."""

    def rules(direction: Direction) -> tuple[CalicoRule, ...]:
        found: list[CalicoRule] = []
        for i, rule in enumerate(policy.rules(direction)):
            found.extend(_rules(rule, i, direction))
        return tuple(found)

    return CalicoPolicy(
        kind=kind,
        name=policy.name,
        namespace=policy.namespace,
        tier=DEFAULT_TIER,
        order=KUBERNETES_ORDER,
        selector=label_selector(policy.pod_selector),
        types=policy.policy_types,
        ingress=rules(Direction.INGRESS),
        egress=rules(Direction.EGRESS),
        staged_action=staged_action,
        source=policy.source,
    )
