"""Parsers for the objects around policies: metadata, Namespace, Pod, pod templates, Service.

Same contract as :mod:`service.policy.parse` (which re-exports these): plain
data in, an engine value out, or :class:`~service.errors.InvalidInput` with
every problem found, each naming its field path and what was expected.

Namespaced objects without ``metadata.namespace`` land in ``default_namespace``
(``"default"`` unless the caller says otherwise), as ``kubectl apply`` puts them
in the current context's namespace, which is ``default`` out of the box.

Pod and container specs have dozens of fields that grow every release; they
are read, not policed, so a manifest from a newer cluster still loads. Small,
stable field sets (the top level, metadata, container and Service ports) reject
unknown fields with a did-you-mean.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from service.errors import FieldPath
from service.policy.model import (
    ContainerPort,
    IPAddress,
    Labels,
    Namespace,
    Pod,
    Service,
    ServicePort,
    WorkloadRef,
)
from service.policy.syntax import (
    Problems,
    dns1035_label_error,
    dns1123_label_error,
    dns1123_subdomain_error,
    port_name_error,
)

__all__ = [
    "DEFAULT_NAMESPACE",
    "ObjectMeta",
    "parse_namespace",
    "parse_object_meta",
    "parse_pod",
    "parse_pod_template",
    "parse_service",
    "read_object_meta",
    "read_required_mapping",
    "read_root",
]

DEFAULT_NAMESPACE = "default"

_ROOT = FieldPath()
_TOP_FIELDS = ("apiVersion", "kind", "metadata", "spec", "status")
_META_FIELDS = (
    "name", "generateName", "namespace", "selfLink", "uid", "resourceVersion", "generation",
    "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "labels",
    "annotations", "ownerReferences", "finalizers", "managedFields",
)  # fmt: skip
_OWNER_FIELDS = ("apiVersion", "kind", "name", "uid", "controller", "blockOwnerDeletion")
_CONTAINER_PORT_FIELDS = ("name", "containerPort", "protocol", "hostPort", "hostIP")
_SERVICE_PORT_FIELDS = ("name", "protocol", "port", "targetPort", "nodePort", "appProtocol")


@dataclass(frozen=True, slots=True)
class ObjectMeta:
    """What the engine needs from ``metadata``.

    ``owner`` is the controller among ``ownerReferences`` (the first reference
    when none is marked controller); the manifest reader follows it to the
    top-level workload.
    """

    name: str
    namespace: str | None
    labels: Labels
    owner: WorkloadRef | None = None


def parse_object_meta(
    obj: Mapping[str, object], *, namespaced: bool, default_namespace: str = DEFAULT_NAMESPACE
) -> ObjectMeta:
    """``metadata`` of any object: name (a DNS-1123 subdomain), namespace, labels, owner."""
    problems = Problems()
    meta = read_object_meta(
        obj, problems, namespaced=namespaced, default_namespace=default_namespace
    )
    problems.raise_any()
    return meta


def parse_namespace(obj: Mapping[str, object]) -> Namespace:
    """A v1 Namespace: its name (a DNS-1123 label) and labels."""
    problems = Problems()
    root = read_root(obj, problems, kind="Namespace", api_version="v1")
    meta = read_object_meta(
        root, problems, namespaced=False, default_namespace="", name_rule=dns1123_label_error
    )
    problems.raise_any()
    return Namespace(name=meta.name, labels=meta.labels)


def parse_pod(obj: Mapping[str, object], *, default_namespace: str = DEFAULT_NAMESPACE) -> Pod:
    """A v1 Pod: labels, container ports, hostNetwork, service account, IP, owner.

    Without ``metadata.namespace`` the pod is in ``default_namespace`` ("default").
    ``workload`` is the pod's direct controller from ``ownerReferences``, if any.
    """
    problems = Problems()
    root = read_root(obj, problems, kind="Pod", api_version="v1")
    meta = read_object_meta(root, problems, namespaced=True, default_namespace=default_namespace)
    spec = read_required_mapping(root, "spec", problems)
    ports, host_network, account = (
        _pod_spec(spec, FieldPath(("spec",)), problems)
        if spec is not None
        else ((), False, "default")
    )
    ip = _pod_ip(root, problems)
    problems.raise_any()
    return Pod(
        namespace=meta.namespace or default_namespace,
        name=meta.name,
        labels=meta.labels,
        ports=ports,
        ip=ip,
        host_network=host_network,
        workload=meta.owner,
        service_account=account,
    )


def parse_pod_template(
    obj: object, path: FieldPath, *, namespace: str, name: str, workload: WorkloadRef
) -> Pod:
    """The representative pod of a workload, from the PodTemplateSpec at ``path``.

    It is named after the workload and carries the template's labels: every
    replica looks the same to a policy, so one pod stands for all of them.
    """
    problems = Problems()
    template = problems.mapping(obj, path)
    if template is None:
        if obj is None:
            problems.add(path, "required: a pod template with metadata.labels and spec")
        problems.raise_any()
        template = {}
    problems.fields(template, ("metadata", "spec"), path)
    meta = problems.field_mapping(template, "metadata", path) or {}
    problems.fields(meta, _META_FIELDS, path / "metadata")
    labels = problems.labels(meta.get("labels"), path / "metadata" / "labels")
    spec = problems.field_mapping(template, "spec", path)
    if spec is None and template.get("spec") is None:
        problems.add(path / "spec", "required")
    ports, host_network, account = (
        _pod_spec(spec, path / "spec", problems) if spec is not None else ((), False, "default")
    )
    problems.raise_any()
    return Pod(
        namespace=namespace,
        name=name,
        labels=labels,
        ports=ports,
        host_network=host_network,
        workload=workload,
        service_account=account,
    )


def parse_service(
    obj: Mapping[str, object], *, default_namespace: str = DEFAULT_NAMESPACE
) -> Service:
    """A v1 Service: selector, ports (targetPort defaults to port), cluster IP.

    Without ``metadata.namespace`` the service is in ``default_namespace`` ("default").
    """
    problems = Problems()
    root = read_root(obj, problems, kind="Service", api_version="v1")
    meta = read_object_meta(
        root,
        problems,
        namespaced=True,
        default_namespace=default_namespace,
        name_rule=dns1035_label_error,
    )
    path = FieldPath(("spec",))
    spec = read_required_mapping(root, "spec", problems) or {}
    selector = problems.labels(spec.get("selector"), path / "selector")
    raw_ports = problems.field_list(spec, "ports", path)
    ports: list[ServicePort] = []
    seen: dict[str, int] = {}
    for i, item in enumerate(raw_ports):
        port = _service_port(item, path / "ports" / i, problems, named=len(raw_ports) > 1)
        if port is None:
            continue
        if port.name is not None:
            if port.name in seen:
                problems.add(
                    path / "ports" / i / "name",
                    f"duplicate port name {port.name!r} (also spec.ports[{seen[port.name]}])",
                )
            seen.setdefault(port.name, i)
        ports.append(port)
    cluster_ip: IPAddress | None = None
    text = problems.field_str(spec, "clusterIP", path)
    if text and text != "None":  # "None" is a headless service, "" means "allocate one"
        cluster_ip = _ip(text, path / "clusterIP", problems)
    problems.raise_any()
    return Service(
        namespace=meta.namespace or default_namespace,
        name=meta.name,
        selector=selector,
        ports=tuple(ports),
        cluster_ip=cluster_ip,
    )


# --- reading helpers shared with the NetworkPolicy parser ----------------------------------


def read_root(
    obj: object, problems: Problems, *, kind: str, api_version: str
) -> Mapping[str, object]:
    if not isinstance(obj, Mapping):
        problems.expect(obj, f"a mapping (a {kind} object)", _ROOT)
        problems.raise_any()
        return {}
    problems.fields(obj, _TOP_FIELDS, _ROOT)
    found_kind = problems.field_str(obj, "kind", _ROOT, required=True)
    if found_kind is not None and found_kind != kind:
        problems.add(FieldPath(("kind",)), f"expected {kind!r}, got {found_kind!r}")
    version = problems.field_str(obj, "apiVersion", _ROOT, required=True)
    if version is not None and version != api_version:
        problems.add(
            FieldPath(("apiVersion",)), f"expected {api_version!r} for a {kind}, got {version!r}"
        )
    return obj


def read_required_mapping(
    root: Mapping[str, object], key: str, problems: Problems
) -> Mapping[str, object] | None:
    value = problems.field_mapping(root, key, _ROOT)
    if value is None and root.get(key) is None:
        problems.add(FieldPath((key,)), "required")
    return value


def read_object_meta(
    root: Mapping[str, object],
    problems: Problems,
    *,
    namespaced: bool,
    default_namespace: str,
    name_rule: Callable[[str], str | None] = dns1123_subdomain_error,
) -> ObjectMeta:
    """``metadata``; ``name_rule`` says why a name is invalid (most kinds: a DNS-1123 subdomain)."""
    path = FieldPath(("metadata",))
    meta = read_required_mapping(root, "metadata", problems)
    if meta is None:
        return ObjectMeta(
            name="", namespace=default_namespace if namespaced else None, labels=Labels()
        )
    problems.fields(meta, _META_FIELDS, path)
    name = problems.field_str(meta, "name", path, required=True) or ""
    if name and (error := name_rule(name)):
        problems.add(path / "name", error)
    namespace: str | None = None
    if namespaced:
        namespace = problems.field_str(meta, "namespace", path) or default_namespace
        if error := dns1123_label_error(namespace):
            problems.add(path / "namespace", error)
    labels = problems.labels(meta.get("labels"), path / "labels")
    problems.labels(meta.get("annotations"), path / "annotations", keys_only=True)
    owner = _owner(meta, path, problems, namespace=namespace or "")
    return ObjectMeta(name=name, namespace=namespace, labels=labels, owner=owner)


def _owner(
    meta: Mapping[str, object], path: FieldPath, problems: Problems, *, namespace: str
) -> WorkloadRef | None:
    owners: list[tuple[WorkloadRef, bool]] = []
    for i, item in enumerate(problems.field_list(meta, "ownerReferences", path)):
        item_path = path / "ownerReferences" / i
        ref = problems.mapping(item, item_path)
        if ref is None:
            if item is None:
                problems.expect(item, "a mapping", item_path)
            continue
        problems.fields(ref, _OWNER_FIELDS, item_path)
        problems.field_str(ref, "apiVersion", item_path, required=True)
        kind = problems.field_str(ref, "kind", item_path, required=True)
        name = problems.field_str(ref, "name", item_path, required=True)
        controller = problems.field_bool(ref, "controller", item_path) or False
        if kind and name:
            owners.append((WorkloadRef(namespace, name, kind), controller))
    controllers = [ref for ref, controller in owners if controller]
    if len(controllers) > 1:
        problems.add(path / "ownerReferences", "only one reference can have controller set to true")
    if controllers:
        return controllers[0]
    return owners[0][0] if owners else None


# --- pods and services ------------------------------------------------------------------------


def _pod_spec(
    spec: Mapping[str, object], path: FieldPath, problems: Problems
) -> tuple[tuple[ContainerPort, ...], bool, str]:
    containers = problems.field_list(spec, "containers", path)
    if not containers and "containers" not in spec:
        problems.add(path / "containers", "required: at least one container")
    ports: list[ContainerPort] = []
    container_names: set[str] = set()
    port_names: dict[str, FieldPath] = {}
    for i, item in enumerate(containers):
        container_path = path / "containers" / i
        container = problems.mapping(item, container_path)
        if container is None:
            continue
        name = problems.field_str(container, "name", container_path, required=True)
        if name and (error := dns1123_label_error(name)):
            problems.add(container_path / "name", error)
        elif name in container_names:
            problems.add(container_path / "name", f"duplicate container name {name!r}")
        container_names.add(name or "")
        for j, raw_port in enumerate(problems.field_list(container, "ports", container_path)):
            port_path = container_path / "ports" / j
            port = _container_port(raw_port, port_path, problems)
            if port is None:
                continue
            if port.name is not None:
                if port.name in port_names:
                    problems.add(
                        port_path / "name",
                        f"duplicate port name {port.name!r} (also {port_names[port.name]})",
                    )
                port_names.setdefault(port.name, port_path)
            ports.append(port)
    host_network = problems.field_bool(spec, "hostNetwork", path) or False
    # serviceAccount is the deprecated spelling; the API server copies it when the new one is unset.
    account = problems.field_str(spec, "serviceAccountName", path)
    key = "serviceAccountName"
    if not account:
        account, key = problems.field_str(spec, "serviceAccount", path), "serviceAccount"
    if account and (error := dns1123_subdomain_error(account)):
        problems.add(path / key, error)
    return tuple(ports), host_network, account or "default"


def _container_port(value: object, path: FieldPath, problems: Problems) -> ContainerPort | None:
    obj = problems.mapping(value, path)
    if obj is None:
        return None
    problems.fields(obj, _CONTAINER_PORT_FIELDS, path)
    number = problems.field_int(obj, "containerPort", path)
    if number is None and obj.get("containerPort") is None:
        problems.add(path / "containerPort", "required")
    elif number is not None:
        number = problems.port_number(number, path / "containerPort")
    name = problems.field_str(obj, "name", path)
    if name and (error := port_name_error(name)):
        problems.add(path / "name", error)
    protocol = problems.protocol(obj, path)
    if number is None or protocol is None:
        return None
    return ContainerPort(port=number, protocol=protocol, name=name or None)


def _service_port(
    value: object, path: FieldPath, problems: Problems, *, named: bool
) -> ServicePort | None:
    obj = problems.mapping(value, path)
    if obj is None:
        return None
    problems.fields(obj, _SERVICE_PORT_FIELDS, path)
    name = problems.field_str(obj, "name", path, required=named)
    if name and (error := dns1123_label_error(name)):
        problems.add(path / "name", error)
    number = problems.field_int(obj, "port", path)
    if number is None and obj.get("port") is None:
        problems.add(path / "port", "required")
    elif number is not None:
        number = problems.port_number(number, path / "port")
    target = problems.port_or_name(obj.get("targetPort"), path / "targetPort")
    protocol = problems.protocol(obj, path)
    if number is None or protocol is None:
        return None
    return ServicePort(
        port=number, target_port=number if target is None else target, protocol=protocol,
        name=name or None,
    )  # fmt: skip


def _pod_ip(root: Mapping[str, object], problems: Problems) -> IPAddress | None:
    status = problems.field_mapping(root, "status", _ROOT)
    if status is None:
        return None
    text = problems.field_str(status, "podIP", FieldPath(("status",)))
    return _ip(text, FieldPath(("status", "podIP")), problems) if text else None


def _ip(text: str, path: FieldPath, problems: Problems) -> IPAddress | None:
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        problems.add(path, f"{text!r} is not an IP address")
        return None
