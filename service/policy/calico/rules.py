"""One Calico rule against one connection: does it match, on which ports, and in words.

A rule matches a connection when every criterion it gives holds (AND):
protocol and notProtocol (by IP protocol number), ipVersion, the source entity
against the source endpoint and the destination entity against the destination
endpoint, whatever the direction of the policy. ICMP criteria need protocol
ICMP, so they never match the TCP, UDP and SCTP probes; notICMP holds for any
packet that is not ICMP. ipVersion holds unless an endpoint's known address is
of the other version (an endpoint without an address fits either).

Ports: destination ports are the probed port; a named port resolves on the
destination pod by name and the probed protocol. The source port of a probe is
ephemeral (Linux picks it in 32768-60999), so a source ``ports`` criterion
counts as met only when it covers that whole range, and ``notPorts`` only when
it excludes none of it: anything else would depend on the port the kernel
happens to pick.

``services`` match the pods a Service selects in its namespace (a Service
without a selector has no known endpoints here) and, in a destination, only
the Service's target ports on that pod.
"""

from __future__ import annotations

from collections.abc import Iterator

from service.policy.calico.model import (
    CalicoRule,
    EntityRule,
    NetworkSet,
    PortMatch,
    PortRange,
)
from service.policy.calico.scope import NetworkSetIndex, endpoint_view, entity_selector
from service.policy.calico.selector import Selector
from service.policy.connections import MAX_PORT, MIN_PORT, ConnectionSet
from service.policy.model import (
    ClusterState,
    Endpoint,
    IPAddress,
    IPNetwork,
    Labels,
    Namespace,
    Pod,
    Protocol,
    Service,
    namespace_labels,
)
from service.policy.verdict import Action

__all__ = [
    "EPHEMERAL",
    "PROBE_PROTOCOLS",
    "CompiledEntity",
    "CompiledRule",
    "Context",
    "address_of",
    "backs",
    "service_ports",
    "version_ok",
]

# Linux's default ip_local_port_range: where a probe's source port comes from.
EPHEMERAL = PortRange(32768, 60999)
PROBE_PROTOCOLS = {Protocol.TCP: 6, Protocol.UDP: 17, Protocol.SCTP: 132}


class Context:
    """What matching needs from the cluster: labels as Calico sees them, network sets, Services."""

    def __init__(self, state: ClusterState, sets: tuple[NetworkSet, ...]) -> None:
        self._ns_labels = state.namespace_labels()
        self._views: dict[tuple[str, Labels, str], Labels] = {}
        self.sets = NetworkSetIndex(sets, self.namespace_labels)
        self.services = {(s.namespace, s.name): s for s in state.services}

    def namespace_labels(self, name: str) -> Labels:
        found = self._ns_labels.get(name)
        if found is None:
            found = self._ns_labels[name] = namespace_labels(Namespace(name))
        return found

    def view(self, pod: Pod) -> Labels:
        key = (pod.namespace, pod.labels, pod.service_account)
        found = self._views.get(key)
        if found is None:
            found = endpoint_view(pod, self.namespace_labels(pod.namespace))
            self._views[key] = found
        return found

    def holder(self, selector: Selector, endpoint: Endpoint) -> Pod | NetworkSet | None:
        """What makes ``selector`` match ``endpoint``: the endpoint, a network set, or nothing."""
        is_endpoint = isinstance(endpoint, Pod) and not endpoint.host_network
        if is_endpoint and isinstance(endpoint, Pod) and selector.matches(self.view(endpoint)):
            return endpoint
        return self.sets.holding(selector, address_of(endpoint))

    def selects(self, selector: Selector, endpoint: Endpoint) -> bool:
        return self.holder(selector, endpoint) is not None


def address_of(endpoint: Endpoint) -> IPAddress | None:
    return endpoint.ip if isinstance(endpoint, Pod) else endpoint


def version_ok(endpoint: Endpoint, version: int) -> bool:
    """An ipVersion criterion holds unless the endpoint's known address is of the other version."""
    address = address_of(endpoint)
    return address is None or address.version == version


def backs(service: Service, endpoint: Endpoint) -> bool:
    """Whether ``endpoint`` is a pod the Service's selector picks (its endpoints)."""
    if not isinstance(endpoint, Pod) or endpoint.host_network or not service.selector:
        return False
    if endpoint.namespace != service.namespace:
        return False
    return all(endpoint.labels.get(k) == v for k, v in service.selector.items())


