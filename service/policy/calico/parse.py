"""From projectcalico.org/v3 and policy.networking.k8s.io objects to Calico engine values.

Same contract as :mod:`service.policy.parse`: plain data in, a value out, or
:class:`~service.errors.InvalidInput` with every problem found, each naming its
field path and what was expected. Supported kinds (:data:`CALICO_KINDS`,
:data:`ADMIN_KINDS`): NetworkPolicy, GlobalNetworkPolicy, their staged forms,
StagedKubernetesNetworkPolicy, Tier, NetworkSet, GlobalNetworkSet; and
AdminNetworkPolicy, BaselineAdminNetworkPolicy (v1alpha1) and
ClusterNetworkPolicy (v1alpha2), read by :mod:`.admin`.

Defaults are Calico's: tier ``default``; no order (last); an empty selector
is ``all()``; ``types`` from the rules present (egress rules only: Egress;
both: both; otherwise Ingress); a staged policy's stagedAction ``Set``; a
Tier's defaultAction ``Deny``. A missing ``spec`` is an empty one, as the API
server stores it.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Mapping

from service.errors import FieldPath, InvalidInput
from service.policy.calico.admin import ADMIN_KINDS, parse_admin_policy
from service.policy.calico.model import (
    BUILTIN_TIERS,
    DEFAULT_TIER,
    CalicoEntry,
    CalicoObject,
    CalicoPolicy,
    NetworkSet,
    PolicyKind,
    StagedAction,
    Tier,
    calico_entry,
)
from service.policy.calico.parse_rules import read_rules, read_selector, read_string_list
from service.policy.calico.selector import ALL
from service.policy.calico.translate import translate_network_policy
from service.policy.model import Direction, IPNetwork, SourceRef
from service.policy.parse import NETWORKING_V1, parse_network_policy
from service.policy.parse_objects import DEFAULT_NAMESPACE, read_object_meta, read_root
from service.policy.syntax import Problems, dns1123_label_error, one_of
from service.policy.verdict import Action

__all__ = [
    "ADMIN_KINDS",
    "CALICO_API",
    "CALICO_KINDS",
    "is_calico_kind",
    "parse_calico",
    "parse_calico_entry",
]

CALICO_API = "projectcalico.org/v3"
_NAMESPACED = {
    "NetworkPolicy": PolicyKind.NETWORK_POLICY,
    "StagedNetworkPolicy": PolicyKind.STAGED_NETWORK_POLICY,
}
_GLOBAL = {
    "GlobalNetworkPolicy": PolicyKind.GLOBAL_NETWORK_POLICY,
    "StagedGlobalNetworkPolicy": PolicyKind.STAGED_GLOBAL_NETWORK_POLICY,
}
CALICO_KINDS = frozenset(
    {*_NAMESPACED, *_GLOBAL, "StagedKubernetesNetworkPolicy", "Tier", "NetworkSet"}
    | {"GlobalNetworkSet"}
)

_LABEL = "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_SUBDOMAIN = f"{_LABEL}(\\.{_LABEL})*"
_POLICY_NAME = re.compile(f"({_LABEL})(\\.{_LABEL})?|(knp|ossg)\\.default\\.{_SUBDOMAIN}")
_GLOBAL_POLICY_NAME = re.compile(f"({_LABEL}\\.)?{_LABEL}")
_POLICY_FIELDS: tuple[str, ...] = ("tier", "order", "selector", "serviceAccountSelector")
_POLICY_FIELDS += ("types", "ingress", "egress", "performanceHints")
_GLOBAL_FIELDS = ("namespaceSelector", "doNotTrack", "preDNAT", "applyOnForward")


def is_calico_kind(api_version: str, kind: str) -> bool:
    """Whether the engine reads this kind as a Calico object."""
    if api_version == CALICO_API:
        return kind in CALICO_KINDS
    return (api_version, kind) in ADMIN_KINDS


def _name_rule(pattern: re.Pattern[str], what: str) -> Callable[[str], str | None]:
    def check(name: str) -> str | None:
        if len(name) > 253:
            return f"{name!r} is longer than 253 characters"
        if pattern.fullmatch(name) is None:
            return f"{name!r} is not a valid {what} name"
        return None

    return check


_NAME_RULES: dict[str, Callable[[str], str | None]] = {
    "NetworkPolicy": _name_rule(
        _POLICY_NAME, "NetworkPolicy (a DNS-1123 label, optionally '<tier>.'-prefixed)"
    ),
    "GlobalNetworkPolicy": _name_rule(
        _GLOBAL_POLICY_NAME, "GlobalNetworkPolicy (a DNS-1123 label, optionally '<tier>.'-prefixed)"
    ),
    "Tier": dns1123_label_error,
}
_NAME_RULES["StagedNetworkPolicy"] = _NAME_RULES["NetworkPolicy"]
_NAME_RULES["StagedGlobalNetworkPolicy"] = _NAME_RULES["GlobalNetworkPolicy"]


def parse_calico(
    obj: Mapping[str, object],
    *,
    source: SourceRef | None = None,
    default_namespace: str = DEFAULT_NAMESPACE,
) -> CalicoObject:
    """One projectcalico.org/v3 or admin-policy object as an engine value."""
    api_version, kind = obj.get("apiVersion"), obj.get("kind")
    if isinstance(api_version, str) and isinstance(kind, str):
        if (api_version, kind) in ADMIN_KINDS:
            return parse_admin_policy(obj, source=source)
        if api_version == CALICO_API and kind == "StagedKubernetesNetworkPolicy":
            return _staged_kubernetes(obj, source, default_namespace)
    problems = Problems()
    if not isinstance(kind, str) or kind not in CALICO_KINDS:
        expected = one_of(sorted(CALICO_KINDS))
        problems.add(FieldPath(("kind",)), f"expected one of {expected}, got {kind!r}")
        problems.raise_any()
    assert isinstance(kind, str)
    root = read_root(obj, problems, kind=kind, api_version=CALICO_API)
    namespaced = kind in _NAMESPACED or kind == "NetworkSet"
    meta = read_object_meta(
        root,
        problems,
        namespaced=namespaced,
        default_namespace=default_namespace,
        **({"name_rule": _NAME_RULES[kind]} if kind in _NAME_RULES else {}),
    )
    spec = problems.field_mapping(root, "spec", FieldPath()) or {}
    path = FieldPath(("spec",))
    namespace = meta.namespace if namespaced else None
    found: CalicoObject
    if kind == "Tier":
        found = _tier(meta.name, spec, path, problems, source)
    elif kind in ("NetworkSet", "GlobalNetworkSet"):
        if "projectcalico.org/namespace" in meta.labels:
            problems.add(
                FieldPath(("metadata", "labels", "projectcalico.org/namespace")),
                "projectcalico.org/namespace is not a valid label name: Calico sets it itself",
            )
        allowed = ("nets",) if namespaced else ("nets", "allowedEgressDomains")
        problems.fields(spec, allowed, path)
        found = NetworkSet(
            meta.name, namespace, meta.labels, _set_nets(spec, path, problems), source=source
        )
    else:
        policy_kind = _NAMESPACED.get(kind) or _GLOBAL[kind]
        found = _policy(policy_kind, meta.name, namespace, spec, path, problems, source)
    problems.raise_any()
    return found


def parse_calico_entry(
    obj: Mapping[str, object],
    *,
    source: SourceRef | None = None,
    default_namespace: str = DEFAULT_NAMESPACE,
) -> CalicoEntry:
    """:func:`parse_calico`, wrapped to ride in a list of NetworkPolicies with its manifest."""
    found = parse_calico(obj, source=source, default_namespace=default_namespace)
    return calico_entry(found, manifest=obj, source=source)


def _tier(
    name: str,
    spec: Mapping[str, object],
    path: FieldPath,
    problems: Problems,
    source: SourceRef | None,
) -> Tier:
    problems.fields(spec, ("order", "defaultAction"), path)
    order = _order(spec, path, problems)
    text = problems.field_str(spec, "defaultAction", path)
    action = Action.DENY
    if text is not None:
        if text in (Action.DENY.value, Action.PASS.value):
            action = Action(text)
        else:
            problems.add(path / "defaultAction", f"{text!r} is not one of Deny, Pass")
    builtin = BUILTIN_TIERS.get(name)
    if builtin is not None and order != builtin.order:
        problems.add(
            path / "order",
            f"tier {name!r} is built in with order {_number(builtin.order)}: expected that"
            f" order, got {_number(order)}",
        )
    return Tier(name, order, action, source=source)


def _number(value: float | None) -> str:
    if value is None:
        return "none"
    return str(int(value)) if value.is_integer() else str(value)


def _order(spec: Mapping[str, object], path: FieldPath, problems: Problems) -> float | None:
    value = spec.get("order")
    if value is None:
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    problems.expect(value, "a number", path / "order")
    return None


def _set_nets(
    spec: Mapping[str, object], path: FieldPath, problems: Problems
) -> tuple[IPNetwork, ...]:
    out: list[IPNetwork] = []
    for i, text in enumerate(read_string_list(spec, "nets", path, problems)):
        try:
            out.append(ipaddress.ip_network(text, strict=False))
        except ValueError:
            problems.add(path / "nets" / i, f"{text!r} is not a CIDR or an IP address")
    return tuple(out)


def _types(
    spec: Mapping[str, object],
    path: FieldPath,
    problems: Problems,
    *,
    ingress: bool,
    egress: bool,
) -> frozenset[Direction]:
    raw = problems.field_list(spec, "types", path)
    found: list[Direction] = []
    for i, item in enumerate(raw):
        if not isinstance(item, str) or item not in (d.value for d in Direction):
            problems.add(path / "types" / i, f"{item!r} is not one of Ingress, Egress")
            continue
        if Direction(item) in found:
            problems.add(path / "types" / i, f"'{item}' type specified more than once")
        found.append(Direction(item))
    if raw:
        return frozenset(found)
    # Calico's defaulting: egress rules alone make an egress policy; otherwise Ingress.
    if egress and not ingress:
        return frozenset({Direction.EGRESS})
    if egress:
        return frozenset(Direction)
    return frozenset({Direction.INGRESS})


def _policy(
    kind: PolicyKind,
    name: str,
    namespace: str | None,
    spec: Mapping[str, object],
    path: FieldPath,
    problems: Problems,
    source: SourceRef | None,
) -> CalicoPolicy:
    staged = kind.enforced_kind is not kind
    allowed = _POLICY_FIELDS + (() if namespace is not None else _GLOBAL_FIELDS)
    problems.fields(spec, allowed + (("stagedAction",) if staged else ()), path)
    tier = problems.field_str(spec, "tier", path) or DEFAULT_TIER
    if error := dns1123_label_error(tier):
        problems.add(path / "tier", error)
    selectors = {}
    for key in ("selector", "serviceAccountSelector", "namespaceSelector"):
        selectors[key] = read_selector(spec, key, path, problems)
        found = selectors[key]
        if found is not None and found.uses_global:
            problems.add(path / key, "global() can only be used in an EntityRule namespaceSelector")
    scoped = namespace is not None
    ingress = read_rules(spec, Direction.INGRESS, path, problems, namespaced=scoped)
    egress = read_rules(spec, Direction.EGRESS, path, problems, namespaced=scoped)
    has_ingress = bool(problems.field_list(spec, "ingress", path))
    has_egress = bool(problems.field_list(spec, "egress", path))
    types = _types(spec, path, problems, ingress=has_ingress, egress=has_egress)
    staged_action = _staged_action(spec, path, problems) if staged else None
    flags = {key: problems.field_bool(spec, key, path) or False for key in _GLOBAL_FIELDS[1:]}
    if flags["doNotTrack"] and flags["preDNAT"]:
        problems.add(path / "preDNAT", "preDNAT and doNotTrack cannot both be true")
    for key in ("doNotTrack", "preDNAT"):
        if flags[key] and not flags["applyOnForward"]:
            problems.add(path / "applyOnForward", f"must be true when {key} is true")
    if flags["preDNAT"] and has_egress:
        problems.add(path / "egress", "a preDNAT policy cannot have egress rules")
    # Hints change how Felix programs the dataplane, never what it allows: read, not used.
    read_string_list(spec, "performanceHints", path, problems)
    return CalicoPolicy(
        kind=kind,
        name=name,
        namespace=namespace,
        tier=tier,
        order=_order(spec, path, problems),
        selector=selectors["selector"] or ALL,
        types=types,
        ingress=ingress,
        egress=egress,
        namespace_selector=selectors["namespaceSelector"],
        service_account_selector=selectors["serviceAccountSelector"],
        staged_action=staged_action,
        do_not_track=flags["doNotTrack"],
        pre_dnat=flags["preDNAT"],
        apply_on_forward=flags["applyOnForward"],
        source=source,
    )


def _staged_action(spec: Mapping[str, object], path: FieldPath, problems: Problems) -> StagedAction:
    text = problems.field_str(spec, "stagedAction", path)
    if text is None:
        return StagedAction.SET
    try:
        return StagedAction(text)
    except ValueError:
        problems.add(path / "stagedAction", f"{text!r} is not one of {one_of(list(StagedAction))}")
        return StagedAction.SET


def _staged_kubernetes(
    obj: Mapping[str, object], source: SourceRef | None, default_namespace: str
) -> CalicoPolicy:
    """A StagedKubernetesNetworkPolicy: a Kubernetes NetworkPolicy spec plus stagedAction."""
    problems = Problems()
    raw_spec = obj.get("spec")
    spec = dict(raw_spec) if isinstance(raw_spec, Mapping) else raw_spec
    action = StagedAction.SET
    if isinstance(spec, dict):
        action = _staged_action(spec, FieldPath(("spec",)), problems)
        spec.pop("stagedAction", None)
        if action is StagedAction.DELETE:
            spec.setdefault("podSelector", {})
    as_kubernetes = {**obj, "apiVersion": NETWORKING_V1, "kind": "NetworkPolicy", "spec": spec}
    try:
        policy = parse_network_policy(
            as_kubernetes, source=source, default_namespace=default_namespace
        )
    except InvalidInput as err:
        problems.extend(err)
    problems.raise_any()
    return translate_network_policy(
        policy, kind=PolicyKind.STAGED_KUBERNETES_NETWORK_POLICY, staged_action=action
    )
