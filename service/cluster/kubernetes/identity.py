"""Which cluster a run ran on, and which Kubernetes and Calico versions it runs.

The cluster's id is the uid of its ``kube-system`` namespace (stable for the
cluster's life, the same from any kubeconfig). Calico's version is read from
the cluster, in order of trust:

1. the ``default`` ClusterInformation (``crd.projectcalico.org/v1``), whose
   ``spec.calicoVersion`` Calico itself writes;
2. the image tag of the ``calico-node`` DaemonSet in ``calico-system`` (operator
   installs) or ``kube-system`` (manifest installs, AKS).

When neither can be read (not installed, or not permitted) the version is
``unknown`` with the reason, which the run records as it is.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from service import __version__
from service.cluster.base import ClusterInfo
from service.cluster.kubernetes.api import (
    CLUSTER_INFORMATIONS,
    DAEMON_SETS,
    NAMESPACES,
    KubeApi,
)
from service.errors import ClusterError

__all__ = ["calico_version", "describe_cluster", "image_tag"]

log = logging.getLogger(__name__)

CALICO_NAMESPACES = ("calico-system", "kube-system")
CALICO_NODE = "calico-node"
UNKNOWN = "unknown"


def image_tag(image: str) -> str | None:
    """The tag of an image reference (``docker.io/calico/node:v3.29.1`` -> ``v3.29.1``)."""
    name = image.split("@", 1)[0]
    last = name.rsplit("/", 1)[-1]
    if ":" not in last:
        return None
    return last.rsplit(":", 1)[1] or None


def calico_version(api: KubeApi) -> tuple[str, str]:
    """(version, where it was read) or (``unknown``, why)."""
    why: list[str] = []
    try:
        info = api.read(CLUSTER_INFORMATIONS, "default")
    except ClusterError as err:
        info = None
        why.append(f"ClusterInformation: {err}")
    if info is not None:
        version = (info.get("spec") or {}).get("calicoVersion")
        if isinstance(version, str) and version:
            return version, "ClusterInformation default"
        why.append("ClusterInformation default has no calicoVersion")
    elif not why:
        why.append("no ClusterInformation default")
    for namespace in CALICO_NAMESPACES:
        try:
            daemon_set = api.read(DAEMON_SETS, CALICO_NODE, namespace)
        except ClusterError as err:
            why.append(f"{namespace}/{CALICO_NODE}: {err}")
            continue
        if daemon_set is None:
            continue
        tag = _calico_node_tag(daemon_set)
        if tag is not None:
            return tag, f"DaemonSet {namespace}/{CALICO_NODE}"
        why.append(f"{namespace}/{CALICO_NODE} has no tagged calico-node image")
    if len(why) == 1:
        why.append(f"no {CALICO_NODE} DaemonSet in {' or '.join(CALICO_NAMESPACES)}")
    return UNKNOWN, "; ".join(why)


def _calico_node_tag(daemon_set: Mapping[str, Any]) -> str | None:
    spec = ((daemon_set.get("spec") or {}).get("template") or {}).get("spec") or {}
    containers = [c for c in spec.get("containers") or [] if isinstance(c, Mapping)]
    for container in sorted(containers, key=lambda c: c.get("name") != CALICO_NODE):
        image = container.get("image")
        if isinstance(image, str):
            tag = image_tag(image)
            if tag is not None:
                return tag
    return None


def describe_cluster(api: KubeApi, *, target: str, server: str) -> ClusterInfo:
    """Backend, cluster identity (target, server, kube-system uid) and versions."""
    versions: list[tuple[str, str]] = []
    try:
        kubernetes = str(api.version().get("gitVersion") or UNKNOWN)
    except ClusterError as err:
        log.warning("cannot read the Kubernetes version: %s", err)
        kubernetes = UNKNOWN
    versions.append(("kubernetes", kubernetes))
    calico, where = calico_version(api)
    log.info("Calico version %s (%s)", calico, where)
    versions.append(("calico", calico))
    versions.append(("netpol-drift", __version__))
    try:
        kube_system = api.read(NAMESPACES, "kube-system")
    except ClusterError as err:
        log.warning("cannot read the kube-system namespace for the cluster id: %s", err)
        kube_system = None
    uid = str(((kube_system or {}).get("metadata") or {}).get("uid") or UNKNOWN)
    return ClusterInfo(
        backend="kubernetes",
        cluster=f"{target} ({server}, cluster id {uid})",
        versions=tuple(versions),
    )
