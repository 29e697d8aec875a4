"""The Kubernetes admin policies as Calico places them in its tiers.

- AdminNetworkPolicy (policy.networking.k8s.io/v1alpha1): tier ``kube-admin``
  (order 1,000, defaultAction Pass), order = ``priority`` (0-1000, lower
  first); actions Allow, Deny, Pass.
- BaselineAdminNetworkPolicy (v1alpha1, one object named ``default``): tier
  ``kube-baseline`` (order 10,000,000, defaultAction Pass); actions Allow, Deny.
- ClusterNetworkPolicy (v1alpha2, Calico v3.32+): ``tier: Admin`` or
  ``Baseline`` picks one of those two tiers, order = ``priority``; actions
  Accept (= Allow), Deny, Pass.

So Pass from the admin tier goes on to the default tier (NetworkPolicies),
and, when no policy there selects the pod, on to the baseline tier. Each
admin rule becomes one Calico rule per (peer, port) pair, all with the rule's
action (their order among themselves cannot matter), remembering the indexes
the user wrote. A named port matches a container port of that name on its
own protocol. ``nodes`` and ``domainNames`` peers are rejected: the engine
knows neither node addresses nor DNS answers, and guessing would be wrong
whichever way it guessed.
"""

from __future__ import annotations

from collections.abc import Mapping

from service.errors import FieldPath, InvalidInput
from service.policy.calico.model import (
    ADMIN_TIER,
    BASELINE_TIER,
    CalicoPolicy,
    CalicoRule,
    EntityRule,
    NamedPort,
    PolicyKind,
    PortMatch,
    PortRange,
    ProtocolMatch,
    RuleOrigin,
)
from service.policy.calico.selector import ALL, Selector
from service.policy.calico.translate import label_selector, port_protocol
from service.policy.model import Direction, Protocol, SourceRef
from service.policy.parse import parse_label_selector
from service.policy.parse_objects import read_object_meta, read_required_mapping, read_root
from service.policy.syntax import Problems, cidr, one_of, port_name_error
from service.policy.verdict import Action

__all__ = ["ADMIN_KINDS", "parse_admin_policy"]

V1ALPHA1 = "policy.networking.k8s.io/v1alpha1"
V1ALPHA2 = "policy.networking.k8s.io/v1alpha2"
ADMIN_KINDS = frozenset(
    {
        (V1ALPHA1, "AdminNetworkPolicy"),
        (V1ALPHA1, "BaselineAdminNetworkPolicy"),
        (V1ALPHA2, "ClusterNetworkPolicy"),
    }
)
_KINDS = {
    "AdminNetworkPolicy": PolicyKind.ADMIN_NETWORK_POLICY,
    "BaselineAdminNetworkPolicy": PolicyKind.BASELINE_ADMIN_NETWORK_POLICY,
    "ClusterNetworkPolicy": PolicyKind.CLUSTER_NETWORK_POLICY,
}
_ACTIONS = {
    PolicyKind.ADMIN_NETWORK_POLICY: {
        "Allow": Action.ALLOW,
        "Deny": Action.DENY,
        "Pass": Action.PASS,
    },
    PolicyKind.BASELINE_ADMIN_NETWORK_POLICY: {"Allow": Action.ALLOW, "Deny": Action.DENY},
    PolicyKind.CLUSTER_NETWORK_POLICY: {
        "Accept": Action.ALLOW,
        "Deny": Action.DENY,
        "Pass": Action.PASS,
    },
}
_TIERS = {"Admin": ADMIN_TIER, "Baseline": BASELINE_TIER}
_ALL_PROTOCOLS = (Protocol.TCP, Protocol.UDP, Protocol.SCTP)
_PortChoice = tuple[ProtocolMatch | None, tuple[PortMatch, ...]]


