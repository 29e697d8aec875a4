"""KubernetesCluster: the Cluster interface on a real cluster, through the official client.

Per run it creates, in run-scoped namespaces carrying ownership labels and an
expiry (:mod:`.naming`): the scenario's namespaces with their labels, target
pods serving their ports, Services, and probe pods (:mod:`.run_objects`,
:mod:`.manifests`). Each version's policies are rewritten for those namespaces
and applied in place (:mod:`.network_policies`, and :mod:`.calico_objects` for
Calico's own objects): a policy kept across versions is replaced, never deleted
and re-created, so no window opens between versions that the scenario lacks.

Probing is one exec per source pod and call, running every target's
``agnhost connect`` in parallel inside the pod (:mod:`.probing`); the runner
calls ``probe`` for several source pods at once (``probe_concurrency``).

Safety: nothing is deleted or replaced unless it carries this run's ownership
labels (an existing object with our name but not our labels is refused, with
an error saying so); teardown deletes the run's namespaces and never raises, so
a run's results survive a failed cleanup, which the janitor finishes later.

Failure is reported, not hidden: a pod that could not be created or did not
become Ready in time has its reason recorded; probes from it raise (the runner
makes those cells errors), probes to it are ``exec-error`` with the reason; a
failed exec is ``exec-error`` for its whole batch; a 403 names the permission.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Any

from service.cluster.base import Cluster, ClusterInfo, ProbeRequest, ProbeResult
from service.cluster.clock import Clock, SystemClock
from service.cluster.kubernetes.addressing import Addresser
from service.cluster.kubernetes.api import KubeApi
from service.cluster.kubernetes.calico_objects import CalicoObjects
from service.cluster.kubernetes.calico_rewrite import (
    RunScope,
    calico_manifests,
    run_annotations,
    scenario_namespaces,
)
from service.cluster.kubernetes.config import ClusterTarget, Connection, connect
from service.cluster.kubernetes.execs import PodExec
from service.cluster.kubernetes.identity import describe_cluster
from service.cluster.kubernetes.manifests import exec_container
from service.cluster.kubernetes.naming import RunNaming, format_expiry, new_run_id
from service.cluster.kubernetes.network_policies import NetworkPolicies
from service.cluster.kubernetes.options import KubernetesOptions
from service.cluster.kubernetes.policies import labels_problems, reserved_label_problems
from service.cluster.kubernetes.probing import ProbePod, Prober
from service.cluster.kubernetes.readiness import wait_for_pods
from service.cluster.kubernetes.run_objects import RunObjects, require_owned
from service.errors import ClusterError, FieldPath, InvalidInput, Problem
from service.policy.calico.model import CalicoEntry
from service.policy.model import IPAddress, Namespace
from service.scenario.model import PolicyVersion
from service.scenario.plan import Layout

__all__ = ["KubernetesCluster", "layout_problems"]

log = logging.getLogger(__name__)


def layout_problems(layout: Layout) -> list[Problem]:
    """Labels of the scenario that collide with the ownership labels."""
    problems = []
    for ns in layout.namespaces:
        problems += labels_problems(ns.labels, FieldPath(("namespaces", ns.name, "labels")))
    for pod in layout.pods:
        problems += labels_problems(pod.labels, FieldPath(("pods", pod.ref, "labels")))
    return problems


class KubernetesCluster(Cluster):
    """A run on a real cluster; see the module docstring for what it does and guarantees."""

    def __init__(
        self,
        *,
        target: ClusterTarget | None = None,
        connection: Connection | None = None,
        options: KubernetesOptions | None = None,
        clock: Clock | None = None,
    ) -> None:
        if connection is None:
            if target is None:
                raise ValueError("KubernetesCluster needs a target or a connection")
            connection = connect(target)
        self.connection = connection
        self.options = options if options is not None else KubernetesOptions()
        self.naming = RunNaming(self.options.namespace_prefix, self.options.run_id or new_run_id())
        self.api = KubeApi(connection)
        self._exec = PodExec(connection, on_call=self._count_exec)
        self._prober = Prober(self._exec, self.options)
        self._clock: Clock = clock if clock is not None else SystemClock()
        self._info: ClusterInfo | None = None
        self._layout: Layout | None = None
        self._addresser: Addresser | None = None
        self._lock = threading.Lock()
        self._objects = RunObjects(self.api, self.naming, self.options)
        self._pods: dict[str, ProbePod] = {}
        self._policies = NetworkPolicies(self.api, self.naming)
        self._calico = CalicoObjects(self.api, self.naming)
        # Clock time of the last apply that changed the cluster; None when the version was
        # found in place (another process of the same run applied it).
        self.applied_at: float | None = None
        # Why pods (by layout ref) have no verdicts: never created, never Ready.
        self.failures: dict[str, str] = {}
        # What teardown could not remove; the janitor will, once it expires.
        self.leftovers: list[str] = []
        self.execs = 0

    # --- Cluster -----------------------------------------------------------------------

    @property
    def clock(self) -> Clock:
        return self._clock

    @property
    def probe_concurrency(self) -> int:
        """How many source pods the runner may probe at once (one exec each)."""
        return self.options.exec_concurrency

    @property
    def run_id(self) -> str:
        return self.naming.run_id

    def describe(self) -> ClusterInfo:
        if self._info is None:
            self._info = describe_cluster(
                self.api, target=self.connection.target.name, server=self.connection.server
            )
        return self._info

    def set_up(self, *, layout: Layout) -> Mapping[str, IPAddress]:
        InvalidInput.collect(layout_problems(layout))
        self._layout = layout
        objects = self._objects
        objects.expires = format_expiry(datetime.now(UTC), timedelta(seconds=self.options.ttl_s))
        for namespace in layout.namespaces:
            objects.namespace(namespace)
        for pod in layout.pods:
            objects.namespace(Namespace(pod.namespace))
        for service in layout.services:
            objects.create_service(service)
        created: dict[str, list[str]] = {}
        for spec in layout.pods:
            failure = objects.create_pod(spec)
            if failure:
                self.failures[spec.ref] = failure
            else:
                created.setdefault(self.naming.namespace(spec.namespace), []).append(spec.name)
        readiness = wait_for_pods(
            self.api,
            wanted=created,
            label_selector=self.naming.selector,
            clock=self._clock,
            timeout_s=self.options.ready_timeout_s,
            poll_s=self.options.poll_interval_s,
        )
        addresses: dict[str, IPAddress] = {}
        for spec in layout.pods:
            key = (self.naming.namespace(spec.namespace), spec.name)
            ip = readiness.ready.get(key)
            if ip is not None:
                addresses[spec.ref] = ip
            elif key in readiness.failed:
                self.failures[spec.ref] = readiness.failed[key]
            if spec.ref in self.failures:
                log.warning("%s", self.failures[spec.ref])
            self._pods[spec.ref] = ProbePod(
                spec=spec,
                namespace=key[0],
                container=exec_container(spec),
                failure=self.failures.get(spec.ref, ""),
            )
        self._addresser = Addresser(
            layout=layout,
            naming=self.naming,
            mode=self.options.probe_mode,
            cluster_domain=self.options.cluster_domain,
            pod_ips=addresses,
            service_ips=objects.service_ips,
        )
        return addresses

    def apply_version(self, *, version: PolicyVersion) -> None:
        self._require_layout()
        kubernetes = [p for p in version.policies if not isinstance(p, CalicoEntry)]
        InvalidInput.collect(reserved_label_problems(kubernetes, version=version.name))
        # Calico objects are rewritten before anything is created: a version that cannot
        # be made safe for a shared cluster leaves it as it was.
        calico = calico_manifests(
            version.policies,
            version=version.name,
            scope=RunScope(
                naming=self.naming,
                namespaces=scenario_namespaces(self._namespaces.keys(), version.policies),
                labels=self.naming.labels,
                annotations=run_annotations(version=version.name, expires_at=self._objects.expires),
            ),
        )
        for policy in version.policies:
            if policy.namespace:  # cluster-scoped Calico objects have none
                self._objects.namespace(Namespace(policy.namespace))
        changed = self._policies.apply(
            kubernetes, version=version.name, namespaces=self._namespaces.keys()
        )
        changed |= self._calico.apply(calico)
        self.applied_at = self._clock.now() if changed else None

    def probe(self, *, source: str, requests: Sequence[ProbeRequest]) -> tuple[ProbeResult, ...]:
        pod = self._pods.get(source)
        if pod is None or not pod.spec.probes:
            raise ClusterError(f"no probe pod {source} in this run's layout")
        if pod.failure:
            raise ClusterError(pod.failure)
        addresser = self._addresser
        assert addresser is not None, "set_up builds the addresser"
        return self._prober.probe(pod, requests, pods=self._pods, addresser=addresser)

    def tear_down(self) -> None:
        if self.options.keep_objects:
            self._calico.forget()
        else:
            # Before the namespaces: a tier cannot go while its policies are still there.
            self.leftovers += self._calico.delete_all()
            self.leftovers += self._objects.delete_namespaces()
        self._objects.forget()
        self._policies.forget()
        self._pods = {}
        self._addresser = None
        self._layout = None

    def close(self) -> None:
        """Close the API connections (after teardown); the cluster is unusable afterwards."""
        self._exec.close()
        self.api.close()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            self.tear_down()
        finally:
            self.close()

    # --- for subclasses (perturb.KubernetesChaosCluster) -------------------------------

    @property
    def _namespaces(self) -> Mapping[str, tuple[str, str]]:
        """Original namespace -> (run namespace, uid), in creation order."""
        return self._objects.namespaces

    @property
    def _service_ips(self) -> Mapping[tuple[str, str], str]:
        return self._objects.service_ips

    def _require_layout(self) -> Layout:
        if self._layout is None:
            raise ClusterError("the Kubernetes cluster has no layout: call set_up first")
        return self._layout

    def _check_owned(self, obj: Mapping[str, Any], what: str) -> None:
        require_owned(self.naming, obj, what)

    def _count_exec(self) -> None:
        with self._lock:
            self.execs += 1
