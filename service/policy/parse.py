"""From API-shaped dictionaries to engine values, validated as the API server would.

Each ``parse_*`` function reads one Kubernetes object (plain data from a YAML or
JSON reader) and either returns the engine value or raises
:class:`~service.errors.InvalidInput` with every problem it found, each naming
the field path from the object's root and what was expected, e.g.
``spec.ingress[0].from[1].podSelector.matchExpressions[0].operator: 'Inn' is not
one of In, NotIn, Exists, DoesNotExist``. File and line are added by
:mod:`service.manifests`, which knows where the object came from.

This module holds NetworkPolicy and label selectors; the parsers for the
objects around them (Namespace, Pod, pod templates, Service) live in
:mod:`service.policy.parse_objects` and are re-exported here.

A NetworkPolicy without ``metadata.namespace`` lands in ``default_namespace``
(``"default"`` unless the caller says otherwise), as ``kubectl apply`` puts it
in the current context's namespace, which is ``default`` out of the box.
Unknown fields anywhere in a NetworkPolicy are rejected with a did-you-mean.
"""

from __future__ import annotations

from collections.abc import Mapping

from service.errors import FieldPath
from service.policy.model import (
    Direction,
    IPBlock,
    IPNetwork,
    LabelSelector,
    NetworkPolicy,
    Operator,
    Peer,
    PolicyPort,
    Protocol,
    Requirement,
    Rule,
    SourceRef,
)
from service.policy.parse_objects import (
    DEFAULT_NAMESPACE,
    ObjectMeta,
    parse_namespace,
    parse_object_meta,
    parse_pod,
    parse_pod_template,
    parse_service,
    read_object_meta,
    read_required_mapping,
    read_root,
)
from service.policy.syntax import Problems, cidr, label_key_error, label_value_error, one_of

__all__ = [
    "DEFAULT_NAMESPACE",
    "NETWORKING_V1",
    "ObjectMeta",
    "parse_label_selector",
    "parse_namespace",
    "parse_network_policy",
    "parse_object_meta",
    "parse_pod",
    "parse_pod_template",
    "parse_service",
]

NETWORKING_V1 = "networking.k8s.io/v1"

_SPEC_FIELDS = ("podSelector", "policyTypes", "ingress", "egress")
_PEER_FIELDS = ("podSelector", "namespaceSelector", "ipBlock")
_PORT_FIELDS = ("protocol", "port", "endPort")
_SELECTOR_FIELDS = ("matchLabels", "matchExpressions")
_REQUIREMENT_FIELDS = ("key", "operator", "values")


def parse_label_selector(obj: object, path: FieldPath) -> LabelSelector:
    """A metav1.LabelSelector at ``path``; null reads as ``{}`` (matches everything)."""
    problems = Problems()
    selector = _selector(obj, path, problems)
    problems.raise_any()
    return selector


def parse_network_policy(
    obj: Mapping[str, object],
    *,
    source: SourceRef | None = None,
    default_namespace: str = DEFAULT_NAMESPACE,
) -> NetworkPolicy:
    """A networking.k8s.io/v1 NetworkPolicy with policyTypes defaulted as the API server does.

    Without ``metadata.namespace`` the policy is in ``default_namespace`` ("default").
    """
    problems = Problems()
    root = read_root(obj, problems, kind="NetworkPolicy", api_version=NETWORKING_V1)
    meta = read_object_meta(root, problems, namespaced=True, default_namespace=default_namespace)
    path = FieldPath(("spec",))
    found_spec = read_required_mapping(root, "spec", problems)
    spec = found_spec or {}
    problems.fields(spec, _SPEC_FIELDS, path)
    if found_spec is not None and spec.get("podSelector") is None:
        problems.add(path / "podSelector", "required: use {} to select every pod of the namespace")
    pod_selector = _selector(spec.get("podSelector"), path / "podSelector", problems)
    raw_ingress = problems.field_list(spec, "ingress", path)
    raw_egress = problems.field_list(spec, "egress", path)
    ingress = tuple(
        _rule(item, path / "ingress" / i, problems, peers="from", other="to")
        for i, item in enumerate(raw_ingress)
    )
    egress = tuple(
        _rule(item, path / "egress" / i, problems, peers="to", other="from")
        for i, item in enumerate(raw_egress)
    )
    types = _policy_types(spec, path, problems, has_egress=bool(raw_egress))
    problems.raise_any()
    return NetworkPolicy(
        namespace=meta.namespace or default_namespace,
        name=meta.name,
        pod_selector=pod_selector,
        policy_types=types,
        ingress=ingress,
        egress=egress,
        source=source,
    )