def parse_admin_policy(
    obj: Mapping[str, object], *, source: SourceRef | None = None
) -> CalicoPolicy:
    """An admin policy object as a policy of Calico's kube-admin or kube-baseline tier."""
    problems = Problems()
    text = obj.get("kind")
    kind = _KINDS.get(text) if isinstance(text, str) else None
    if kind is None:
        problems.add(
            FieldPath(("kind",)), f"expected one of {one_of(sorted(_KINDS))}, got {text!r}"
        )
        problems.raise_any()
    assert kind is not None
    version = V1ALPHA2 if kind is PolicyKind.CLUSTER_NETWORK_POLICY else V1ALPHA1
    root = read_root(obj, problems, kind=kind.value, api_version=version)
    meta = read_object_meta(root, problems, namespaced=False, default_namespace="")
    path = FieldPath(("spec",))
    spec = read_required_mapping(root, "spec", problems) or {}
    reader = _Reader(problems, kind)
    fields = ["subject", "ingress", "egress"]
    tier, order = BASELINE_TIER, None
    if kind is PolicyKind.BASELINE_ADMIN_NETWORK_POLICY:
        if meta.name and meta.name != "default":
            problems.add(
                FieldPath(("metadata", "name")),
                f"a BaselineAdminNetworkPolicy must be named 'default', got {meta.name!r}",
            )
    else:
        fields.append("priority")
        order = reader.priority(spec, path)
        tier = ADMIN_TIER
    if kind is PolicyKind.CLUSTER_NETWORK_POLICY:
        fields.append("tier")
        tier = reader.tier(spec, path)
    problems.fields(spec, fields, path)
    namespace_selector, selector = reader.subject(spec, path)
    ingress = reader.rules(spec, path, Direction.INGRESS)
    egress = reader.rules(spec, path, Direction.EGRESS)
    types = frozenset(
        d
        for d, key in ((Direction.INGRESS, "ingress"), (Direction.EGRESS, "egress"))
        if spec.get(key)
    )
    problems.raise_any()
    return CalicoPolicy(
        kind=kind,
        name=meta.name,
        namespace=None,
        tier=tier,
        order=order,
        selector=selector,
        types=types,
        ingress=ingress,
        egress=egress,
        namespace_selector=namespace_selector,
        source=source,
    )


