"""Waiting for pods to become Ready, and saying why those that did not, did not.

A pod that is not Ready by the deadline is not an error of the run: its cells
become errors carrying the reason, and the rest of the run goes on. The reason
is read the way a person would with ``kubectl describe``: the pod's phase, its
unschedulable condition, each container's waiting or terminated reason and
message, then the pod's Warning events (image pulls, admission, quota).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from service.cluster.clock import Clock
from service.cluster.kubernetes.api import EVENTS, PODS, ForbiddenError, KubeApi
from service.errors import ClusterError
from service.policy.model import IPAddress

__all__ = ["PodReadiness", "describe_events", "describe_pod", "pod_ip", "wait_for_pods"]

MAX_EVENTS = 3


@dataclass(frozen=True, slots=True)
class PodReadiness:
    """Pods by (namespace, name): the Ready ones with their IP, the others with a reason."""

    ready: Mapping[tuple[str, str], IPAddress] = field(default_factory=dict)
    failed: Mapping[tuple[str, str], str] = field(default_factory=dict)


def pod_ip(pod: Mapping[str, Any]) -> IPAddress | None:
    """The pod's IP when it is Ready (every container ready), else None."""
    status = pod.get("status") or {}
    conditions = status.get("conditions") or []
    ready = any(
        c.get("type") == "Ready" and c.get("status") == "True"
        for c in conditions
        if isinstance(c, Mapping)
    )
    raw = status.get("podIP")
    if not ready or not isinstance(raw, str) or not raw:
        return None
    try:
        return ipaddress.ip_address(raw)
    except ValueError:
        return None


def describe_pod(pod: Mapping[str, Any] | None) -> str:
    """Why a pod is not Ready, from its status alone."""
    if pod is None:
        return "the pod does not exist (it was deleted or never created)"
    status = pod.get("status") or {}
    reasons = []
    for condition in status.get("conditions") or []:
        if not isinstance(condition, Mapping) or condition.get("status") == "True":
            continue
        if condition.get("type") == "PodScheduled":
            reasons.append(_reason(condition, "not scheduled"))
    for kind in ("initContainerStatuses", "containerStatuses"):
        for container in status.get(kind) or []:
            if not isinstance(container, Mapping) or container.get("ready"):
                continue
            state = container.get("state") or {}
            for phase in ("waiting", "terminated"):
                detail = state.get(phase)
                if isinstance(detail, Mapping):
                    reasons.append(
                        f"container {container.get('name', '?')} {phase}: " + _reason(detail, phase)
                    )
    if not reasons:
        phase = status.get("phase") or "unknown"
        reasons.append(f"phase {phase}, not Ready")
    return "; ".join(reasons)


def describe_events(events: Sequence[Mapping[str, Any]]) -> str:
    """The last few Warning events of a pod as ``reason: message``, oldest first."""
    warnings = [e for e in events if e.get("type") == "Warning"]
    warnings.sort(key=lambda e: str(e.get("lastTimestamp") or e.get("eventTime") or ""))
    seen: list[str] = []
    for event in warnings:
        text = _reason(event, "event")
        if text not in seen:
            seen.append(text)
    return "; ".join(seen[-MAX_EVENTS:])


def _reason(obj: Mapping[str, Any], default: str) -> str:
    reason = obj.get("reason") or default
    message = obj.get("message")
    return f"{reason}: {message}" if message else str(reason)


def wait_for_pods(
    api: KubeApi,
    *,
    wanted: Mapping[str, Sequence[str]],
    label_selector: str,
    clock: Clock,
    timeout_s: float,
    poll_s: float,
) -> PodReadiness:
    """Poll ``wanted`` (namespace -> pod names) until all are Ready or ``timeout_s`` passes."""
    pending = {(ns, name) for ns, names in wanted.items() for name in names}
    ready: dict[tuple[str, str], IPAddress] = {}
    last_seen: dict[tuple[str, str], Mapping[str, Any]] = {}
    deadline = clock.now() + timeout_s
    while True:
        for namespace in sorted({ns for ns, _ in pending}):
            for pod in api.list(PODS, namespace, label_selector=label_selector):
                key = (namespace, str((pod.get("metadata") or {}).get("name", "")))
                if key not in pending:
                    continue
                last_seen[key] = pod
                ip = pod_ip(pod)
                if ip is not None:
                    ready[key] = ip
                    pending.discard(key)
        if not pending or clock.now() >= deadline:
            break
        clock.sleep(min(poll_s, max(deadline - clock.now(), 0.0)))
    failed = {key: _diagnosis(api, key, last_seen.get(key), timeout_s) for key in sorted(pending)}
    return PodReadiness(ready=ready, failed=failed)


def _diagnosis(
    api: KubeApi, key: tuple[str, str], pod: Mapping[str, Any] | None, timeout_s: float
) -> str:
    namespace, name = key
    reason = f"pod {namespace}/{name} not Ready after {timeout_s:g} s: {describe_pod(pod)}"
    try:
        events = api.list(EVENTS, namespace, field_selector=f"involvedObject.name={name}")
    except ForbiddenError as err:
        return f"{reason} (events unreadable: {err})"
    except ClusterError as err:
        return f"{reason} (events unavailable: {err})"
    told = describe_events(events)
    return f"{reason}; events: {told}" if told else reason
