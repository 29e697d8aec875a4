"""Perturbations on a real cluster, for chaos experiments: relabel, recreate, restart.

:class:`KubernetesChaosCluster` is a :class:`~.cluster.KubernetesCluster` that
can also change a laid-out run while it is probed:

- relabel one of the run's namespaces or pods (a read, then a replace carrying
  the object's resourceVersion, so a concurrent change is a conflict, not lost);
  the ownership labels are kept and may not be set by a step;
- delete target pods and create them again under the same names (new IPs),
  returning as soon as they are Ready, so the experiment probes them from that
  moment, before their isolation may be programmed;
- restart calico-node: delete every calico-node pod (``k8s-app=calico-node`` in
  calico-system, else kube-system) that its DaemonSet owns, and return at once;
  :meth:`calico_ready` says when the replacements are Ready.

Ownership still rules: only objects carrying this run's ownership labels are
relabelled, deleted or re-created. Restarting calico-node is the one exception
(its pods are Calico's), so it needs the operator's explicit opt-in
(``allow_calico_restart``) and a separate RBAC role (deploy/rbac-calico-restart.yaml);
without either it refuses with an error saying so.
"""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from service.cluster.base import Perturbation
from service.cluster.clock import Clock
from service.cluster.kubernetes.addressing import Addresser
from service.cluster.kubernetes.api import NAMESPACES, PODS, ConflictError, ForbiddenError, Kind
from service.cluster.kubernetes.cluster import KubernetesCluster
from service.cluster.kubernetes.config import ClusterTarget, Connection
from service.cluster.kubernetes.identity import CALICO_NAMESPACES, CALICO_NODE
from service.cluster.kubernetes.manifests import pod_manifest
from service.cluster.kubernetes.naming import ROLE_LABEL
from service.cluster.kubernetes.options import KubernetesOptions
from service.cluster.kubernetes.policies import labels_problems
from service.cluster.kubernetes.readiness import pod_ip, wait_for_pods
from service.errors import ClusterError, FieldPath, InvalidInput
from service.policy.model import NAMESPACE_NAME_LABEL, IPAddress, Labels
from service.scenario.plan import Layout

__all__ = ["CALICO_NODE_SELECTOR", "KubernetesChaosCluster"]

CALICO_NODE_SELECTOR = "k8s-app=calico-node"


CHAOS_RBAC = "deploy/rbac-chaos.yaml"
CALICO_RBAC = "deploy/rbac-calico-restart.yaml"


@contextlib.contextmanager
def _rbac_hint(grants: str) -> Iterator[None]:
    """A 403 names the missing permission; say which of our files grants it."""
    try:
        yield
    except ForbiddenError as err:
        raise ForbiddenError(f"{err}; for chaos steps, {grants} grants it") from err


@dataclass(frozen=True, slots=True)
class _Restart:
    namespace: str
    deleted: frozenset[str]
    count: int


