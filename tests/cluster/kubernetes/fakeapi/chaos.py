"""What the fake does for chaos experiments: calico-node pods, and new pods not isolated yet.

- ``Behaviour.calico_nodes`` calico-node pods live in calico-system, labelled
  ``k8s-app=calico-node`` and owned by the calico-node DaemonSet. Deleting one
  makes the "DaemonSet controller" create a replacement under a new name, Ready
  ``Behaviour.calico_restart_s`` later.
- A pod created through the API is not isolated by any policy until
  ``Behaviour.isolation_delay_s`` after it became Ready (the window Calico can
  leave between a pod starting and its policy being programmed): its side of a
  connection lets everything through until then.

The store and the dataplane call in here; nothing else does.
"""

from __future__ import annotations

import secrets
import uuid
from typing import TYPE_CHECKING, Any

from service.policy.evaluate import Evaluator
from service.policy.model import Pod, Protocol

if TYPE_CHECKING:
    from tests.cluster.kubernetes.fakeapi.store import Store

__all__ = ["CALICO_NAMESPACE", "allowed", "on_pod_delete", "seed_calico_nodes"]

CALICO_NAMESPACE = "calico-system"
CALICO_LABELS = {"k8s-app": "calico-node"}
DAEMON_SET_UID = "7c0d1f2e-0000-4000-8000-0000ca11c0de"


def _calico_pod(store: Store, name: str, *, ready_delay: float) -> dict[str, Any]:
    n = secrets.randbelow(200) + 2
    return {
        "kind": "Pod",
        "apiVersion": "v1",
        "metadata": {
            "name": name,
            "namespace": CALICO_NAMESPACE,
            "uid": str(uuid.uuid4()),
            "resourceVersion": store._next_rv(),
            "labels": dict(CALICO_LABELS),
            "ownerReferences": [
                {
                    "apiVersion": "apps/v1",
                    "kind": "DaemonSet",
                    "name": "calico-node",
                    "uid": DAEMON_SET_UID,
                    "controller": True,
                }
            ],
        },
        "spec": {
            "nodeName": "fake-node-1",
            "hostNetwork": True,
            "containers": [{"name": "calico-node", "image": "docker.io/calico/node:v3.29.1"}],
        },
        "_fake": {"ip": f"192.168.0.{n}", "ready_delay": ready_delay},
    }


def seed_calico_nodes(store: Store) -> None:
    """The calico-node pods a cluster has before any run (Ready at once)."""
    for i in range(store.behaviour.calico_nodes):
        name = f"calico-node-{i:05d}"
        store._objects["pods"][(CALICO_NAMESPACE, name)] = _calico_pod(store, name, ready_delay=0)


def on_pod_delete(store: Store, pod: dict[str, Any]) -> None:
    """A calico-node pod deleted: its DaemonSet creates another one at once."""
    meta = pod["metadata"]
    if meta.get("namespace") != CALICO_NAMESPACE or meta.get("labels") != CALICO_LABELS:
        return
    name = f"calico-node-{secrets.token_hex(3)}"
    delay = store.behaviour.calico_restart_s
    store._objects["pods"][(CALICO_NAMESPACE, name)] = _calico_pod(store, name, ready_delay=delay)
    store._born[("pods", CALICO_NAMESPACE, name)] = store.clock()


def _unisolated(store: Store, pod: Pod, at: float) -> bool:
    delay = store.behaviour.isolation_delay_s
    born = store._born.get(("pods", pod.namespace, pod.name))
    return delay > 0 and born is not None and at < born + store.behaviour.ready_delay_s + delay


def allowed(
    store: Store,
    evaluator: Evaluator,
    src: Pod,
    dst: Pod,
    *,
    port: int,
    protocol: Protocol,
    at: float,
) -> bool:
    """The engine's verdict, with the side of a pod not isolated yet letting everything through."""
    open_src, open_dst = _unisolated(store, src, at), _unisolated(store, dst, at)
    if not (open_src or open_dst):
        return evaluator.is_allowed(src, dst, port=port, protocol=protocol)
    explanation = evaluator.explain(src, dst, port=port, protocol=protocol)
    egress = explanation.egress.allowed or open_src
    ingress = explanation.ingress.allowed or open_dst
    return explanation.loopback or (egress and ingress)
