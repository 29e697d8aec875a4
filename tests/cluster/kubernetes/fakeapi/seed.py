"""What every fake cluster has before a run: system namespaces, DNS, Calico.

Objects come as (resource, (namespace, name), object), numbered by the
store's resourceVersion counter in the order given. The calico-node pods are
:mod:`.chaos`'s (they take part in its experiments).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

from service.policy.model import NAMESPACE_NAME_LABEL
from tests.cluster.kubernetes.fakeapi import calico
from tests.cluster.kubernetes.fakeapi.behaviour import Behaviour

__all__ = [
    "KUBE_DNS_IP",
    "KUBE_DNS_POD_IP",
    "KUBE_SYSTEM_UID",
    "calico_system",
    "kubernetes_system",
]

Obj = dict[str, Any]
Seeded = tuple[str, tuple[str, str], Obj]

KUBE_DNS_IP = "10.96.0.10"
KUBE_DNS_POD_IP = "10.244.255.10"
KUBE_SYSTEM_UID = "5f0c3c2e-0000-4000-8000-00000000c1d0"
SYSTEM_NAMESPACES = ("default", "kube-system", "kube-public", "calico-system")


def kubernetes_system(
    behaviour: Behaviour, next_rv: Callable[[], str], *, created: str
) -> Iterator[Seeded]:
    """The system namespaces (kube-system's uid is the cluster's id) and cluster DNS."""
    for name in SYSTEM_NAMESPACES:
        yield (
            "namespaces",
            ("", name),
            {
                "kind": "Namespace",
                "apiVersion": "v1",
                "metadata": {
                    "name": name,
                    "uid": (
                        behaviour.cluster_uid or KUBE_SYSTEM_UID
                        if name == "kube-system"
                        else str(uuid.uuid4())
                    ),
                    "resourceVersion": next_rv(),
                    "creationTimestamp": created,
                    "labels": {NAMESPACE_NAME_LABEL: name},
                },
                "status": {"phase": "Active"},
            },
        )
    yield (
        "pods",
        ("kube-system", "coredns-0"),
        {
            "kind": "Pod",
            "apiVersion": "v1",
            "metadata": {
                "name": "coredns-0",
                "namespace": "kube-system",
                "uid": str(uuid.uuid4()),
                "resourceVersion": next_rv(),
                "labels": {"k8s-app": "kube-dns"},
            },
            "spec": {
                "containers": [
                    {
                        "name": "coredns",
                        "image": "registry.k8s.io/coredns/coredns:v1.11.1",
                        "ports": [
                            {"containerPort": 53, "protocol": "UDP", "name": "dns"},
                            {"containerPort": 53, "protocol": "TCP", "name": "dns-tcp"},
                        ],
                    }
                ]
            },
            "_fake": {"ip": KUBE_DNS_POD_IP},
        },
    )
    yield (
        "services",
        ("kube-system", "kube-dns"),
        {
            "kind": "Service",
            "apiVersion": "v1",
            "metadata": {
                "name": "kube-dns",
                "namespace": "kube-system",
                "uid": str(uuid.uuid4()),
                "resourceVersion": next_rv(),
            },
            "spec": {
                "clusterIP": KUBE_DNS_IP,
                "selector": {"k8s-app": "kube-dns"},
                "ports": [
                    {"name": "dns", "port": 53, "targetPort": 53, "protocol": "UDP"},
                    {"name": "dns-tcp", "port": 53, "targetPort": 53, "protocol": "TCP"},
                ],
            },
        },
    )


def calico_system(behaviour: Behaviour, next_rv: Callable[[], str]) -> Iterator[Seeded]:
    """Calico as the backend's identity check sees it (the calico-node DaemonSet's image,
    ClusterInformation), and the built-in tiers."""
    if behaviour.calico_node_image is not None:
        yield (
            "daemonsets",
            ("calico-system", "calico-node"),
            {
                "kind": "DaemonSet",
                "apiVersion": "apps/v1",
                "metadata": {
                    "name": "calico-node",
                    "namespace": "calico-system",
                    "uid": str(uuid.uuid4()),
                    "resourceVersion": next_rv(),
                },
                "spec": {
                    "template": {
                        "spec": {
                            "containers": [
                                {"name": "calico-node", "image": behaviour.calico_node_image}
                            ]
                        }
                    }
                },
            },
        )
    for name, tier in calico.builtin_tiers(next_rv):
        yield calico.TIERS, ("", name), tier
    if behaviour.calico_version is not None:
        yield (
            "clusterinformations",
            ("", "default"),
            {
                "kind": "ClusterInformation",
                "apiVersion": "crd.projectcalico.org/v1",
                "metadata": {
                    "name": "default",
                    "uid": str(uuid.uuid4()),
                    "resourceVersion": next_rv(),
                },
                "spec": {
                    "calicoVersion": behaviour.calico_version,
                    "clusterType": "k8s,bgp,kubeadm,kdd",
                    "datastoreReady": True,
                },
            },
        )
