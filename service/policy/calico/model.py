"""Values for Calico's own policy model: tiers, ordered policies, rules with actions, network sets.

Every policy the engine meets in a cluster with Calico objects becomes a
:class:`CalicoPolicy`: projectcalico.org/v3 (Global)NetworkPolicy and their
staged forms, the Kubernetes admin policies as Calico places them
(AdminNetworkPolicy, BaselineAdminNetworkPolicy, ClusterNetworkPolicy) and the
Kubernetes NetworkPolicies themselves (tier ``default``, order 1000, as Felix
sees them). Selectors are Calico selectors throughout (:mod:`.selector`).

:class:`CalicoEntry` carries one Calico object where the engine's interfaces
take Kubernetes NetworkPolicies (``ClusterState.policies``, a scenario
version's ``policies``): to Kubernetes-only code it is an inert policy (no
policyTypes, no rules) so it can change nothing there, and the engine finds
the Calico object inside it. This keeps one list of policies per version,
whatever their API group.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TypeAlias

from service.policy.calico.selector import ALL, Selector
from service.policy.model import (
    Direction,
    IPNetwork,
    Labels,
    LabelSelector,
    NetworkPolicy,
    SourceRef,
)
from service.policy.verdict import Action

__all__ = [
    "ADMIN_TIER",
    "BASELINE_TIER",
    "BUILTIN_TIERS",
    "DEFAULT_TIER",
    "KUBERNETES_ORDER",
    "CalicoEntry",
    "CalicoObject",
    "CalicoPolicy",
    "CalicoRule",
    "EntityRule",
    "IcmpMatch",
    "NamedPort",
    "NetworkSet",
    "PolicyKind",
    "PortMatch",
    "PortRange",
    "ProtocolMatch",
    "RuleOrigin",
    "ServiceAccountMatch",
    "ServiceMatch",
    "StagedAction",
    "Tier",
    "calico_entry",
    "calico_objects",
    "has_calico",
]

DEFAULT_TIER = "default"
ADMIN_TIER = "kube-admin"
BASELINE_TIER = "kube-baseline"
# Felix puts every Kubernetes NetworkPolicy at this order in the default tier.
KUBERNETES_ORDER = 1000.0


class PolicyKind(StrEnum):
    """Where a policy came from; the value is the kind as written in a manifest."""

    KUBERNETES = "KubernetesNetworkPolicy"  # networking.k8s.io/v1 NetworkPolicy
    NETWORK_POLICY = "NetworkPolicy"
    GLOBAL_NETWORK_POLICY = "GlobalNetworkPolicy"
    STAGED_NETWORK_POLICY = "StagedNetworkPolicy"
    STAGED_GLOBAL_NETWORK_POLICY = "StagedGlobalNetworkPolicy"
    STAGED_KUBERNETES_NETWORK_POLICY = "StagedKubernetesNetworkPolicy"
    ADMIN_NETWORK_POLICY = "AdminNetworkPolicy"
    BASELINE_ADMIN_NETWORK_POLICY = "BaselineAdminNetworkPolicy"
    CLUSTER_NETWORK_POLICY = "ClusterNetworkPolicy"

    @property
    def label(self) -> str:
        """How explanations name the kind; Calico's own NetworkPolicy is told from Kubernetes'."""
        match self:
            case PolicyKind.KUBERNETES:
                return "NetworkPolicy"
            case PolicyKind.NETWORK_POLICY:
                return "Calico NetworkPolicy"
            case _:
                return self.value

    @property
    def enforced_kind(self) -> PolicyKind:
        """The kind a staged policy would become once applied (itself for the others)."""
        return _ENFORCED.get(self, self)


_ENFORCED = {
    PolicyKind.STAGED_NETWORK_POLICY: PolicyKind.NETWORK_POLICY,
    PolicyKind.STAGED_GLOBAL_NETWORK_POLICY: PolicyKind.GLOBAL_NETWORK_POLICY,
    PolicyKind.STAGED_KUBERNETES_NETWORK_POLICY: PolicyKind.KUBERNETES,
}


class StagedAction(StrEnum):
    """What applying a staged policy would do to the enforced policy of the same name."""

    SET = "Set"
    DELETE = "Delete"
    # Calico Enterprise's recommendation engine; neither changes enforcement.
    LEARN = "Learn"
    IGNORE = "Ignore"


@dataclass(frozen=True, slots=True)
class Tier:
    """A tier: policies of lower-order tiers are consulted first (None = last, then by name)."""

    name: str
    order: float | None
    default_action: Action = Action.DENY
    source: SourceRef | None = field(default=None, compare=False)

    @property
    def ref(self) -> str:
        return self.name


BUILTIN_TIERS: Mapping[str, Tier] = {
    DEFAULT_TIER: Tier(DEFAULT_TIER, 1_000_000.0, Action.DENY),
    ADMIN_TIER: Tier(ADMIN_TIER, 1_000.0, Action.PASS),
    BASELINE_TIER: Tier(BASELINE_TIER, 10_000_000.0, Action.PASS),
}


@dataclass(frozen=True, slots=True, order=True)
class PortRange:
    """Ports ``lo``..``hi`` inclusive (a single port has lo == hi)."""

    lo: int
    hi: int

    def __str__(self) -> str:
        return str(self.lo) if self.lo == self.hi else f"{self.lo}:{self.hi}"


@dataclass(frozen=True, slots=True)
class NamedPort:
    """A port name, resolved on the endpoint it applies to, by name and the rule's protocol."""

    name: str

    def __str__(self) -> str:
        return self.name


