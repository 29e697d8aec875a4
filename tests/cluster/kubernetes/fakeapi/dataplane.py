"""The fake's network: answers a connection attempt from the engine.

The engine (:class:`~service.policy.evaluate.Evaluator`) sees the cluster as
the API server holds it: the run's real namespaces with their labels
(``kubernetes.io/metadata.name`` included), the pods with their labels,
container ports and IPs, and the NetworkPolicies, Calico objects and admin
policies exactly as they were applied, parsed back from what the backend sent
(with a Calico object present, the engine evaluates Calico's tiered model). So
when the backend rewrites a policy wrongly, the fake answers what the wrong
policy does, and the run reports a regression: these answers are never
computed from the scenario's own view.

What a connection to ``host:port`` does, as on Calico:

- a Service name resolves to its ClusterIP if the source may reach kube-dns
  on UDP 53 (else a DNS error after ``dns_timeout_s``); unknown names fail;
- a ClusterIP is DNAT'ed to the first Ready endpoint (by name) whose container
  port matches the Service's targetPort; no endpoint: refused;
- unknown IPs time out; a policy drop times out after the probe's timeout;
- allowed but nothing listening: refused; else connected.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from service.errors import InvalidInput
from service.policy.calico.parse import parse_calico_entry
from service.policy.evaluate import Evaluator
from service.policy.model import (
    ClusterState,
    ContainerPort,
    Labels,
    Namespace,
    NetworkPolicy,
    Pod,
    Protocol,
)
from service.policy.parse import parse_network_policy
from tests.cluster.kubernetes.fakeapi import chaos
from tests.cluster.kubernetes.fakeapi.store import KUBE_DNS_IP, Store

__all__ = ["Answer", "Dataplane"]


@dataclass(frozen=True, slots=True)
class Answer:
    """What ``agnhost connect`` would do: exit code, its message, and how long it took."""

    exit_code: int
    message: str
    seconds: float


@dataclass(frozen=True, slots=True)
class _Service:
    namespace: str
    name: str
    ip: str
    selector: Labels
    ports: tuple[tuple[int, int | str, Protocol], ...]


@dataclass(frozen=True, slots=True)
class _View:
    evaluator: Evaluator
    pods_by_ip: Mapping[str, Pod]
    pods_by_ref: Mapping[str, Pod]
    services_by_ip: Mapping[str, _Service]
    services_by_name: Mapping[str, _Service]


class Dataplane:
    def __init__(self, store: Store) -> None:
        self.store = store
        self._cache: dict[tuple[int, int], _View] = {}

    def _view(self, at: float) -> _View:
        index, policies = self.store.policies_in_force(at)
        key = (self.store.topology, index)
        view = self._cache.get(key)
        if view is None:
            view = self._cache[key] = self._build(policies)
        return view

    def _build(self, policy_objects: tuple[dict[str, Any], ...]) -> _View:
        namespaces = tuple(
            Namespace(o["metadata"]["name"], Labels(o["metadata"].get("labels") or {}))
            for o in self.store.all("namespaces")
        )
        pods = []
        for obj in self.store.all("pods"):
            meta = obj["metadata"]
            status = obj.get("status") or {}
            raw_ip = status.get("podIP")
            if not raw_ip or status.get("phase") != "Running":
                continue
            ports = tuple(
                ContainerPort(p["containerPort"], Protocol(p.get("protocol", "TCP")), p.get("name"))
                for c in obj["spec"]["containers"]
                for p in c.get("ports") or []
            )
            pods.append(
                Pod(
                    namespace=meta["namespace"],
                    name=meta["name"],
                    labels=Labels(meta.get("labels") or {}),
                    ports=ports,
                    ip=ipaddress.ip_address(raw_ip),
                )
            )
        policies: list[NetworkPolicy] = []
        for obj in policy_objects:
            try:
                if obj.get("apiVersion") == "networking.k8s.io/v1":
                    policies.append(parse_network_policy(obj))
                else:  # Calico's and the admin policies, as stored: the engine decides
                    policies.append(parse_calico_entry(obj))
            except InvalidInput as err:  # pragma: no cover - admission validated it
                raise AssertionError(f"the fake admitted an invalid policy: {err}") from err
        state = ClusterState(namespaces=namespaces, pods=tuple(pods), policies=tuple(policies))
        services = []
        for obj in self.store.all("services"):
            spec = obj["spec"]
            services.append(
                _Service(
                    namespace=obj["metadata"]["namespace"],
                    name=obj["metadata"]["name"],
                    ip=spec["clusterIP"],
                    selector=Labels(spec.get("selector") or {}),
                    ports=tuple(
                        (
                            p["port"],
                            p.get("targetPort", p["port"]),
                            Protocol(p.get("protocol", "TCP")),
                        )
                        for p in spec["ports"]
                    ),
                )
            )
        return _View(
            evaluator=Evaluator(state),
            pods_by_ip={str(p.ip): p for p in pods},
            pods_by_ref={p.ref: p for p in pods},
            services_by_ip={s.ip: s for s in services},
            services_by_name={f"{s.name}.{s.namespace}.svc.cluster.local": s for s in services},
        )

    def connect(
        self, *, source: str, dest: str, protocol: Protocol, timeout_s: float, at: float
    ) -> Answer:
        """One ``agnhost connect dest --protocol ... --timeout ...`` from pod ``source``."""
        behaviour = self.store.behaviour
        view = self._view(at)
        src = view.pods_by_ref.get(source)
        if src is None:
            return Answer(1, "OTHER: the source pod has no network (not Running)", 0.0)
        host, _, port_text = dest.rpartition(":")
        host = host.strip("[]")
        try:
            port = int(port_text)
        except ValueError:
            return Answer(1, f"UNKNOWN: address {dest}: missing port in address", 0.0)
        try:
            ipaddress.ip_address(host)
        except ValueError:
            service = view.services_by_name.get(host.rstrip("."))
            dns = view.pods_by_ip.get(_kube_dns_pod_ip(view))
            if dns is None or not view.evaluator.is_allowed(
                src, dns, port=53, protocol=Protocol.UDP
            ):
                return Answer(
                    1,
                    f"DNS: lookup {host} on {KUBE_DNS_IP}:53: read udp: i/o timeout",
                    behaviour.dns_timeout_s,
                )
            if service is None:
                return Answer(1, f"DNS: lookup {host} on {KUBE_DNS_IP}:53: no such host", 0.001)
            host = service.ip
        latency = behaviour.connect_latency_s
        dst = view.pods_by_ip.get(host)
        if dst is None and host in view.services_by_ip:
            found = self._endpoint(view, view.services_by_ip[host], port, protocol)
            if found is None:
                return Answer(1, f"REFUSED: dial {dest}: no endpoints", latency)
            dst, port = found
        if dst is None:
            return Answer(1, "TIMEOUT", timeout_s)
        if not chaos.allowed(
            self.store, view.evaluator, src, dst, port=port, protocol=protocol, at=at
        ):
            return Answer(1, "TIMEOUT", timeout_s)
        if not any(p.port == port and p.protocol is protocol for p in dst.ports):
            return Answer(
                1, f"REFUSED: dial {protocol.value.lower()} {dest}: connection refused", latency
            )
        return Answer(0, "", latency)

    @staticmethod
    def _endpoint(
        view: _View, service: _Service, port: int, protocol: Protocol
    ) -> tuple[Pod, int] | None:
        for svc_port, target, proto in service.ports:
            if svc_port != port or proto is not protocol:
                continue
            for pod in sorted(view.pods_by_ref.values(), key=lambda p: p.ref):
                if pod.namespace != service.namespace or not service.selector:
                    continue
                if any(pod.labels.get(k) != v for k, v in service.selector.items()):
                    continue
                if isinstance(target, int):
                    return pod, target
                number = pod.named_port(target, protocol)
                if number is not None:
                    return pod, number
        return None


def _kube_dns_pod_ip(view: _View) -> str:
    service = view.services_by_ip.get(KUBE_DNS_IP)
    if service is None:
        return ""
    for pod in view.pods_by_ref.values():
        if pod.namespace == service.namespace and all(
            pod.labels.get(k) == v for k, v in service.selector.items()
        ):
            return str(pod.ip)
    return ""