def service_ports(service: Service, pod: Pod) -> Iterator[tuple[Protocol, int]]:
    """The (protocol, port) pairs the Service forwards to on ``pod`` (target ports resolved)."""
    for sp in service.ports:
        target = sp.target_port
        number = target if isinstance(target, int) else pod.named_port(target, sp.protocol)
        if number is not None:
            yield sp.protocol, number


def _hit(match: PortMatch, port: int, protocol: Protocol, endpoint: Endpoint) -> bool:
    if isinstance(match, PortRange):
        return match.lo <= port <= match.hi
    return isinstance(endpoint, Pod) and endpoint.named_port(match.name, protocol) == port


def _ports_of(
    matches: tuple[PortMatch, ...], protocol: Protocol, endpoint: Endpoint
) -> ConnectionSet:
    out = ConnectionSet.none()
    for match in matches:
        if isinstance(match, PortRange):
            lo, hi = max(match.lo, MIN_PORT), min(match.hi, MAX_PORT)
            if lo <= hi:
                out |= ConnectionSet.of(protocol, lo, hi)
        elif isinstance(endpoint, Pod):
            number = endpoint.named_port(match.name, protocol)
            if number is not None:
                out |= ConnectionSet.of(protocol, number)
    return out


class CompiledEntity:
    """A source or destination with its selectors scoped, bound to the cluster's context."""

    __slots__ = (
        "context", "entity", "missing_service", "namespace", "negative", "positive", "service",
    )  # fmt: skip

    def __init__(self, entity: EntityRule, policy_namespace: str | None, context: Context) -> None:
        self.entity = entity
        self.namespace = policy_namespace
        self.context = context
        self.positive = entity_selector(entity, policy_namespace)
        self.negative = entity.not_selector
        self.service: Service | None = None
        self.missing_service = False
        if entity.services is not None:
            namespace = entity.services.namespace or policy_namespace or ""
            self.service = context.services.get((namespace, entity.services.name))
            self.missing_service = self.service is None

    def admits(self, endpoint: Endpoint) -> bool:
        """Every criterion except ports (nets, selectors, service membership)."""
        entity = self.entity
        address = address_of(endpoint)
        if entity.nets and (address is None or not _in_any(address, entity.nets)):
            return False
        if entity.not_nets and (address is None or _in_any(address, entity.not_nets)):
            return False
        if self.positive is not None and not self.context.selects(self.positive, endpoint):
            return False
        if self.negative is not None and self.context.selects(self.negative, endpoint):
            return False
        if self.missing_service:
            return False
        return self.service is None or backs(self.service, endpoint)

    def destination_port_ok(self, port: int, protocol: Protocol, endpoint: Endpoint) -> bool:
        entity = self.entity
        if entity.ports and not any(_hit(m, port, protocol, endpoint) for m in entity.ports):
            return False
        if any(_hit(m, port, protocol, endpoint) for m in entity.not_ports):
            return False
        if self.service is not None and isinstance(endpoint, Pod):
            return (protocol, port) in set(service_ports(self.service, endpoint))
        return True

    def source_ports_ok(self, endpoint: Endpoint) -> bool:
        """Ports criteria on a source hold for the whole ephemeral range (see the module doc)."""
        entity = self.entity
        if not entity.ports and not entity.not_ports:
            return True
        span = ConnectionSet.of(Protocol.TCP, EPHEMERAL.lo, EPHEMERAL.hi)
        if entity.ports and not span <= _ports_of(entity.ports, Protocol.TCP, endpoint):
            return False
        return not (span & _ports_of(entity.not_ports, Protocol.TCP, endpoint))

    def destination_connections(self, protocol: Protocol, endpoint: Endpoint) -> ConnectionSet:
        entity = self.entity
        out = ConnectionSet.of(protocol, MIN_PORT, MAX_PORT)
        if entity.ports:
            out &= _ports_of(entity.ports, protocol, endpoint)
        if entity.not_ports:
            out -= _ports_of(entity.not_ports, protocol, endpoint)
        if self.service is not None:
            served = ConnectionSet.none()
            if isinstance(endpoint, Pod):
                for proto, number in service_ports(self.service, endpoint):
                    if proto is protocol:
                        served |= ConnectionSet.of(proto, number)
            out &= served
        return out

    def describe(self) -> str:
        entity = self.entity
        parts = []
        if entity.nets:
            parts.append("nets " + ", ".join(map(str, entity.nets)))
        if entity.not_nets:
            parts.append("notNets " + ", ".join(map(str, entity.not_nets)))
        if entity.selector is not None:
            parts.append(f"selector {entity.selector}")
        if entity.service_accounts is not None:
            sa = entity.service_accounts
            names = f"names {', '.join(sa.names)}" if sa.names else ""
            chosen = f"selector {sa.selector}" if sa.selector is not None else ""
            parts.append("serviceAccounts " + " and ".join(p for p in (names, chosen) if p))
        if entity.namespace_selector is not None:
            parts.append(f"namespaceSelector {entity.namespace_selector}")
        elif self.namespace is not None and (self.positive is not None):
            parts.append(f"in namespace {self.namespace}")
        if entity.not_selector is not None:
            parts.append(f"notSelector {entity.not_selector}")
        if entity.services is not None:
            where = entity.services.namespace or self.namespace
            parts.append(f"service {where}/{entity.services.name}")
        if entity.ports:
            parts.append("ports " + ", ".join(map(str, entity.ports)))
        if entity.not_ports:
            parts.append("notPorts " + ", ".join(map(str, entity.not_ports)))
        return " and ".join(parts)


