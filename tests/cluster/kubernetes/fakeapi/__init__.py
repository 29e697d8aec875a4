"""A protocol-level fake Kubernetes API server whose pods answer probes from the engine.

:class:`FakeApiServer` serves namespaces, pods, Services, events, NetworkPolicies,
a calico-node DaemonSet and Calico's ClusterInformation over real HTTP on
127.0.0.1, and exec over a hand-written WebSocket (v4.channel.k8s.io). Its
:class:`Behaviour` sets latencies and faults.
"""

from tests.cluster.kubernetes.fakeapi.behaviour import (
    Behaviour,
    ExecFault,
    ExecFaultMode,
    Forbid,
    Grant,
)
from tests.cluster.kubernetes.fakeapi.server import Call, ExecCall, FakeApiServer

__all__ = [
    "Behaviour",
    "Call",
    "ExecCall",
    "ExecFault",
    "ExecFaultMode",
    "FakeApiServer",
    "Forbid",
    "Grant",
]