class _Reader:
    def __init__(self, problems: Problems, kind: PolicyKind) -> None:
        self.problems = problems
        self.kind = kind
        self.alpha2 = kind is PolicyKind.CLUSTER_NETWORK_POLICY
        self.max_rules = 25 if self.alpha2 else 100

    def priority(self, spec: Mapping[str, object], path: FieldPath) -> float | None:
        value = self.problems.field_int(spec, "priority", path)
        if value is None:
            if spec.get("priority") is None:
                self.problems.add(path / "priority", "required: a number 0-1000, lower first")
            return None
        if not 0 <= value <= 1000:
            self.problems.add(path / "priority", f"{value} is out of range: expected 0-1000")
        return float(value)

    def tier(self, spec: Mapping[str, object], path: FieldPath) -> str:
        text = self.problems.field_str(spec, "tier", path, required=True)
        if text is not None and text not in _TIERS:
            self.problems.add(path / "tier", f"{text!r} is not one of Admin, Baseline")
        return _TIERS.get(text or "", ADMIN_TIER)

    def selector(self, value: object, path: FieldPath) -> Selector:
        try:
            return label_selector(parse_label_selector(value, path))
        except InvalidInput as err:
            self.problems.extend(err)
            return ALL

    def one_field(
        self, value: object, path: FieldPath, allowed: tuple[str, ...]
    ) -> tuple[str, object] | None:
        obj = self.problems.mapping(value, path)
        if obj is None:
            if value is None:
                self.problems.expect(value, f"a mapping with one of {one_of(allowed)}", path)
            return None
        self.problems.fields(obj, allowed, path)
        given = [k for k in allowed if obj.get(k) is not None]
        if len(given) != 1:
            got = one_of(given) if given else "none"
            self.problems.add(path, f"expected exactly one of {one_of(allowed)}, got {got}")
            return None
        return given[0], obj[given[0]]

    def namespaced_pods(self, value: object, path: FieldPath) -> tuple[Selector, Selector]:
        obj = self.problems.mapping(value, path) or {}
        self.problems.fields(obj, ("namespaceSelector", "podSelector"), path)
        if obj.get("podSelector") is None:
            self.problems.add(path / "podSelector", "required: use {} to select every pod")
        return (
            self.selector(obj.get("namespaceSelector"), path / "namespaceSelector"),
            self.selector(obj.get("podSelector"), path / "podSelector"),
        )

    def subject(self, spec: Mapping[str, object], path: FieldPath) -> tuple[Selector, Selector]:
        at = path / "subject"
        if spec.get("subject") is None:
            self.problems.add(at, "required: the pods the policy applies to")
            return ALL, ALL
        found = self.one_field(spec["subject"], at, ("namespaces", "pods"))
        if found is None:
            return ALL, ALL
        key, value = found
        if key == "namespaces":
            return self.selector(value, at / key), ALL
        return self.namespaced_pods(value, at / key)

    def rules(
        self, spec: Mapping[str, object], path: FieldPath, direction: Direction
    ) -> tuple[CalicoRule, ...]:
        key = "ingress" if direction is Direction.INGRESS else "egress"
        raw = self.problems.field_list(spec, key, path)
        if len(raw) > self.max_rules:
            self.problems.add(path / key, f"{len(raw)} rules: expected at most {self.max_rules}")
        out: list[CalicoRule] = []
        for i, item in enumerate(raw):
            out.extend(self.rule(item, path / key / i, i, direction))
        return tuple(out)

    def rule(
        self, value: object, path: FieldPath, index: int, direction: Direction
    ) -> list[CalicoRule]:
        problems = self.problems
        obj = problems.mapping(value, path)
        if obj is None:
            if value is None:
                problems.expect(value, "a rule (a mapping with action and peers)", path)
            return []
        peers_key = "from" if direction is Direction.INGRESS else "to"
        ports_key = "protocols" if self.alpha2 else "ports"
        problems.fields(obj, ("name", "action", peers_key, ports_key), path)
        name = problems.field_str(obj, "name", path) or ""
        if len(name) > 100:
            problems.add(path / "name", "longer than 100 characters")
        action = self.action(obj, path)
        raw_peers = problems.field_list(obj, peers_key, path)
        if not raw_peers:
            problems.add(path / peers_key, "required: at least one peer")
        peers = [
            (i, self.peer(p, path / peers_key / i, direction)) for i, p in enumerate(raw_peers)
        ]
        ports: list[tuple[int | None, list[_PortChoice]]] = [(None, [(None, ())])]
        if obj.get(ports_key) is not None:
            raw_ports = problems.field_list(obj, ports_key, path)
            ports = [(i, self.port(p, path / ports_key / i)) for i, p in enumerate(raw_ports)]
        if action is None:
            return []
        out = []
        for peer_index, entity in peers:
            if entity is None:
                continue
            for port_index, choices in ports:
                for protocol, numbers in choices:
                    origin = RuleOrigin(index, peer_index, port_index)
                    if direction is Direction.INGRESS:
                        source, destination = entity, EntityRule(ports=numbers)
                    else:
                        source = EntityRule()
                        destination = EntityRule(
                            nets=entity.nets,
                            selector=entity.selector,
                            namespace_selector=entity.namespace_selector,
                            ports=numbers,
                        )
                    out.append(
                        CalicoRule(action, protocol, source=source, destination=destination,
                                   origin=origin, name=name)
                    )  # fmt: skip
        return out

    def action(self, obj: Mapping[str, object], path: FieldPath) -> Action | None:
        choices = _ACTIONS[self.kind]
        text = self.problems.field_str(obj, "action", path, required=True)
        if text is None:
            return None
        if text not in choices:
            self.problems.add(path / "action", f"{text!r} is not one of {one_of(list(choices))}")
            return None
        return choices[text]

    def peer(self, value: object, path: FieldPath, direction: Direction) -> EntityRule | None:
        allowed: tuple[str, ...] = ("namespaces", "pods")
        if direction is Direction.EGRESS:
            allowed += ("networks", "nodes", "domainNames")
        found = self.one_field(value, path, allowed)
        if found is None:
            return None
        key, inner = found
        if key == "namespaces":
            return EntityRule(namespace_selector=self.selector(inner, path / key))
        if key == "pods":
            namespaces, pods = self.namespaced_pods(inner, path / key)
            return EntityRule(selector=pods, namespace_selector=namespaces)
        if key in ("nodes", "domainNames"):
            what = "node addresses" if key == "nodes" else "what DNS names resolve to"
            self.problems.add(
                path / key, f"{key} peers are not modelled (the engine does not know {what})"
            )
            return None
        nets = []
        for i, item in enumerate(self.problems.field_list({key: inner}, key, path)):
            text = item if isinstance(item, str) else None
            network, error = cidr(text) if text is not None else (None, "expected a CIDR string")
            if network is None:
                self.problems.add(path / key / i, error or "not a CIDR")
            else:
                nets.append(network)
        return EntityRule(nets=tuple(nets))

    def port(self, value: object, path: FieldPath) -> list[_PortChoice]:
        if self.alpha2:
            keys: tuple[str, ...] = ("tcp", "udp", "sctp", "destinationNamedPort")
        else:
            keys = ("portNumber", "namedPort", "portRange")
        found = self.one_field(value, path, keys)
        if found is None:
            return []
        key, inner = found
        at = path / key
        if key in ("namedPort", "destinationNamedPort"):
            if not isinstance(inner, str):
                self.problems.expect(inner, "a port name", at)
                return []
            if error := port_name_error(inner):
                self.problems.add(at, error)
            # A name matches a container port of that name on whichever protocol it serves.
            return [(port_protocol(p), (NamedPort(inner),)) for p in _ALL_PROTOCOLS]
        obj = self.problems.mapping(inner, at) or {}
        if self.alpha2:
            protocol = Protocol(key.upper())
            self.problems.fields(obj, ("destinationPort",), at)
            number = self.one_field(
                obj.get("destinationPort"), at / "destinationPort", ("number", "range")
            )
            if number is None:
                return []
            which, raw = number
            span = self.span(raw, at / "destinationPort" / which, ranged=which == "range")
        else:
            protocol = self.problems.protocol(obj, at) or Protocol.TCP
            ranged = key == "portRange"
            self.problems.fields(
                obj, ("protocol", "start", "end") if ranged else ("protocol", "port"), at
            )
            span = self.span(
                obj if ranged else obj.get("port"), at if ranged else at / "port", ranged=ranged
            )
        if span is None:
            return []
        return [(port_protocol(protocol), (span,))]

    def span(self, value: object, path: FieldPath, *, ranged: bool) -> PortRange | None:
        problems = self.problems
        if not ranged:
            if isinstance(value, int) and not isinstance(value, bool):
                return (
                    None if problems.port_number(value, path) is None else PortRange(value, value)
                )
            problems.expect(value, "a port number 1-65535", path)
            return None
        obj = problems.mapping(value, path) or {}
        start = problems.field_int(obj, "start", path)
        end = problems.field_int(obj, "end", path)
        if start is None or end is None:
            problems.add(path, "expected start and end port numbers")
            return None
        if (
            problems.port_number(start, path / "start") is None
            or problems.port_number(end, path / "end") is None
        ):
            return None
        if start >= end:
            problems.add(path / "end", f"{end} must be greater than start {start}")
            return None
        return PortRange(start, end)
