"""A run's namespaces, Services and pods: created under its ownership labels, or adopted.

Each of the scenario's namespaces becomes a run namespace (:mod:`.naming`),
created on first use with the run's expiry. An object already in the way is
used only when it carries this run's ownership labels (another process of the
same run made it); anything else is refused with an error saying so, since
netpol-drift only touches objects it created.

Services and pods live in the run's namespaces, so teardown deletes the
namespaces alone, newest first, and never raises: what it could not delete is
returned for the report, and the janitor removes it once it expires.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from service.cluster.kubernetes.api import (
    NAMESPACES,
    PODS,
    SERVICES,
    ConflictError,
    InvalidObjectError,
    Kind,
    KubeApi,
    RefusedError,
)
from service.cluster.kubernetes.manifests import namespace_manifest, pod_manifest, service_manifest
from service.cluster.kubernetes.naming import RUN_LABEL, RunNaming
from service.cluster.kubernetes.options import KubernetesOptions
from service.errors import ClusterError
from service.policy.model import Namespace, Service
from service.scenario.plan import PodSpec

__all__ = ["RunObjects", "require_owned"]

log = logging.getLogger(__name__)


def require_owned(naming: RunNaming, obj: Mapping[str, Any], what: str) -> None:
    """Refuse (ClusterError) to change ``obj`` unless it carries this run's ownership labels."""
    if not naming.owns(obj):
        raise ClusterError(
            f"refusing to touch {what}: it does not carry this run's ownership label "
            f"{RUN_LABEL}={naming.run_id}"
        )


class RunObjects:
    """The namespaces and Services of one run, as far as this process created them."""

    def __init__(self, api: KubeApi, naming: RunNaming, options: KubernetesOptions) -> None:
        self.api = api
        self.naming = naming
        self.options = options
        # The expiry stamped on namespaces created from now on (set when the run is set up).
        self.expires = ""
        # original namespace -> (run namespace, uid), in creation order
        self.namespaces: dict[str, tuple[str, str]] = {}
        # (original namespace, name) -> ClusterIP, for Services that have one
        self.service_ips: dict[tuple[str, str], str] = {}

    def namespace(self, namespace: Namespace) -> str:
        """The run's namespace for ``namespace``, created (owned) on first use."""
        known = self.namespaces.get(namespace.name)
        if known is not None:
            return known[0]
        body = namespace_manifest(namespace, naming=self.naming, expires_at=self.expires)
        real = str(body["metadata"]["name"])
        try:
            created = self.api.create(NAMESPACES, body)
        except ConflictError as err:
            existing = self.api.read(NAMESPACES, real)
            if existing is None or not self.naming.owns(existing):
                raise ClusterError(
                    f"refusing to use namespace {real}: it already exists without this run's "
                    f"ownership label {RUN_LABEL}={self.naming.run_id}; netpol-drift only "
                    f"touches objects it created"
                ) from err
            created = existing
        uid = str((created.get("metadata") or {}).get("uid") or "")
        self.namespaces[namespace.name] = (real, uid)
        return real

    def create_service(self, service: Service) -> None:
        """Create ``service``; one the cluster refuses only costs the probes through it."""
        body = service_manifest(service, naming=self.naming)
        try:
            created = self._create_or_adopt(SERVICES, body)
        except (RefusedError, InvalidObjectError, ConflictError) as err:
            log.warning("Service %s/%s not created: %s", service.namespace, service.name, err)
            return
        cluster_ip = (created.get("spec") or {}).get("clusterIP")
        if isinstance(cluster_ip, str) and cluster_ip and cluster_ip != "None":
            self.service_ips[(service.namespace, service.name)] = cluster_ip

    def create_pod(self, spec: PodSpec) -> str:
        """Create the pod of ``spec``: "" when it exists now, else why it could not be made."""
        body = pod_manifest(spec, naming=self.naming, options=self.options)
        try:
            self._create_or_adopt(PODS, body)
        except (RefusedError, InvalidObjectError, ConflictError) as err:
            # Quota, admission or validation refused this pod: its cells are errors.
            return f"pod {spec.ref} could not be created: {err}"
        return ""

    def delete_namespaces(self) -> list[str]:
        """Delete the run's namespaces, newest first; what stayed, and why. Never raises."""
        leftovers = []
        for original, (real, uid) in reversed(list(self.namespaces.items())):
            try:
                existing = self.api.read(NAMESPACES, real)
                if existing is None:
                    continue
                if not self.naming.owns(existing):
                    raise ClusterError(f"namespace {real} no longer carries this run's labels")
                self.api.delete(NAMESPACES, real, uid=uid or None)
            except ClusterError as err:
                log.warning("teardown left namespace %s (for %s): %s", real, original, err)
                leftovers.append(f"{real}: {err}")
        return leftovers

    def forget(self) -> None:
        """Drop what this process knows of the run's objects, leaving the cluster as it is."""
        self.namespaces.clear()
        self.service_ips.clear()

    def _create_or_adopt(self, kind: Kind, body: dict[str, Any]) -> dict[str, Any]:
        """Create ``body``; if it exists already and is this run's (another process of the
        same run made it), use it as it is. Anything else in the way is a conflict."""
        try:
            return self.api.create(kind, body)
        except ConflictError:
            meta = body["metadata"]
            existing = self.api.read(kind, meta["name"], meta.get("namespace"))
            if existing is None or not self.naming.owns(existing):
                raise
            return existing
