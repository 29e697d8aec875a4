"""Values the policy engine reasons about.

Everything here is a frozen, hashable value: the engine groups pods into
equivalence classes by these values, so equality must mean "behaves alike".
Nothing here parses or validates raw input; :mod:`service.policy.parse` builds
these from API-shaped dictionaries and rejects what the API server would.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TypeAlias

IPAddress: TypeAlias = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork: TypeAlias = ipaddress.IPv4Network | ipaddress.IPv6Network

# The label the API server puts on every namespace (immutable since 1.22).
NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"


class Protocol(StrEnum):
    TCP = "TCP"
    UDP = "UDP"
    SCTP = "SCTP"


class Direction(StrEnum):
    INGRESS = "Ingress"
    EGRESS = "Egress"


class Operator(StrEnum):
    IN = "In"
    NOT_IN = "NotIn"
    EXISTS = "Exists"
    DOES_NOT_EXIST = "DoesNotExist"


class Labels(Mapping[str, str]):
    """An immutable, hashable label map."""

    __slots__ = ("_hash", "_items")

    def __init__(self, items: Mapping[str, str] | Iterable[tuple[str, str]] = ()) -> None:
        pairs = dict(items.items() if isinstance(items, Mapping) else items)
        self._items: dict[str, str] = dict(sorted(pairs.items()))
        self._hash = hash(tuple(self._items.items()))

    def __getitem__(self, key: str) -> str:
        return self._items[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __hash__(self) -> int:
        return self._hash

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Labels):
            return self._items == other._items
        if isinstance(other, Mapping):
            return self._items == dict(other)
        return NotImplemented

    def __repr__(self) -> str:
        return f"Labels({self._items!r})"

    def __str__(self) -> str:
        return ",".join(f"{k}={v}" for k, v in self._items.items())

    def with_label(self, key: str, value: str) -> Labels:
        return Labels({**self._items, key: value})


@dataclass(frozen=True, slots=True)
class Requirement:
    """One matchExpressions entry."""

    key: str
    operator: Operator
    values: frozenset[str] = frozenset()

    def matches(self, labels: Mapping[str, str]) -> bool:
        match self.operator:
            case Operator.IN:
                return labels.get(self.key) in self.values
            case Operator.NOT_IN:
                # NotIn matches pods that lack the key, as in apimachinery's selector.
                return labels.get(self.key) not in self.values
            case Operator.EXISTS:
                return self.key in labels
            case Operator.DOES_NOT_EXIST:
                return self.key not in labels


@dataclass(frozen=True, slots=True)
class LabelSelector:
    """A metav1.LabelSelector. The empty selector matches everything."""

    match_labels: Labels = field(default_factory=Labels)
    match_expressions: tuple[Requirement, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        for key, value in self.match_labels.items():
            if labels.get(key) != value:
                return False
        return all(req.matches(labels) for req in self.match_expressions)

    @property
    def is_empty(self) -> bool:
        return not self.match_labels and not self.match_expressions

    def __str__(self) -> str:
        parts = [f"{k}={v}" for k, v in self.match_labels.items()]
        for req in self.match_expressions:
            if req.operator in (Operator.IN, Operator.NOT_IN):
                values = ",".join(sorted(req.values))
                word = "in" if req.operator is Operator.IN else "notin"
                parts.append(f"{req.key} {word} ({values})")
            elif req.operator is Operator.EXISTS:
                parts.append(req.key)
            else:
                parts.append(f"!{req.key}")
        return ",".join(parts) if parts else "{}"


@dataclass(frozen=True, slots=True)
class IPBlock:
    """An ipBlock peer: ``cidr`` minus every ``except`` (validated to lie inside it)."""

    cidr: IPNetwork
    excepts: tuple[IPNetwork, ...] = ()

    def contains(self, address: IPAddress) -> bool:
        if address.version != self.cidr.version or address not in self.cidr:
            return False
        return not any(address in ex for ex in self.excepts)

    def __str__(self) -> str:
        if not self.excepts:
            return str(self.cidr)
        return f"{self.cidr} except {', '.join(str(e) for e in self.excepts)}"


@dataclass(frozen=True, slots=True)
class Peer:
    """One entry of ``from`` / ``to``.

    Exactly one of these shapes: pod selector and/or namespace selector, or an
    ipBlock. ``None`` means the field was absent, which differs from ``{}``:
    an absent namespaceSelector scopes the pod selector to the policy's own
    namespace; ``{}`` means every namespace.
    """

    pod_selector: LabelSelector | None = None
    namespace_selector: LabelSelector | None = None
    ip_block: IPBlock | None = None

    def __str__(self) -> str:
        if self.ip_block is not None:
            return f"ipBlock {self.ip_block}"
        parts = []
        if self.namespace_selector is not None:
            parts.append(f"namespaceSelector {self.namespace_selector}")
        if self.pod_selector is not None:
            parts.append(f"podSelector {self.pod_selector}")
        return " and ".join(parts)


@dataclass(frozen=True, slots=True)
class PolicyPort:
    """One entry of ``ports``. ``port`` None means every port of ``protocol``."""

    protocol: Protocol = Protocol.TCP
    port: int | str | None = None
    end_port: int | None = None

    def __str__(self) -> str:
        if self.port is None:
            return f"{self.protocol} all ports"
        if self.end_port is not None:
            return f"{self.protocol} {self.port}-{self.end_port}"
        return f"{self.protocol} {self.port}"


@dataclass(frozen=True, slots=True)
class Rule:
    """An ingress or egress rule. Empty ``peers`` = all peers; empty ``ports`` = all ports."""

    peers: tuple[Peer, ...] = ()
    ports: tuple[PolicyPort, ...] = ()


@dataclass(frozen=True, slots=True)
class SourceRef:
    """Where a manifest object came from, for error messages and explanations."""

    file: str
    document: int = 0
    line: int | None = None

    def __str__(self) -> str:
        return f"{self.file}:{self.line}" if self.line is not None else self.file


@dataclass(frozen=True, slots=True)
class NetworkPolicy:
    """A networking.k8s.io/v1 NetworkPolicy, with policyTypes already defaulted."""

    namespace: str
    name: str
    pod_selector: LabelSelector
    policy_types: frozenset[Direction]
    ingress: tuple[Rule, ...] = ()
    egress: tuple[Rule, ...] = ()
    source: SourceRef | None = field(default=None, compare=False)

    @property
    def ref(self) -> str:
        return f"{self.namespace}/{self.name}"

    def rules(self, direction: Direction) -> tuple[Rule, ...]:
        """Rules in force for ``direction``: none unless the type is listed."""
        if direction not in self.policy_types:
            return ()
        return self.ingress if direction is Direction.INGRESS else self.egress


@dataclass(frozen=True, slots=True)
class ContainerPort:
    port: int
    protocol: Protocol = Protocol.TCP
    name: str | None = None


@dataclass(frozen=True, slots=True, order=True)
class WorkloadRef:
    """The object that owns a pod, printed as netpol-analyzer does: ``ns/name[Kind]``."""

    namespace: str
    name: str
    kind: str

    def __str__(self) -> str:
        return f"{self.namespace}/{self.name}[{self.kind}]"


@dataclass(frozen=True, slots=True)
class Namespace:
    name: str
    labels: Labels = field(default_factory=Labels)


@dataclass(frozen=True, slots=True)
class Pod:
    namespace: str
    name: str
    labels: Labels = field(default_factory=Labels)
    ports: tuple[ContainerPort, ...] = ()
    ip: IPAddress | None = None
    host_network: bool = False
    workload: WorkloadRef | None = None
    service_account: str = "default"

    @property
    def ref(self) -> str:
        return f"{self.namespace}/{self.name}"

    @property
    def owner(self) -> WorkloadRef:
        return self.workload or WorkloadRef(self.namespace, self.name, "Pod")

    def named_port(self, name: str, protocol: Protocol) -> int | None:
        """The number behind a named port, matched by name and protocol, as Kubernetes does."""
        for cp in self.ports:
            if cp.name == name and cp.protocol is protocol:
                return cp.port
        return None


# One end of a connection: a pod, or an address (outside the cluster, or known only by IP).
Endpoint: TypeAlias = Pod | IPAddress


def endpoint_name(endpoint: Endpoint) -> str:
    """``namespace/name`` for a pod, the address for an IP endpoint."""
    return endpoint.ref if isinstance(endpoint, Pod) else str(endpoint)


@dataclass(frozen=True, slots=True)
class ServicePort:
    port: int
    target_port: int | str
    protocol: Protocol = Protocol.TCP
    name: str | None = None


@dataclass(frozen=True, slots=True)
class Service:
    namespace: str
    name: str
    selector: Labels = field(default_factory=Labels)
    ports: tuple[ServicePort, ...] = ()
    cluster_ip: IPAddress | None = None


@dataclass(frozen=True, slots=True)
class ClusterState:
    """Everything the engine needs to know: namespaces, pods, services and policies.

    ``namespaces`` always contains every namespace a pod or policy lives in; the
    manifest reader adds undeclared ones with only their metadata.name label.
    """

    namespaces: tuple[Namespace, ...] = ()
    pods: tuple[Pod, ...] = ()
    policies: tuple[NetworkPolicy, ...] = ()
    services: tuple[Service, ...] = ()

    def namespace_labels(self) -> dict[str, Labels]:
        return {ns.name: namespace_labels(ns) for ns in self.namespaces}


def namespace_labels(ns: Namespace) -> Labels:
    """A namespace's labels as selectors see them: with kubernetes.io/metadata.name set."""
    if ns.labels.get(NAMESPACE_NAME_LABEL) == ns.name:
        return ns.labels
    return ns.labels.with_label(NAMESPACE_NAME_LABEL, ns.name)