PortMatch: TypeAlias = PortRange | NamedPort


@dataclass(frozen=True, slots=True)
class ProtocolMatch:
    """An IP protocol by number; ``name`` is the spelling used (TCP, ICMPv6...) if any."""

    number: int
    name: str | None = None

    def __str__(self) -> str:
        return self.name or str(self.number)


@dataclass(frozen=True, slots=True)
class IcmpMatch:
    type: int | None = None
    code: int | None = None

    def __str__(self) -> str:
        parts = [f"type {self.type}"] if self.type is not None else []
        if self.code is not None:
            parts.append(f"code {self.code}")
        return " ".join(parts) or "any"


@dataclass(frozen=True, slots=True)
class ServiceAccountMatch:
    """Endpoints whose service account is one of ``names`` (when given) and matches ``selector``."""

    names: tuple[str, ...] = ()
    selector: Selector | None = None


@dataclass(frozen=True, slots=True)
class ServiceMatch:
    """The pods behind a Kubernetes Service; ``namespace`` None = the policy's namespace."""

    name: str
    namespace: str | None = None


@dataclass(frozen=True, slots=True)
class EntityRule:
    """A rule's ``source`` or ``destination``: every criterion given must hold (AND)."""

    nets: tuple[IPNetwork, ...] = ()
    not_nets: tuple[IPNetwork, ...] = ()
    selector: Selector | None = None
    not_selector: Selector | None = None
    namespace_selector: Selector | None = None
    ports: tuple[PortMatch, ...] = ()
    not_ports: tuple[PortMatch, ...] = ()
    service_accounts: ServiceAccountMatch | None = None
    services: ServiceMatch | None = None

    @property
    def is_empty(self) -> bool:
        return self == _EMPTY_ENTITY


_EMPTY_ENTITY = EntityRule()


@dataclass(frozen=True, slots=True)
class RuleOrigin:
    """Where a rule translated from another API came from: its rule, peer and port indexes."""

    rule: int
    peer: int | None = None
    port: int | None = None


@dataclass(frozen=True, slots=True)
class CalicoRule:
    action: Action
    protocol: ProtocolMatch | None = None
    not_protocol: ProtocolMatch | None = None
    icmp: IcmpMatch | None = None
    not_icmp: IcmpMatch | None = None
    ip_version: int | None = None
    source: EntityRule = _EMPTY_ENTITY
    destination: EntityRule = _EMPTY_ENTITY
    # A translated rule remembers the original's indexes; ``name`` is an admin rule's name.
    origin: RuleOrigin | None = None
    name: str = ""