def _in_any(address: IPAddress, nets: tuple[IPNetwork, ...]) -> bool:
    return any(n.version == address.version and address in n for n in nets)


class CompiledRule:
    """A rule of a policy, ready to match connections; ``index`` is the rule's position."""

    __slots__ = ("destination", "index", "namespace", "rule", "source")

    def __init__(
        self, index: int, rule: CalicoRule, policy_namespace: str | None, context: Context
    ) -> None:
        self.index = index
        self.rule = rule
        self.namespace = policy_namespace
        self.source = CompiledEntity(rule.source, policy_namespace, context)
        self.destination = CompiledEntity(rule.destination, policy_namespace, context)

    @property
    def action(self) -> Action:
        return self.rule.action

    def protocol_ok(self, protocol: Protocol) -> bool:
        number = PROBE_PROTOCOLS[protocol]
        rule = self.rule
        if rule.protocol is not None and rule.protocol.number != number:
            return False
        return rule.not_protocol is None or rule.not_protocol.number != number

    def endpoints_ok(self, src: Endpoint, dst: Endpoint) -> bool:
        """Everything that does not depend on the port: versions, entities, source ports."""
        version = self.rule.ip_version
        if version is not None and not (version_ok(src, version) and version_ok(dst, version)):
            return False
        return (
            self.source.admits(src)
            and self.source.source_ports_ok(src)
            and self.destination.admits(dst)
        )

    def matches(self, src: Endpoint, dst: Endpoint, *, port: int, protocol: Protocol) -> bool:
        return (
            self.protocol_ok(protocol)
            and self.destination.destination_port_ok(port, protocol, dst)
            and self.endpoints_ok(src, dst)
        )

    def connections(self, src: Endpoint, dst: Endpoint) -> ConnectionSet:
        """Every (protocol, port) this rule matches from ``src`` to ``dst``."""
        if not self.endpoints_ok(src, dst):
            return ConnectionSet.none()
        out = ConnectionSet.none()
        for protocol in PROBE_PROTOCOLS:
            if self.protocol_ok(protocol):
                out |= self.destination.destination_connections(protocol, dst)
        return out

    def describe(self) -> str:
        rule = self.rule
        parts = []
        if rule.name:
            parts.append(f"rule {rule.name!r}")
        if rule.protocol is not None:
            parts.append(f"protocol {rule.protocol}")
        if rule.not_protocol is not None:
            parts.append(f"notProtocol {rule.not_protocol}")
        if rule.ip_version is not None:
            parts.append(f"ipVersion {rule.ip_version}")
        source = self.source.describe()
        destination = self.destination.describe()
        if source:
            parts.append(f"from {source}")
        if destination:
            parts.append(f"to {destination}")
        return "; ".join(parts) or "any traffic"
