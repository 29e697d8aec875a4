"""Reading Calico rules: actions, protocols, ICMP, entity rules, nets, ports and selectors.

Validated as Calico's API server validates them (libcalico-go's v3 validator),
every problem collected with its field path: ports need protocol TCP, UDP or
SCTP; an icmp match needs protocol ICMP or ICMPv6 and a code needs a type; a rule
cannot mix IPv4 and IPv6 nets or contradict its ipVersion; ``global()`` is only
valid, alone, in a rule's namespaceSelector; ``services`` excludes selectors,
nets and service accounts, takes no ports in a destination, and is allowed only
in an ingress rule's source or an egress rule's destination.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping

from service.errors import FieldPath, InvalidInput
from service.policy.calico.model import (
    CalicoRule,
    EntityRule,
    IcmpMatch,
    NamedPort,
    PortMatch,
    PortRange,
    ProtocolMatch,
    ServiceAccountMatch,
    ServiceMatch,
)
from service.policy.calico.selector import Selector
from service.policy.calico.selector_parse import parse_selector
from service.policy.model import Direction, IPNetwork
from service.policy.syntax import Problems, one_of, port_name_error
from service.policy.verdict import Action

__all__ = [
    "MAX_RULES",
    "PROTOCOL_NUMBERS",
    "read_rules",
    "read_selector",
    "read_string_list",
]

# Calico's limit on rules per direction of one policy.
MAX_RULES = 1024
PROTOCOL_NUMBERS = {"TCP": 6, "UDP": 17, "ICMP": 1, "ICMPv6": 58, "SCTP": 132, "UDPLite": 136}
_PORT_PROTOCOLS = frozenset({6, 17, 132})
_ICMP = frozenset({1, 58})
_RULE_FIELDS = (
    "action", "protocol", "notProtocol", "icmp", "notICMP", "ipVersion", "source",
    "destination", "http", "metadata",
)  # fmt: skip
_ENTITY_FIELDS = (
    "nets", "notNets", "selector", "notSelector", "namespaceSelector", "ports", "notPorts",
    "serviceAccounts", "services",
)  # fmt: skip
_ACTIONS = (Action.ALLOW, Action.DENY, Action.LOG, Action.PASS)


def read_selector(
    obj: Mapping[str, object], key: str, path: FieldPath, problems: Problems
) -> Selector | None:
    """A selector string field; absent, null or "" is None (Calico: not given)."""
    text = problems.field_str(obj, key, path)
    if not text:
        return None
    try:
        return parse_selector(text, path / key)
    except InvalidInput as err:
        problems.extend(err)
        return None


def read_string_list(
    obj: Mapping[str, object], key: str, path: FieldPath, problems: Problems
) -> list[str]:
    out = []
    for i, item in enumerate(problems.field_list(obj, key, path)):
        if isinstance(item, str):
            out.append(item)
        else:
            problems.expect(item, "a string", path / key / i)
    return out


def read_rules(
    spec: Mapping[str, object],
    direction: Direction,
    path: FieldPath,
    problems: Problems,
    *,
    namespaced: bool,
) -> tuple[CalicoRule, ...]:
    key = "ingress" if direction is Direction.INGRESS else "egress"
    raw = problems.field_list(spec, key, path)
    if len(raw) > MAX_RULES:
        problems.add(path / key, f"{len(raw)} rules: expected at most {MAX_RULES}")
    rules = []
    for i, item in enumerate(raw):
        rule = _rule(item, path / key / i, problems, direction=direction, namespaced=namespaced)
        if rule is not None:
            rules.append(rule)
    return tuple(rules)


def _rule(
    value: object, path: FieldPath, problems: Problems, *, direction: Direction, namespaced: bool
) -> CalicoRule | None:
    obj = problems.mapping(value, path)
    if obj is None:
        if value is None:
            problems.expect(value, "a rule (a mapping with an action)", path)
        return None
    problems.fields(obj, _RULE_FIELDS, path)
    action = _action(obj, path, problems)
    protocol = _protocol(obj, "protocol", path, problems)
    not_protocol = _protocol(obj, "notProtocol", path, problems)
    icmp = _icmp(obj, "icmp", path, problems)
    not_icmp = _icmp(obj, "notICMP", path, problems)
    ip_version = problems.field_int(obj, "ipVersion", path)
    if ip_version is not None and ip_version not in (4, 6):
        problems.add(path / "ipVersion", f"{ip_version} is not an IP version: expected 4 or 6")
    if obj.get("http") is not None:
        problems.add(
            path / "http",
            "HTTP matches need Calico's application layer policy (Envoy), which the engine does"
            " not model: expected a rule without http",
        )
    metadata = problems.field_mapping(obj, "metadata", path)
    if metadata is not None:
        problems.fields(metadata, ("annotations",), path / "metadata")
    source = _entity(obj, "source", path, problems)
    destination = _entity(obj, "destination", path, problems)
    _check_protocols(obj, path, problems, protocol, icmp, ip_version)
    _check_nets(path, problems, ip_version, source, destination)
    _check_services(path, problems, direction, namespaced, source, destination)
    if action is None:
        return None
    return CalicoRule(
        action=action,
        protocol=protocol,
        not_protocol=not_protocol,
        icmp=icmp,
        not_icmp=not_icmp,
        ip_version=ip_version if ip_version in (4, 6) else None,
        source=source,
        destination=destination,
    )


def _action(obj: Mapping[str, object], path: FieldPath, problems: Problems) -> Action | None:
    text = problems.field_str(obj, "action", path, required=True)
    if text is None:
        return None
    for action in _ACTIONS:
        if text == action.value:
            return action
    hint = [a.value for a in _ACTIONS if a.value.lower() == text.lower()]
    tail = f"; did you mean {hint[0]!r}?" if hint else ""
    problems.add(path / "action", f"{text!r} is not one of {one_of(list(_ACTIONS))}{tail}")
    return None


def _protocol(
    obj: Mapping[str, object], key: str, path: FieldPath, problems: Problems
) -> ProtocolMatch | None:
    value = obj.get(key)
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        if 1 <= value <= 255:
            return ProtocolMatch(value)
        problems.add(path / key, f"{value} is not a protocol number: expected 1-255")
        return None
    if isinstance(value, str):
        number = PROTOCOL_NUMBERS.get(value)
        if number is not None:
            return ProtocolMatch(number, value)
        hint = [n for n in PROTOCOL_NUMBERS if n.lower() == value.lower()]
        tail = f"; did you mean {hint[0]!r}?" if hint else ""
        expected = f"one of {one_of(list(PROTOCOL_NUMBERS))} or a number 1-255"
        problems.add(path / key, f"{value!r} is not {expected}{tail}")
        return None
    problems.expect(value, "a protocol name or number", path / key)
    return None


def _icmp(
    obj: Mapping[str, object], key: str, path: FieldPath, problems: Problems
) -> IcmpMatch | None:
    found = problems.field_mapping(obj, key, path)
    if found is None:
        return None
    at = path / key
    problems.fields(found, ("type", "code"), at)
    icmp_type = problems.field_int(found, "type", at)
    code = problems.field_int(found, "code", at)
    if icmp_type is not None and not 0 <= icmp_type <= 254:
        problems.add(at / "type", f"{icmp_type} is not an ICMP type: expected 0-254")
    if code is not None and not 0 <= code <= 255:
        problems.add(at / "code", f"{code} is not an ICMP code: expected 0-255")
    if code is not None and icmp_type is None:
        problems.add(at / "code", "an ICMP code needs an ICMP type (a kernel limitation)")
    return IcmpMatch(icmp_type, code)


def _check_protocols(
    obj: Mapping[str, object],
    path: FieldPath,
    problems: Problems,
    protocol: ProtocolMatch | None,
    icmp: IcmpMatch | None,
    ip_version: int | None,
) -> None:
    number = protocol.number if protocol is not None else None
    if number not in _PORT_PROTOCOLS:
        for side in ("source", "destination"):
            entity = obj.get(side)
            if not isinstance(entity, Mapping):
                continue
            for key in ("ports", "notPorts"):
                if entity.get(key):
                    problems.add(
                        path / side / key,
                        "rules that specify ports must set protocol to TCP, UDP or SCTP",
                    )
    # Calico checks icmp only: notICMP holds for any packet that is not that ICMP type.
    if icmp is not None and number not in _ICMP:
        problems.add(path / "icmp", "rules that specify ICMP fields must set protocol to ICMP")
    if ip_version is not None and number in _ICMP:
        wanted = 4 if number == 1 else 6
        if ip_version != wanted:
            problems.add(
                path / "ipVersion", f"must be {wanted} with protocol {protocol}, got {ip_version}"
            )


def _entity(obj: Mapping[str, object], key: str, path: FieldPath, problems: Problems) -> EntityRule:
    at = path / key
    found = problems.field_mapping(obj, key, path)
    if found is None:
        return EntityRule()
    problems.fields(found, _ENTITY_FIELDS, at)
    selector = read_selector(found, "selector", at, problems)
    not_selector = read_selector(found, "notSelector", at, problems)
    namespace_selector = read_selector(found, "namespaceSelector", at, problems)
    for name, sel in (("selector", selector), ("notSelector", not_selector)):
        if sel is not None and sel.uses_global:
            problems.add(at / name, "global() can only be used in an EntityRule namespaceSelector")
    ns_global = namespace_selector is not None and namespace_selector.uses_global
    if ns_global and namespace_selector is not None and namespace_selector.text != "global()":
        problems.add(at / "namespaceSelector", "global() cannot be combined with other selectors")
    return EntityRule(
        nets=_nets(found, "nets", at, problems),
        not_nets=_nets(found, "notNets", at, problems),
        selector=selector,
        not_selector=not_selector,
        namespace_selector=namespace_selector,
        ports=_ports(found, "ports", at, problems),
        not_ports=_ports(found, "notPorts", at, problems),
        service_accounts=_service_accounts(found, at, problems),
        services=_services(found, at, problems),
    )


def _nets(
    obj: Mapping[str, object], key: str, path: FieldPath, problems: Problems
) -> tuple[IPNetwork, ...]:
    out: list[IPNetwork] = []
    for i, item in enumerate(problems.field_list(obj, key, path)):
        at = path / key / i
        if not isinstance(item, str):
            problems.expect(item, "a CIDR string", at)
            continue
        try:
            # Calico accepts a bare address (a full mask) and masks host bits itself.
            out.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            problems.add(at, f"{item!r} is not a CIDR or an IP address")
    return tuple(out)


def _ports(
    obj: Mapping[str, object], key: str, path: FieldPath, problems: Problems
) -> tuple[PortMatch, ...]:
    out: list[PortMatch] = []
    for i, item in enumerate(problems.field_list(obj, key, path)):
        port = _port(item, path / key / i, problems)
        if port is not None:
            out.append(port)
    return tuple(out)


def _port(value: object, path: FieldPath, problems: Problems) -> PortMatch | None:
    if isinstance(value, int) and not isinstance(value, bool):
        if 0 <= value <= 65535:
            return PortRange(value, value)
        problems.add(path, f"{value} is not a port: expected 0-65535")
        return None
    if not isinstance(value, str):
        problems.expect(value, "a port number, a range 'lo:hi' or a port name", path)
        return None
    lo_text, colon, hi_text = value.partition(":")
    if colon or value.isdigit():
        if not (lo_text.isdigit() and (hi_text.isdigit() or not colon)):
            problems.add(path, f"{value!r} is not a port range: expected 'lo:hi' with numbers")
            return None
        lo = int(lo_text)
        hi = int(hi_text) if colon else lo
        if not 0 <= lo <= hi <= 65535:
            problems.add(path, f"{value!r} is not a port range: expected 0 <= lo <= hi <= 65535")
            return None
        return PortRange(lo, hi)
    if error := port_name_error(value):
        problems.add(path, error)
        return None
    return NamedPort(value)


def _service_accounts(
    obj: Mapping[str, object], path: FieldPath, problems: Problems
) -> ServiceAccountMatch | None:
    found = problems.field_mapping(obj, "serviceAccounts", path)
    if found is None:
        return None
    at = path / "serviceAccounts"
    problems.fields(found, ("names", "selector"), at)
    names = read_string_list(found, "names", at, problems)
    selector = read_selector(found, "selector", at, problems)
    return ServiceAccountMatch(tuple(names), selector)


def _services(
    obj: Mapping[str, object], path: FieldPath, problems: Problems
) -> ServiceMatch | None:
    found = problems.field_mapping(obj, "services", path)
    if found is None:
        return None
    at = path / "services"
    problems.fields(found, ("name", "namespace"), at)
    name = problems.field_str(found, "name", at, required=True)
    namespace = problems.field_str(found, "namespace", at)
    for other in ("namespaceSelector", "selector", "notSelector", "serviceAccounts", "nets"):
        if obj.get(other):
            problems.add(at, f"services cannot be combined with {other} in one entity rule")
    if obj.get("notNets"):
        problems.add(at, "services cannot be combined with notNets in one entity rule")
    return ServiceMatch(name or "", namespace or None)


def _check_nets(
    path: FieldPath,
    problems: Problems,
    ip_version: int | None,
    source: EntityRule,
    destination: EntityRule,
) -> None:
    seen: set[int] = set()
    for side, entity in (("source", source), ("destination", destination)):
        for key, nets in (("nets", entity.nets), ("notNets", entity.not_nets)):
            versions = {n.version for n in nets}
            if ip_version is not None and versions - {ip_version}:
                problems.add(
                    path / side / key, f"a CIDR's IP version is not ipVersion {ip_version}"
                )
            if len(versions) > 1 or (versions and seen and versions != seen):
                problems.add(path / side / key, "a rule cannot mix IPv4 and IPv6 CIDRs")
            seen |= versions


def _check_services(
    path: FieldPath,
    problems: Problems,
    direction: Direction,
    namespaced: bool,
    source: EntityRule,
    destination: EntityRule,
) -> None:
    wrong = "source" if direction is Direction.EGRESS else "destination"
    entity = source if wrong == "source" else destination
    if entity.services is not None:
        kind = direction.lower()
        problems.add(
            path / wrong / "services",
            f"services are not allowed in an {kind} rule's {wrong}: an {kind} rule names"
            f" services in its {'destination' if wrong == 'source' else 'source'}",
        )
    for side, found in (("source", source), ("destination", destination)):
        if found.services is not None and found.services.namespace is None and not namespaced:
            problems.add(
                path / side / "services" / "namespace",
                "required in a global policy: a Service lives in a namespace",
            )
    if destination.services is not None and (destination.ports or destination.not_ports):
        problems.add(
            path / "destination",
            "ports cannot be given with services: a service rule uses the Service's ports",
        )
