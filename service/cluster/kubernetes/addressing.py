"""How a probe addresses its target: pod IP, Service IP or Service name.

Policies see the backend pod's IP after the Service's DNAT, so every mode tests
the same policy decision; they differ in what else is on the path (kube-proxy
or Calico's eBPF NAT, and DNS for names). A Service is used for a target only
when it is unambiguous: it selects this target pod and no other pod of the
run's namespace, and one of its ports leads to the probed port and protocol.
Otherwise the target is probed by pod IP and the result says so.

Service names are fully qualified (``backend.<ns>.svc.<cluster domain>``), so
resolution does not depend on the probing pod's search path. Resolving them
needs egress to DNS from the probing pod: a default-deny egress policy turns
every by-name probe into ``dns-error``. Probe by IP in that case, or allow
UDP and TCP 53 to kube-dns in the scenario's policies.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from service.cluster.base import ProbeRequest
from service.cluster.kubernetes.naming import RunNaming
from service.cluster.kubernetes.options import ProbeMode
from service.policy.model import IPAddress, Service
from service.scenario.plan import Layout, PodSpec

__all__ = ["Address", "Addresser"]


@dataclass(frozen=True, slots=True)
class Address:
    host: str
    port: int
    note: str = ""


class Addresser:
    """Turns a probe request into the host and port agnhost connects to."""

    def __init__(
        self,
        *,
        layout: Layout,
        naming: RunNaming,
        mode: ProbeMode,
        cluster_domain: str,
        pod_ips: Mapping[str, IPAddress],
        service_ips: Mapping[tuple[str, str], str],
    ) -> None:
        self._layout = layout
        self._pods = {p.ref: p for p in layout.pods}
        self._naming = naming
        self._mode = mode
        self._domain = cluster_domain.strip(".")
        self._pod_ips = pod_ips
        self._service_ips = service_ips

    def address(self, request: ProbeRequest) -> Address | None:
        """Where to connect for ``request``; None when the target has no IP to probe."""
        ip = self._pod_ips.get(request.target_pod)
        if self._mode is not ProbeMode.POD_IP:
            found, why = self._through_service(request)
            if found is not None:
                return found
            if ip is not None:
                return Address(str(ip), request.port, f"probed by pod IP: {why}")
            return None
        return Address(str(ip), request.port) if ip is not None else None

    def _through_service(self, request: ProbeRequest) -> tuple[Address | None, str]:
        target = self._pods.get(request.target_pod)
        if target is None:
            return None, f"{request.target_pod} is not in the layout"
        for service in self._layout.services:
            if service.namespace != target.namespace or not _selects(service, target):
                continue
            port = _service_port(service, target, request)
            if port is None:
                continue
            if self._ambiguous(service, target):
                return None, (f"Service {service.namespace}/{service.name} also selects other pods")
            real_ns = self._naming.namespace(service.namespace)
            if self._mode is ProbeMode.SERVICE_NAME:
                return Address(f"{service.name}.{real_ns}.svc.{self._domain}", port), ""
            cluster_ip = self._service_ips.get((service.namespace, service.name))
            if not cluster_ip:
                return None, f"Service {service.namespace}/{service.name} has no ClusterIP"
            return Address(cluster_ip, port), ""
        return None, (
            f"no Service fronts {request.target_pod} on {request.port}/{request.protocol}"
        )

    def _ambiguous(self, service: Service, target: PodSpec) -> bool:
        return any(
            p.namespace == service.namespace and p.ref != target.ref and _selects(service, p)
            for p in self._layout.pods
        )


def _selects(service: Service, pod: PodSpec) -> bool:
    return bool(service.selector) and all(
        pod.labels.get(k) == v for k, v in service.selector.items()
    )


def _service_port(service: Service, target: PodSpec, request: ProbeRequest) -> int | None:
    for port in service.ports:
        if port.protocol is not request.protocol:
            continue
        if isinstance(port.target_port, int):
            if port.target_port == request.port:
                return port.port
            continue
        for container_port in target.ports:
            if (
                container_port.name == port.target_port
                and container_port.protocol is request.protocol
                and container_port.port == request.port
            ):
                return port.port
    return None
