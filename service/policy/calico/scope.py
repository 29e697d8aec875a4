"""What Calico selectors see: endpoint and network-set labels, and how rule selectors are scoped.

Labels (policy-semantics.md section 2): a pod endpoint carries its own labels
plus ``projectcalico.org/namespace``, ``projectcalico.org/orchestrator=k8s``
and ``projectcalico.org/serviceaccount``; it inherits its namespace's labels
as ``pcns.<key>`` (with ``pcns.projectcalico.org/name`` = the namespace) and its
service account's as ``pcsa.<key>`` (only ``pcsa.projectcalico.org/name`` here:
ServiceAccount objects are not read). A namespaced NetworkSet carries its
labels, ``projectcalico.org/namespace`` and its namespace's ``pcns.`` labels; a
GlobalNetworkSet only its labels.

Scoping (Calico's conversion of v3 rules for Felix): a rule's positive selector
is its ``selector`` AND its ``serviceAccounts`` (names as
``projectcalico.org/serviceaccount in {...}``, selector read over ``pcsa.``)
AND its namespace scope, which is the rule's ``namespaceSelector`` over
``pcns.`` (``all()`` = any namespace, ``global()`` = not namespaced) or, in a
namespaced policy, the policy's own namespace. The scope is added as soon as
any selector field is used, ``notSelector`` included; ``notSelector`` itself
is never scoped.

A selector matches a peer when the peer is an endpoint whose labels match,
or when the peer's IP lies in the nets of a network set whose labels match:
that is how Felix builds the IP sets rules test. Host-network pods are not
endpoints: only nets and network sets can match their (node) IP.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping, Sequence

from service.policy.calico.model import (
    CalicoPolicy,
    EntityRule,
    NetworkSet,
    ServiceAccountMatch,
)
from service.policy.calico.selector import (
    NAMESPACE_LABEL,
    Compare,
    Membership,
    Op,
    Selector,
    conjunction,
    for_namespaces,
    prefixed,
)
from service.policy.model import IPAddress, Labels, Pod

__all__ = [
    "NAMESPACE_PREFIX",
    "NAME_LABEL",
    "ORCHESTRATOR_LABEL",
    "SERVICE_ACCOUNT_LABEL",
    "SERVICE_ACCOUNT_PREFIX",
    "NetworkSetIndex",
    "derived_key",
    "endpoint_view",
    "entity_selector",
    "network_set_view",
    "policy_selector",
    "projected_views",
    "service_account_selector",
]

ORCHESTRATOR_LABEL = "projectcalico.org/orchestrator"
SERVICE_ACCOUNT_LABEL = "projectcalico.org/serviceaccount"
NAME_LABEL = "projectcalico.org/name"
NAMESPACE_PREFIX = "pcns."
SERVICE_ACCOUNT_PREFIX = "pcsa."


def derived_key(key: str) -> bool:
    """Whether a label key is one Calico derives (namespace, service account), not a pod's own."""
    return key.startswith((NAMESPACE_PREFIX, SERVICE_ACCOUNT_PREFIX)) or key in (
        NAMESPACE_LABEL,
        ORCHESTRATOR_LABEL,
        SERVICE_ACCOUNT_LABEL,
    )


def _inherit(view: dict[str, str], prefix: str, labels: Iterable[tuple[str, str]]) -> None:
    # An endpoint's own labels win over inherited (profile) labels of the same key.
    for key, value in labels:
        view.setdefault(prefix + key, value)


def endpoint_view(pod: Pod, namespace_labels: Mapping[str, str]) -> Labels:
    """The labels Calico selectors see on ``pod``'s workload endpoint."""
    view = dict(pod.labels)
    view[NAMESPACE_LABEL] = pod.namespace
    view[ORCHESTRATOR_LABEL] = "k8s"
    if pod.service_account:
        view[SERVICE_ACCOUNT_LABEL] = pod.service_account
    _inherit(view, NAMESPACE_PREFIX, namespace_labels.items())
    view.setdefault(NAMESPACE_PREFIX + NAME_LABEL, pod.namespace)
    if pod.service_account:
        view.setdefault(SERVICE_ACCOUNT_PREFIX + NAME_LABEL, pod.service_account)
    return Labels(view)