class KubernetesChaosCluster(KubernetesCluster):
    """A Kubernetes run that can also be perturbed; see the module docstring."""

    def __init__(
        self,
        *,
        target: ClusterTarget | None = None,
        connection: Connection | None = None,
        options: KubernetesOptions | None = None,
        clock: Clock | None = None,
        allow_calico_restart: bool = False,
    ) -> None:
        super().__init__(target=target, connection=connection, options=options, clock=clock)
        self.allow_calico_restart = allow_calico_restart
        self._ips: dict[str, IPAddress] = {}
        self._restart: _Restart | None = None

    @property
    def supported_perturbations(self) -> frozenset[Perturbation]:
        return frozenset(Perturbation)

    def set_up(self, *, layout: Layout) -> Mapping[str, IPAddress]:
        addresses = super().set_up(layout=layout)
        self._ips = dict(addresses)
        return addresses

    # --- labels ------------------------------------------------------------------------

    def set_namespace_labels(self, *, namespace: str, labels: Labels) -> None:
        with _rbac_hint(CHAOS_RBAC):
            self._set_namespace_labels(namespace, labels)

    def _set_namespace_labels(self, namespace: str, labels: Labels) -> None:
        layout = self._require_layout()
        InvalidInput.collect(labels_problems(labels, FieldPath(("namespaces", namespace))))
        known = self._namespaces.get(namespace)
        if known is None:
            raise ClusterError(f"no namespace {namespace} in this run's layout")
        real = known[0]
        current = self.api.read(NAMESPACES, real)
        if current is None:
            raise ClusterError(f"namespace {real} (for {namespace}) is gone")
        self._check_owned(current, f"namespace {real}")
        wanted = {k: v for k, v in labels.items() if k != NAMESPACE_NAME_LABEL}
        self._relabel(NAMESPACES, current, {**wanted, NAMESPACE_NAME_LABEL: real})
        self._layout = replace(
            layout,
            namespaces=tuple(
                replace(ns, labels=labels) if ns.name == namespace else ns
                for ns in layout.namespaces
            ),
        )

    def set_pod_labels(self, *, pod: str, labels: Labels) -> None:
        with _rbac_hint(CHAOS_RBAC):
            self._set_pod_labels(pod, labels)

    def _set_pod_labels(self, pod: str, labels: Labels) -> None:
        layout = self._require_layout()
        InvalidInput.collect(labels_problems(labels, FieldPath(("pods", pod))))
        known = self._pods.get(pod)
        if known is None:
            raise ClusterError(f"no pod {pod} in this run's layout")
        current = self.api.read(PODS, known.spec.name, known.namespace)
        if current is None:
            raise ClusterError(f"pod {known.namespace}/{known.spec.name} (for {pod}) is gone")
        self._check_owned(current, f"pod {known.namespace}/{known.spec.name}")
        role = ((current.get("metadata") or {}).get("labels") or {}).get(ROLE_LABEL)
        extra = {ROLE_LABEL: role} if isinstance(role, str) else {}
        self._relabel(PODS, current, {**labels, **extra})
        spec = replace(known.spec, labels=labels)
        self._pods[pod] = replace(known, spec=spec)
        self._layout = replace(layout, pods=tuple(spec if p.ref == pod else p for p in layout.pods))
        self._readdress()

    def _relabel(self, kind: Kind, current: Mapping[str, Any], labels: Mapping[str, str]) -> None:
        body = copy.deepcopy(dict(current))
        # The ownership labels stay: without them the run could no longer clean up.
        body["metadata"]["labels"] = {**labels, **self.naming.labels}
        try:
            self.api.replace(kind, body)
        except ConflictError as err:
            name = body["metadata"].get("name")
            raise ClusterError(f"{kind.resource} {name} changed while it was relabelled") from err

    # --- pods created again ------------------------------------------------------------

    def recreate_pods(self, *, pods: Sequence[str]) -> Mapping[str, IPAddress]:
        with _rbac_hint(CHAOS_RBAC):
            return self._recreate_pods(pods)

    def _recreate_pods(self, pods: Sequence[str]) -> Mapping[str, IPAddress]:
        self._require_layout()
        known = []
        for ref in dict.fromkeys(pods):
            found = self._pods.get(ref)
            if found is None:
                raise ClusterError(f"no pod {ref} in this run's layout")
            known.append(found)
        gone: dict[str, str] = {}
        for p in known:
            current = self.api.read(PODS, p.spec.name, p.namespace)
            if current is None:
                continue
            self._check_owned(current, f"pod {p.namespace}/{p.spec.name}")
            uid = str(current["metadata"].get("uid") or "")
            self.api.delete(PODS, p.spec.name, p.namespace, uid=uid or None)
            gone[p.spec.ref] = uid
        self._wait_gone(known, gone)
        wanted: dict[str, list[str]] = {}
        for p in known:
            try:
                self.api.create(
                    PODS, pod_manifest(p.spec, naming=self.naming, options=self.options)
                )
            except ConflictError as err:
                raise ClusterError(f"pod {p.spec.ref} could not be created again: {err}") from err
            wanted.setdefault(p.namespace, []).append(p.spec.name)
        readiness = wait_for_pods(
            self.api,
            wanted=wanted,
            label_selector=self.naming.selector,
            clock=self._clock,
            timeout_s=self.options.ready_timeout_s,
            poll_s=self.options.poll_interval_s,
        )
        new: dict[str, IPAddress] = {}
        failed = []
        for p in known:
            ref = p.spec.ref
            ip = readiness.ready.get((p.namespace, p.spec.name))
            if ip is not None:
                new[ref] = ip
                self.failures.pop(ref, None)
                self._pods[ref] = replace(p, failure="")
            else:
                reason = readiness.failed.get((p.namespace, p.spec.name), "not Ready")
                self.failures[ref] = reason
                self._pods[ref] = replace(p, failure=reason)
                self._ips.pop(ref, None)
                failed.append(reason)
        self._ips.update(new)
        self._readdress()
        if failed:
            raise ClusterError("pods created again did not become Ready: " + "; ".join(failed))
        return new

    def _wait_gone(self, known: Sequence[Any], gone: Mapping[str, str]) -> None:
        """Until the deleted pods' names are free again (a pod terminates gracefully)."""
        clock = self._clock
        deadline = clock.now() + self.options.ready_timeout_s
        pending = [p for p in known if p.spec.ref in gone]
        while pending:
            still = []
            for p in pending:
                current = self.api.read(PODS, p.spec.name, p.namespace)
                if current is not None and current["metadata"].get("uid") == gone[p.spec.ref]:
                    still.append(p)
            pending = still
            if not pending:
                return
            if clock.now() >= deadline:
                names = ", ".join(p.spec.ref for p in pending)
                raise ClusterError(
                    f"pods {names} were still terminating after {self.options.ready_timeout_s:g} s"
                )
            clock.sleep(self.options.poll_interval_s)

    def _readdress(self) -> None:
        self._addresser = Addresser(
            layout=self._require_layout(),
            naming=self.naming,
            mode=self.options.probe_mode,
            cluster_domain=self.options.cluster_domain,
            pod_ips=dict(self._ips),
            service_ips=self._service_ips,
        )

    # --- calico-node -------------------------------------------------------------------

    def restart_calico(self) -> tuple[str, ...]:
        with _rbac_hint(CALICO_RBAC):
            return self._restart_calico()

    def _restart_calico(self) -> tuple[str, ...]:
        if not self.allow_calico_restart:
            raise ClusterError(
                "restarting calico-node is opt-in: it deletes pods netpol-drift does not own;"
                " pass --allow-calico-restart (and grant deploy/rbac-calico-restart.yaml)"
            )
        namespace, pods = self._calico_pods()
        for pod in pods:
            owners = (pod.get("metadata") or {}).get("ownerReferences") or []
            if not any(
                o.get("kind") == "DaemonSet" and o.get("name") == CALICO_NODE for o in owners
            ):
                name = pod["metadata"].get("name")
                raise ClusterError(
                    f"refusing to delete {namespace}/{name}: it is not a pod of the {CALICO_NODE}"
                    " DaemonSet, so nothing would create it again"
                )
        deleted = []
        for pod in pods:
            meta = pod["metadata"]
            self.api.delete(PODS, meta["name"], namespace, uid=str(meta.get("uid") or "") or None)
            deleted.append(str(meta.get("uid") or ""))
        self._restart = _Restart(namespace, frozenset(deleted), len(pods))
        return tuple(f"{namespace}/{p['metadata']['name']}" for p in pods)

    def calico_ready(self) -> bool:
        with _rbac_hint(CALICO_RBAC):
            return self._calico_ready()

    def _calico_ready(self) -> bool:
        restart = self._restart
        if restart is None:
            return True
        pods = self.api.list(PODS, restart.namespace, label_selector=CALICO_NODE_SELECTOR)
        uids = {str((p.get("metadata") or {}).get("uid") or "") for p in pods}
        ready = [p for p in pods if pod_ip(p) is not None]
        if uids & restart.deleted or len(ready) < restart.count:
            return False
        self._restart = None
        return True

    def _calico_pods(self) -> tuple[str, list[dict[str, Any]]]:
        for namespace in CALICO_NAMESPACES:
            pods = self.api.list(PODS, namespace, label_selector=CALICO_NODE_SELECTOR)
            if pods:
                return namespace, pods
        raise ClusterError(
            f"no calico-node pods ({CALICO_NODE_SELECTOR}) in {' or '.join(CALICO_NAMESPACES)}"
        )
