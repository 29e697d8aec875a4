"""What a scheduler and a kubelet would write about a pod: its status over time, events.

A pod is scheduled on the one fake node and becomes Ready ``ready_delay_s``
after it was created (``_fake.ready_delay`` overrides that for one pod), unless
a fault of :class:`~.behaviour.Behaviour` keeps it Pending: unschedulable
(a PodScheduled=False condition) or an image that cannot be pulled
(ImagePullBackOff), each with the Warning events the backend reads to say why.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from tests.cluster.kubernetes.fakeapi.behaviour import Behaviour

__all__ = ["NODE", "NODE_IP", "event", "now_text", "pod_status", "scheduling_events"]

Obj = dict[str, Any]

NODE = "fake-node-1"
NODE_IP = "192.168.0.2"
_UNSCHEDULABLE = "0/3 nodes are available: 3 Insufficient cpu."


def now_text() -> str:
    """Now, as the API server writes timestamps (RFC 3339, whole seconds)."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def scheduling_events(
    pod: Obj, *, namespace: str, name: str, behaviour: Behaviour
) -> list[tuple[str, str, str]]:
    """The events a new pod gets at once, as (type, reason, message)."""
    events = [("Normal", "Scheduled", f"Successfully assigned {namespace}/{name} to {NODE}")]
    if name in behaviour.unschedulable:
        events.append(("Warning", "FailedScheduling", _UNSCHEDULABLE))
    elif name in behaviour.image_pull_failures:
        image = pod["spec"]["containers"][0].get("image", "")
        events += [
            (
                "Warning",
                "Failed",
                f'Failed to pull image "{image}": rpc error: code = NotFound desc = failed to '
                f'pull and unpack image "{image}": not found',
            ),
            ("Warning", "Failed", "Error: ErrImagePull"),
            ("Normal", "BackOff", f'Back-off pulling image "{image}"'),
        ]
    return events


def event(
    namespace: str, pod: str, kind: str, reason: str, message: str, *, resource_version: str
) -> Obj:
    """A v1 Event about ``pod`` (its name is the pod's, made unique)."""
    return {
        "kind": "Event",
        "apiVersion": "v1",
        "metadata": {
            "name": f"{pod}.{uuid.uuid4().hex[:12]}",
            "namespace": namespace,
            "uid": str(uuid.uuid4()),
            "resourceVersion": resource_version,
        },
        "involvedObject": {"kind": "Pod", "name": pod, "namespace": namespace},
        "type": kind,
        "reason": reason,
        "message": message,
        "count": 1,
        "lastTimestamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
    }


def pod_status(pod: Obj, fake: Mapping[str, Any], *, behaviour: Behaviour, age_s: float) -> Obj:
    """The status of ``pod`` ``age_s`` after it was created; ``fake`` is its kubelet side."""
    name = pod["metadata"]["name"]
    containers = [c["name"] for c in pod["spec"]["containers"]]
    if name in behaviour.unschedulable:
        return {
            "phase": "Pending",
            "conditions": [
                {
                    "type": "PodScheduled",
                    "status": "False",
                    "reason": "Unschedulable",
                    "message": _UNSCHEDULABLE,
                }
            ],
        }
    if name in behaviour.image_pull_failures:
        image = pod["spec"]["containers"][0].get("image", "")
        waiting = {
            "reason": "ImagePullBackOff",
            "message": f'Back-off pulling image "{image}"',
        }
        return {
            "phase": "Pending",
            "hostIP": NODE_IP,
            "podIP": fake["ip"],
            "conditions": [
                {"type": "PodScheduled", "status": "True"},
                {"type": "Ready", "status": "False", "reason": "ContainersNotReady"},
            ],
            "containerStatuses": [
                _container_status(pod, c, ready=False, state={"waiting": dict(waiting)})
                for c in containers
            ],
        }
    if age_s < fake.get("ready_delay", behaviour.ready_delay_s):
        return {
            "phase": "Pending",
            "conditions": [{"type": "PodScheduled", "status": "True"}],
            "containerStatuses": [
                _container_status(
                    pod, c, ready=False, state={"waiting": {"reason": "ContainerCreating"}}
                )
                for c in containers
            ],
        }
    return {
        "phase": "Running",
        "hostIP": NODE_IP,
        "podIP": fake["ip"],
        "podIPs": [{"ip": fake["ip"]}],
        "conditions": [
            {"type": "PodScheduled", "status": "True"},
            {"type": "Initialized", "status": "True"},
            {"type": "ContainersReady", "status": "True"},
            {"type": "Ready", "status": "True"},
        ],
        "containerStatuses": [
            _container_status(pod, c, ready=True, state={"running": {"startedAt": now_text()}})
            for c in containers
        ],
    }


def _container_status(pod: Obj, name: str, *, ready: bool, state: Obj) -> Obj:
    image = next(c.get("image", "") for c in pod["spec"]["containers"] if c["name"] == name)
    return {
        "name": name,
        "ready": ready,
        "state": state,
        "image": image,
        "imageID": "" if not ready else f"{image}@sha256:{'0' * 64}",
        "restartCount": 0,
        "started": ready,
    }