def projected_views(
    pods: Sequence[Pod], namespace_labels: Callable[[str], Labels], keys: Collection[str]
) -> list[dict[str, str]]:
    """``endpoint_view`` of each pod, restricted to ``keys``: what selectors reading only
    those keys need, computed without building whole views (the truth table's hot path)."""
    wanted = frozenset(keys)
    inherited: dict[str, dict[str, str]] = {}
    rows: dict[tuple[str, Labels, str], dict[str, str]] = {}
    out = []
    for pod in pods:
        key = (pod.namespace, pod.labels, pod.service_account)
        row = rows.get(key)
        if row is None:
            row = {k: pod.labels[k] for k in wanted if k in pod.labels}
            for name, value in (
                (NAMESPACE_LABEL, pod.namespace),
                (ORCHESTRATOR_LABEL, "k8s"),
                (SERVICE_ACCOUNT_LABEL, pod.service_account),
            ):
                if name in wanted and value:
                    row[name] = value
            found = inherited.get(pod.namespace)
            if found is None:
                view = endpoint_view(Pod(pod.namespace, ""), namespace_labels(pod.namespace))
                found = inherited[pod.namespace] = {
                    k: v for k, v in view.items() if k in wanted and k.startswith(NAMESPACE_PREFIX)
                }
            for name, value in found.items():
                row.setdefault(name, value)
            account = SERVICE_ACCOUNT_PREFIX + NAME_LABEL
            if account in wanted and pod.service_account:
                row.setdefault(account, pod.service_account)
            rows[key] = row
        out.append(row)
    return out


def network_set_view(net: NetworkSet, namespace_labels: Mapping[str, str] | None) -> Labels:
    view = dict(net.labels)
    if net.namespace is not None:
        view[NAMESPACE_LABEL] = net.namespace
        _inherit(view, NAMESPACE_PREFIX, (namespace_labels or {}).items())
        view.setdefault(NAMESPACE_PREFIX + NAME_LABEL, net.namespace)
    return Labels(view)


def service_account_selector(match: ServiceAccountMatch | None) -> Selector | None:
    if match is None:
        return None
    by_labels = None if match.selector is None else prefixed(match.selector, SERVICE_ACCOUNT_PREFIX)
    by_name = None
    if match.names:
        node = Membership(SERVICE_ACCOUNT_LABEL, tuple(sorted(set(match.names))))
        by_name = Selector.of(node)
    return conjunction(by_labels, by_name)


def _in_namespace(namespace: str) -> Selector:
    return Selector.of(Compare(NAMESPACE_LABEL, Op.EQ, namespace))


def entity_selector(entity: EntityRule, policy_namespace: str | None) -> Selector | None:
    """The positive selector of a source or destination, scoped as Calico scopes it."""
    scope: Selector | None = None
    if entity.namespace_selector is not None:
        scope = for_namespaces(entity.namespace_selector)
    elif policy_namespace is not None:
        scope = _in_namespace(policy_namespace)
    selector = conjunction(service_account_selector(entity.service_accounts), entity.selector)
    used = selector is not None or entity.not_selector is not None
    if scope is not None and (used or entity.namespace_selector is not None):
        return conjunction(scope, selector)
    return selector


def policy_selector(policy: CalicoPolicy) -> Selector:
    """Which endpoints ``policy`` applies to, as one selector over endpoint labels."""
    parts: list[Selector | None] = [policy.selector]
    if policy.namespace is not None:
        parts.append(_in_namespace(policy.namespace))
    if policy.namespace_selector is not None:
        parts.append(for_namespaces(policy.namespace_selector))
    if policy.service_account_selector is not None:
        parts.append(prefixed(policy.service_account_selector, SERVICE_ACCOUNT_PREFIX))
    found = conjunction(*parts)
    assert found is not None  # policy.selector is always there
    return found


class NetworkSetIndex:
    """Network sets by the selectors that match them, so a peer IP is checked once per set."""

    def __init__(
        self, sets: Iterable[NetworkSet], namespace_labels: Callable[[str], Labels]
    ) -> None:
        self.sets = tuple(sets)
        self.views = tuple(
            network_set_view(s, None if s.namespace is None else namespace_labels(s.namespace))
            for s in self.sets
        )
        self._matching: dict[Selector, tuple[NetworkSet, ...]] = {}

    def matching(self, selector: Selector) -> tuple[NetworkSet, ...]:
        found = self._matching.get(selector)
        if found is None:
            found = tuple(
                s for s, view in zip(self.sets, self.views, strict=True) if selector.matches(view)
            )
            self._matching[selector] = found
        return found

    def holding(self, selector: Selector, address: IPAddress | None) -> NetworkSet | None:
        """The first network set ``selector`` matches whose nets hold ``address``, if any."""
        if address is None or not self.sets:
            return None
        for found in self.matching(selector):
            if any(address.version == n.version and address in n for n in found.nets):
                return found
        return None