@dataclass(frozen=True, slots=True)
class CalicoPolicy:
    """One policy in the tiered model. ``namespace`` None = cluster-wide (global).

    ``order`` None sorts last; ``selector`` picks the endpoints it applies to
    (within ``namespace`` for a namespaced policy); ``namespace_selector`` and
    ``service_account_selector`` narrow that further. ``staged_action`` is set
    on staged policies only, which are never enforced.
    """

    kind: PolicyKind
    name: str
    namespace: str | None
    tier: str = DEFAULT_TIER
    order: float | None = None
    selector: Selector = ALL
    types: frozenset[Direction] = frozenset({Direction.INGRESS})
    ingress: tuple[CalicoRule, ...] = ()
    egress: tuple[CalicoRule, ...] = ()
    namespace_selector: Selector | None = None
    service_account_selector: Selector | None = None
    staged_action: StagedAction | None = None
    # GlobalNetworkPolicy flags: doNotTrack and preDNAT policies apply to host endpoints only.
    do_not_track: bool = False
    pre_dnat: bool = False
    apply_on_forward: bool = False
    source: SourceRef | None = field(default=None, compare=False)

    @property
    def ref(self) -> str:
        return self.name if self.namespace is None else f"{self.namespace}/{self.name}"

    @property
    def label(self) -> str:
        """``<kind> <ref>``, how explanations and reports name the policy."""
        return f"{self.kind.label} {self.ref}"

    @property
    def staged(self) -> bool:
        return self.staged_action is not None

    @property
    def identity(self) -> tuple[PolicyKind, str | None, str]:
        """What names "the same policy": a staged policy targets the enforced one with this."""
        return (self.kind.enforced_kind, self.namespace, self.name)

    @property
    def felix_name(self) -> str:
        """The name Felix sorts equal orders by: ``ns/name``, ``ns/knp.default.name``, ``name``."""
        if self.kind.enforced_kind is PolicyKind.KUBERNETES:
            return f"{self.namespace}/knp.default.{self.name}"
        return self.ref

    @property
    def host_only(self) -> bool:
        """doNotTrack and preDNAT policies never apply to pods (workload endpoints)."""
        return self.do_not_track or self.pre_dnat

    def rules(self, direction: Direction) -> tuple[CalicoRule, ...]:
        if direction not in self.types:
            return ()
        return self.ingress if direction is Direction.INGRESS else self.egress


@dataclass(frozen=True, slots=True)
class NetworkSet:
    """A (Global)NetworkSet: labelled CIDRs that rule selectors match like endpoints."""

    name: str
    namespace: str | None
    labels: Labels = field(default_factory=Labels)
    nets: tuple[IPNetwork, ...] = ()
    source: SourceRef | None = field(default=None, compare=False)

    @property
    def ref(self) -> str:
        return self.name if self.namespace is None else f"{self.namespace}/{self.name}"

    @property
    def kind(self) -> str:
        return "GlobalNetworkSet" if self.namespace is None else "NetworkSet"


CalicoObject: TypeAlias = CalicoPolicy | Tier | NetworkSet


def _kind_of(obj: CalicoObject) -> str:
    if isinstance(obj, CalicoPolicy):
        return obj.kind.value
    if isinstance(obj, Tier):
        return "Tier"
    return obj.kind


@dataclass(frozen=True, slots=True)
class CalicoEntry(NetworkPolicy):
    """A Calico object riding in a list of NetworkPolicies; inert as a Kubernetes policy.

    ``manifest`` is the object as written (for a backend that applies it to a
    real cluster); it takes no part in equality or content hashes.
    """

    calico: CalicoObject = field(kw_only=True)
    manifest: Mapping[str, object] | None = field(default=None, compare=False, kw_only=True)

    @property
    def ref(self) -> str:
        # Unique across kinds, so a Calico and a Kubernetes policy of one name never collide.
        return f"{_kind_of(self.calico)} {self.calico.ref}"


def calico_entry(
    obj: CalicoObject,
    *,
    manifest: Mapping[str, object] | None = None,
    source: SourceRef | None = None,
) -> CalicoEntry:
    """``obj`` wrapped for a list of NetworkPolicies (no types, no rules: inert there)."""
    namespace = obj.namespace if isinstance(obj, CalicoPolicy | NetworkSet) else None
    return CalicoEntry(
        namespace=namespace or "",
        name=obj.name,
        pod_selector=LabelSelector(),
        policy_types=frozenset(),
        source=source if source is not None else obj.source,
        calico=obj,
        manifest=manifest,
    )


def has_calico(policies: Iterable[NetworkPolicy]) -> bool:
    return any(isinstance(p, CalicoEntry) for p in policies)


def calico_objects(policies: Iterable[NetworkPolicy]) -> tuple[CalicoObject, ...]:
    return tuple(p.calico for p in policies if isinstance(p, CalicoEntry))