# --- selectors --------------------------------------------------------------------------------


def _selector(value: object, path: FieldPath, problems: Problems) -> LabelSelector:
    obj = problems.mapping(value, path)
    if obj is None:
        return LabelSelector()
    problems.fields(obj, _SELECTOR_FIELDS, path)
    labels = problems.labels(obj.get("matchLabels"), path / "matchLabels")
    requirements = []
    for i, item in enumerate(problems.field_list(obj, "matchExpressions", path)):
        requirement = _requirement(item, path / "matchExpressions" / i, problems)
        if requirement is not None:
            requirements.append(requirement)
    return LabelSelector(match_labels=labels, match_expressions=tuple(requirements))


def _requirement(value: object, path: FieldPath, problems: Problems) -> Requirement | None:
    obj = problems.mapping(value, path)
    if obj is None:
        if value is None:
            problems.expect(value, "a mapping with key, operator and values", path)
        return None
    problems.fields(obj, _REQUIREMENT_FIELDS, path)
    key = problems.field_str(obj, "key", path, required=True)
    if key and (error := label_key_error(key)):
        problems.add(path / "key", error)
    values: list[str] = []
    for i, item in enumerate(problems.field_list(obj, "values", path)):
        if not isinstance(item, str):
            problems.expect(item, "a string (quote numbers and booleans)", path / "values" / i)
        elif error := label_value_error(item):
            problems.add(path / "values" / i, error)
        else:
            values.append(item)
    text = problems.field_str(obj, "operator", path, required=True)
    if text is None:
        return None
    try:
        operator = Operator(text)
    except ValueError:
        problems.add(path / "operator", f"{text!r} is not one of {one_of(list(Operator))}")
        return None
    raw_values = obj.get("values")
    if operator in (Operator.IN, Operator.NOT_IN) and not raw_values:
        problems.add(path / "values", f"must be non-empty when operator is {operator}")
    if operator in (Operator.EXISTS, Operator.DOES_NOT_EXIST) and raw_values:
        problems.add(path / "values", f"must be empty when operator is {operator}")
    return Requirement(key=key or "", operator=operator, values=frozenset(values))


# --- NetworkPolicy rules ----------------------------------------------------------------------


def _policy_types(
    spec: Mapping[str, object], path: FieldPath, problems: Problems, *, has_egress: bool
) -> frozenset[Direction]:
    found: list[Direction] = []
    raw = problems.field_list(spec, "policyTypes", path)
    for i, item in enumerate(raw):
        item_path = path / "policyTypes" / i
        if not isinstance(item, str):
            problems.expect(item, "a string, Ingress or Egress", item_path)
            continue
        try:
            direction = Direction(item)
        except ValueError:
            hint = [d for d in Direction if d.lower() == item.lower()]
            tail = f"; did you mean {hint[0].value!r}?" if hint else ""
            problems.add(item_path, f"{item!r} is not one of {one_of(list(Direction))}{tail}")
            continue
        if direction in found:
            problems.add(item_path, f"duplicate {item!r}")
        found.append(direction)
    if raw:
        return frozenset(found)
    # The API server's defaulting: Ingress always, Egress only when egress rules exist.
    return frozenset({Direction.INGRESS, Direction.EGRESS} if has_egress else {Direction.INGRESS})


