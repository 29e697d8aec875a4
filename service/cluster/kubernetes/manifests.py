"""The objects a run creates, as API dictionaries: namespaces, pods and Services.

Target pods serve each declared port and protocol from their own agnhost
container, as the upstream e2e suite does: ``serve-hostname --tcp|--udp`` for
TCP and UDP, ``porter`` for SCTP, with the port declared (and named, when the
scenario names it) on that container, since policies resolve named ports on the
destination's container ports. Probe pods run ``agnhost pause`` and are only
exec'd into.

Every pod is locked down: non-root, no privilege escalation, every capability
dropped, a read-only root filesystem, the runtime's seccomp profile, no
service account token, and CPU and memory limits. Serving a port below 1024 as
non-root uses the namespaced sysctl ``net.ipv4.ip_unprivileged_port_start``
(in Kubernetes' safe set since 1.22) instead of a capability.
"""

from __future__ import annotations

from typing import Any

from service.cluster.kubernetes.naming import (
    EXPIRES_ANNOTATION,
    ORIGINAL_NAMESPACE_ANNOTATION,
    ROLE_LABEL,
    RunNaming,
)
from service.cluster.kubernetes.options import KubernetesOptions, Resources
from service.policy.model import (
    NAMESPACE_NAME_LABEL,
    ContainerPort,
    Namespace,
    Protocol,
    Service,
)
from service.scenario.plan import PodSpec

__all__ = [
    "PROBE_CONTAINER",
    "container_name",
    "exec_container",
    "namespace_manifest",
    "pod_manifest",
    "service_manifest",
]

PROBE_CONTAINER = "probe"
PRIVILEGED_PORTS = 1024
UNPRIVILEGED_PORT_SYSCTL = "net.ipv4.ip_unprivileged_port_start"
SCTP_PAYLOAD = "netpol-drift"


def container_name(port: ContainerPort) -> str:
    """``serve-80-tcp``: one container per served port and protocol."""
    return f"serve-{port.port}-{port.protocol.value.lower()}"


def exec_container(spec: PodSpec) -> str:
    """The container probes run in: the first serving container, or the probe container."""
    return container_name(spec.ports[0]) if spec.ports else PROBE_CONTAINER


def namespace_manifest(
    namespace: Namespace, *, naming: RunNaming, expires_at: str
) -> dict[str, Any]:
    # The API server sets kubernetes.io/metadata.name itself, to the real name.
    labels = {k: v for k, v in namespace.labels.items() if k != NAMESPACE_NAME_LABEL}
    labels.update(naming.labels)
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {
            "name": naming.namespace(namespace.name),
            "labels": labels,
            "annotations": {
                EXPIRES_ANNOTATION: expires_at,
                ORIGINAL_NAMESPACE_ANNOTATION: namespace.name,
            },
        },
    }


def pod_manifest(spec: PodSpec, *, naming: RunNaming, options: KubernetesOptions) -> dict[str, Any]:
    containers = [
        _serving_container(port, options, probes=spec.probes and i == 0)
        for i, port in enumerate(spec.ports)
    ]
    if not containers:
        containers.append(
            _container(
                PROBE_CONTAINER,
                ["pause"],
                options,
                options.probe_resources if spec.probes else options.target_resources,
            )
        )
    pod_security: dict[str, Any] = {
        "runAsNonRoot": True,
        "runAsUser": options.run_as_user,
        "runAsGroup": options.run_as_user,
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    if any(p.port < PRIVILEGED_PORTS for p in spec.ports):
        pod_security["sysctls"] = [{"name": UNPRIVILEGED_PORT_SYSCTL, "value": "0"}]
    labels = dict(spec.labels)
    labels.update(naming.labels)
    labels[ROLE_LABEL] = "target" if spec.target is not None else "probe"
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": spec.name,
            "namespace": naming.namespace(spec.namespace),
            "labels": labels,
        },
        "spec": {
            "containers": containers,
            "securityContext": pod_security,
            "automountServiceAccountToken": False,
            "enableServiceLinks": False,
            "terminationGracePeriodSeconds": 1,
            "restartPolicy": "Always",
        },
    }


def _serving_container(
    port: ContainerPort, options: KubernetesOptions, *, probes: bool
) -> dict[str, Any]:
    resources = options.probe_resources if probes else options.target_resources
    env: list[dict[str, str]] = []
    match port.protocol:
        case Protocol.TCP:
            args = ["serve-hostname", "--tcp", "--http=false", "--port", str(port.port)]
        case Protocol.UDP:
            args = ["serve-hostname", "--udp", "--http=false", "--port", str(port.port)]
        case Protocol.SCTP:
            args = ["porter"]
            env.append({"name": f"SERVE_SCTP_PORT_{port.port}", "value": SCTP_PAYLOAD})
    container = _container(container_name(port), args, options, resources)
    declared: dict[str, Any] = {"containerPort": port.port, "protocol": port.protocol.value}
    if port.name is not None:
        declared["name"] = port.name
    container["ports"] = [declared]
    if env:
        container["env"] = env
    return container


def _container(
    name: str, args: list[str], options: KubernetesOptions, resources: Resources
) -> dict[str, Any]:
    return {
        "name": name,
        "image": options.images.agnhost,
        "imagePullPolicy": options.images.pull_policy,
        "args": args,
        "resources": resources.manifest(),
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "runAsNonRoot": True,
            "capabilities": {"drop": ["ALL"]},
        },
    }


def service_manifest(service: Service, *, naming: RunNaming) -> dict[str, Any]:
    ports = []
    for port in service.ports:
        item: dict[str, Any] = {
            # The API requires names on multi-port Services; an unnamed port gets one.
            "name": port.name or f"{port.protocol.value.lower()}-{port.port}",
            "port": port.port,
            "targetPort": port.target_port,
            "protocol": port.protocol.value,
        }
        ports.append(item)
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {
            "name": service.name,
            "namespace": naming.namespace(service.namespace),
            "labels": dict(naming.labels),
        },
        "spec": {"type": "ClusterIP", "selector": dict(service.selector), "ports": ports},
    }
