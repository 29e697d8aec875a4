"""What the fake API server rejects with 422, as the real one would.

Names (DNS-1123 labels for namespaces and Services, subdomains for pods and
policies), label keys and values, required fields, container and Service ports,
port names, and NetworkPolicies through the engine's own API-server validation
(:func:`service.policy.parse.parse_network_policy`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from service.errors import InvalidInput
from service.policy.parse import parse_network_policy
from service.policy.syntax import (
    dns1123_label_error,
    dns1123_subdomain_error,
    label_key_error,
    label_value_error,
    port_name_error,
)
from tests.cluster.kubernetes.fakeapi.calico import CALICO_RESOURCES, calico_causes

__all__ = ["Cause", "validate"]

Cause = dict[str, str]
_PROTOCOLS = ("TCP", "UDP", "SCTP")
_LABEL_NAMES = ("namespaces", "services")


def _cause(field: str, message: str, reason: str = "FieldValueInvalid") -> Cause:
    return {"reason": reason, "message": message, "field": field}


def validate(resource: str, obj: Mapping[str, Any]) -> list[Cause]:
    causes: list[Cause] = []
    meta = obj.get("metadata")
    if not isinstance(meta, Mapping):
        return [_cause("metadata", "Required value", "FieldValueRequired")]
    name = meta.get("name")
    if not isinstance(name, str) or not name:
        causes.append(
            _cause("metadata.name", "Required value: name is required", "FieldValueRequired")
        )
    else:
        check = dns1123_label_error if resource in _LABEL_NAMES else dns1123_subdomain_error
        error = check(name)
        if error is not None:
            causes.append(_cause("metadata.name", f"Invalid value: {error}"))
    for key, value in (meta.get("labels") or {}).items():
        error = label_key_error(str(key)) or label_value_error(str(value))
        if error is not None:
            causes.append(_cause(f"metadata.labels[{key}]", f"Invalid value: {error}"))
    for key in meta.get("annotations") or {}:
        error = label_key_error(str(key))
        if error is not None:
            causes.append(_cause(f"metadata.annotations[{key}]", f"Invalid value: {error}"))
    spec = obj.get("spec")
    if resource == "pods":
        causes += _pod(spec)
    elif resource == "services":
        causes += _service(spec)
    elif resource == "networkpolicies":
        try:
            parse_network_policy(obj)
        except InvalidInput as err:
            causes += [_cause(str(p.path), p.message) for p in err.problems]
    elif resource in CALICO_RESOURCES:
        causes += calico_causes(obj)
    return causes


def _pod(spec: object) -> list[Cause]:
    if not isinstance(spec, Mapping):
        return [_cause("spec", "Required value", "FieldValueRequired")]
    containers = spec.get("containers")
    if not isinstance(containers, list) or not containers:
        return [_cause("spec.containers", "Required value", "FieldValueRequired")]
    causes: list[Cause] = []
    names: set[str] = set()
    port_names: set[str] = set()
    for i, container in enumerate(containers):
        where = f"spec.containers[{i}]"
        if not isinstance(container, Mapping):
            causes.append(_cause(where, "expected an object"))
            continue
        name = container.get("name")
        error = dns1123_label_error(name) if isinstance(name, str) else "Required value"
        causes += _unique_name(f"{where}.name", name, error, names)
        if not container.get("image"):
            causes.append(_cause(f"{where}.image", "Required value", "FieldValueRequired"))
        for j, port in enumerate(container.get("ports") or []):
            causes += _container_port(port, f"{where}.ports[{j}]", port_names)
    return causes


def _container_port(port: Mapping[str, Any], where: str, seen: set[str]) -> list[Cause]:
    causes = _port_number(f"{where}.containerPort", port.get("containerPort"))
    causes += _protocol(f"{where}.protocol", port)
    name = port.get("name")
    if name is not None:
        causes += _unique_name(f"{where}.name", name, port_name_error(str(name)), seen)
    return causes


def _service(spec: object) -> list[Cause]:
    if not isinstance(spec, Mapping):
        return [_cause("spec", "Required value", "FieldValueRequired")]
    ports = spec.get("ports")
    if not isinstance(ports, list) or not ports:
        return [_cause("spec.ports", "Required value", "FieldValueRequired")]
    causes: list[Cause] = []
    names: set[str] = set()
    for i, port in enumerate(ports):
        where = f"spec.ports[{i}]"
        number = port.get("port")
        causes += _port_number(f"{where}.port", number)
        causes += _protocol(f"{where}.protocol", port)
        name = port.get("name")
        if len(ports) > 1 and not name:
            causes.append(_cause(f"{where}.name", "Required value", "FieldValueRequired"))
        elif name:
            causes += _unique_name(f"{where}.name", name, dns1123_label_error(str(name)), names)
        target = port.get("targetPort", number)
        if isinstance(target, str):
            error = port_name_error(target)
            if error is not None:
                causes.append(_cause(f"{where}.targetPort", error))
        else:
            causes += _port_number(f"{where}.targetPort", target)
    for key, value in (spec.get("selector") or {}).items():
        error = label_key_error(str(key)) or label_value_error(str(value))
        if error is not None:
            causes.append(_cause(f"spec.selector[{key}]", error))
    return causes


def _port_number(field: str, number: object) -> list[Cause]:
    if isinstance(number, int) and 1 <= number <= 65535:
        return []
    return [_cause(field, f"Invalid value: {number!r}")]


def _protocol(field: str, port: Mapping[str, Any]) -> list[Cause]:
    if port.get("protocol", "TCP") in _PROTOCOLS:
        return []
    return [_cause(field, "Unsupported value", "FieldValueNotSupported")]


def _unique_name(field: str, name: object, error: str | None, seen: set[str]) -> list[Cause]:
    """``error`` (the name's format problem) if any, else a duplicate of a name in ``seen``."""
    duplicate = error is None and name in seen
    seen.add(str(name))
    if error is not None:
        return [_cause(field, error)]
    if duplicate:
        return [_cause(field, f"Duplicate value: {name!r}", "FieldValueDuplicate")]
    return []