def _rule(value: object, path: FieldPath, problems: Problems, *, peers: str, other: str) -> Rule:
    # A null list entry decodes to an empty rule in Kubernetes: it allows everything.
    obj = problems.mapping(value, path) or {}
    if other in obj:
        kind = "ingress" if peers == "from" else "egress"
        problems.add(path / other, f"{kind} rules list their peers under {peers!r}, not {other!r}")
        obj = {k: v for k, v in obj.items() if k != other}
    problems.fields(obj, (peers, "ports"), path)
    found_peers = tuple(
        _peer(item, path / peers / i, problems)
        for i, item in enumerate(problems.field_list(obj, peers, path))
    )
    ports = tuple(
        _policy_port(item, path / "ports" / i, problems)
        for i, item in enumerate(problems.field_list(obj, "ports", path))
    )
    return Rule(peers=found_peers, ports=ports)


def _peer(value: object, path: FieldPath, problems: Problems) -> Peer:
    obj = problems.mapping(value, path)
    if obj is None and value is not None:
        return Peer()  # the wrong type is reported; nothing more to say
    obj = obj or {}
    problems.fields(obj, _PEER_FIELDS, path)
    pod_value = obj.get("podSelector")
    ns_value = obj.get("namespaceSelector")
    block_value = obj.get("ipBlock")
    present = [v is not None for v in (pod_value, ns_value, block_value)]
    # A misspelt peer field is reported as such; "needs a peer" would only repeat it.
    if not any(present) and obj.keys() <= set(_PEER_FIELDS):
        problems.add(path, "a peer needs podSelector, namespaceSelector or ipBlock")
    elif block_value is not None and sum(present) > 1:
        problems.add(
            path / "ipBlock",
            "ipBlock cannot be combined with podSelector or namespaceSelector in one peer;"
            " list them as separate peers",
        )
    return Peer(
        pod_selector=None
        if pod_value is None
        else _selector(pod_value, path / "podSelector", problems),
        namespace_selector=None
        if ns_value is None
        else _selector(ns_value, path / "namespaceSelector", problems),
        ip_block=None
        if block_value is None
        else _ip_block(block_value, path / "ipBlock", problems),
    )


def _ip_block(value: object, path: FieldPath, problems: Problems) -> IPBlock | None:
    obj = problems.mapping(value, path)
    if obj is None:
        return None
    problems.fields(obj, ("cidr", "except"), path)
    text = problems.field_str(obj, "cidr", path, required=True)
    network: IPNetwork | None = None
    if text is not None:
        network, error = cidr(text)
        if error is not None:
            problems.add(path / "cidr", error)
    excepts: list[IPNetwork] = []
    for i, item in enumerate(problems.field_list(obj, "except", path)):
        item_path = path / "except" / i
        if not isinstance(item, str):
            problems.expect(item, "a CIDR string", item_path)
            continue
        excepted, error = cidr(item)
        if excepted is None:
            problems.add(item_path, error or "not a CIDR")
            continue
        if network is not None:
            if excepted.version != network.version:
                problems.add(
                    item_path,
                    f"{item} is IPv{excepted.version} but cidr {network} is IPv{network.version}",
                )
                continue
            if excepted == network or not excepted.subnet_of(network):  # type: ignore[arg-type]
                problems.add(item_path, f"{item} must be strictly inside cidr {network}")
                continue
        excepts.append(excepted)
    if network is None:
        return None
    return IPBlock(cidr=network, excepts=tuple(excepts))


def _policy_port(value: object, path: FieldPath, problems: Problems) -> PolicyPort:
    obj = problems.mapping(value, path) or {}
    problems.fields(obj, _PORT_FIELDS, path)
    protocol = problems.protocol(obj, path) or Protocol.TCP
    port = problems.port_or_name(obj.get("port"), path / "port")
    end_port = problems.field_int(obj, "endPort", path)
    if end_port is not None:
        end_path = path / "endPort"
        raw = obj.get("port")
        if raw is None:
            problems.add(end_path, "endPort needs port to be set")
        elif isinstance(raw, str):
            problems.add(end_path, f"endPort needs a numeric port, not the named port {raw!r}")
        elif (
            problems.port_number(end_port, end_path) is not None
            and isinstance(port, int)
            and end_port < port
        ):
            problems.add(end_path, f"{end_port} must be greater than or equal to port {port}")
    return PolicyPort(protocol=protocol, port=port, end_port=end_port)
