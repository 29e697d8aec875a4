"""KubernetesCluster: the Cluster interface on a real cluster, through the official client.

Per run it creates, in run-scoped namespaces carrying ownership labels and an
expiry (:mod:`.naming`): the scenario's namespaces with their labels, target
pods serving their ports, Services, and probe pods (:mod:`.manifests`). Each
version's policies are rewritten for those namespaces (:mod:`.policies`) and
applied in place: a policy kept across versions is replaced, never deleted and
re-created, so no window opens between versions that the scenario lacks.

Probing is one exec per source pod and call, running every target's
``agnhost connect`` in parallel inside the pod (:mod:`.probe`); the runner
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
import math
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Any

from service.cluster.base import Cluster, ClusterInfo, ProbeRequest, ProbeResult
from service.cluster.clock import Clock, SystemClock
from service.cluster.kubernetes.addressing import Address, Addresser
from service.cluster.kubernetes.api import (
    NAMESPACES,
    NETWORK_POLICIES,
    PODS,
    SERVICES,
    ConflictError,
    InvalidObjectError,
    Kind,
    KubeApi,
    RefusedError,
)
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
from service.cluster.kubernetes.manifests import (
    exec_container,
    namespace_manifest,
    pod_manifest,
    service_manifest,
)
from service.cluster.kubernetes.naming import (
    RUN_LABEL,
    VERSION_ANNOTATION,
    RunNaming,
    format_expiry,
    new_run_id,
)
from service.cluster.kubernetes.options import KubernetesOptions, ProbeMode
from service.cluster.kubernetes.policies import (
    labels_problems,
    policy_manifest,
    reserved_label_problems,
)
from service.cluster.kubernetes.probe import (
    ScriptProbe,
    host_port,
    outcome_of,
    parse_probe_output,
    probe_script,
)
from service.cluster.kubernetes.readiness import wait_for_pods
from service.errors import ClusterError, FieldPath, InvalidInput, Problem
from service.policy.calico.model import CalicoEntry
from service.policy.model import IPAddress, Namespace, Service
from service.scenario.cells import RawOutcome
from service.scenario.model import PolicyVersion
from service.scenario.plan import Layout, PodSpec

__all__ = ["KubernetesCluster", "layout_problems"]

log = logging.getLogger(__name__)

# At most ~120 bytes of script per probe: 500 keep a script well under 128 KiB.
MAX_PROBES_PER_EXEC = 500


@dataclass(frozen=True, slots=True)
class _Pod:
    spec: PodSpec
    namespace: str
    container: str
    failure: str = ""


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
        self._clock: Clock = clock if clock is not None else SystemClock()
        self._info: ClusterInfo | None = None
        self._layout: Layout | None = None
        self._expires = ""
        self._addresser: Addresser | None = None
        self._lock = threading.Lock()
        # original namespace -> (run namespace, uid), in creation order
        self._namespaces: dict[str, tuple[str, str]] = {}
        self._pods: dict[str, _Pod] = {}
        self._service_ips: dict[tuple[str, str], str] = {}
        self._policies: set[tuple[str, str]] = set()
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
        self._expires = format_expiry(datetime.now(UTC), timedelta(seconds=self.options.ttl_s))
        for namespace in layout.namespaces:
            self._namespace(namespace)
        for pod in layout.pods:
            self._namespace(Namespace(pod.namespace))
        for service in layout.services:
            self._create_service(service)
        created: dict[str, list[str]] = {}
        for spec in layout.pods:
            if self._create_pod(spec):
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
            self._pods[spec.ref] = _Pod(
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
            service_ips=self._service_ips,
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
                annotations=run_annotations(version=version.name, expires_at=self._expires),
            ),
        )
        desired: dict[tuple[str, str], dict[str, Any]] = {}
        for policy in version.policies:
            if policy.namespace:  # cluster-scoped Calico objects have none
                self._namespace(Namespace(policy.namespace))
        for policy in kubernetes:
            body = policy_manifest(
                policy,
                naming=self.naming,
                namespaces=self._namespaces.keys(),
                labels=self.naming.labels,
                annotations={VERSION_ANNOTATION: version.name},
            )
            desired[(body["metadata"]["namespace"], policy.name)] = body
        changed = False
        for key, body in desired.items():
            changed |= self._put_policy(key, body)
        for key in sorted(self._policies - desired.keys()):
            changed |= self._delete_policy(key)
        self._policies = set(desired)
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
        results: dict[str, ProbeResult] = {}
        planned: list[tuple[ScriptProbe, ProbeRequest, Address]] = []
        for index, request in enumerate(requests):
            target = self._pods.get(request.target_pod)
            if target is None:
                results[request.key] = _error(
                    request, f"no target pod {request.target_pod} in this run's layout"
                )
            elif target.failure:
                results[request.key] = _error(
                    request, f"target {request.target_pod} cannot be probed: {target.failure}"
                )
            else:
                address = addresser.address(request)
                if address is None:
                    results[request.key] = _error(
                        request, f"target {request.target_pod} has no IP to probe"
                    )
                else:
                    probe = ScriptProbe(index, address.host, address.port, request.protocol)
                    planned.append((probe, request, address))
        # One exec per call; a batch too big for one shell argument (the kernel caps an
        # argument at 128 KiB) takes one exec per MAX_PROBES_PER_EXEC targets.
        for start in range(0, len(planned), MAX_PROBES_PER_EXEC):
            results.update(self._run_probes(pod, planned[start : start + MAX_PROBES_PER_EXEC]))
        return tuple(results[r.key] for r in requests)

    def tear_down(self) -> None:
        if self.options.keep_objects:
            self._calico.forget()
        else:
            # Before the namespaces: a tier cannot go while its policies are still there.
            self.leftovers += self._calico.delete_all()
        namespaces = [] if self.options.keep_objects else list(self._namespaces.items())
        for original, (real, uid) in reversed(namespaces):
            try:
                existing = self.api.read(NAMESPACES, real)
                if existing is None:
                    continue
                if not self.naming.owns(existing):
                    raise ClusterError(f"namespace {real} no longer carries this run's labels")
                self.api.delete(NAMESPACES, real, uid=uid or None)
            except ClusterError as err:
                log.warning("teardown left namespace %s (for %s): %s", real, original, err)
                self.leftovers.append(f"{real}: {err}")
        self._namespaces.clear()
        self._policies.clear()
        self._pods = {}
        self._service_ips.clear()
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

    # --- set-up helpers ----------------------------------------------------------------

    def _require_layout(self) -> Layout:
        if self._layout is None:
            raise ClusterError("the Kubernetes cluster has no layout: call set_up first")
        return self._layout

    def _namespace(self, namespace: Namespace) -> str:
        """The run's namespace for ``namespace``, created (owned) on first use."""
        known = self._namespaces.get(namespace.name)
        if known is not None:
            return known[0]
        body = namespace_manifest(namespace, naming=self.naming, expires_at=self._expires)
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
        self._namespaces[namespace.name] = (real, uid)
        return real

    def _create_service(self, service: Service) -> None:
        body = service_manifest(service, naming=self.naming)
        try:
            created = self._create_or_adopt(SERVICES, body)
        except (RefusedError, InvalidObjectError, ConflictError) as err:
            log.warning("Service %s/%s not created: %s", service.namespace, service.name, err)
            return
        cluster_ip = (created.get("spec") or {}).get("clusterIP")
        if isinstance(cluster_ip, str) and cluster_ip and cluster_ip != "None":
            self._service_ips[(service.namespace, service.name)] = cluster_ip

    def _create_pod(self, spec: PodSpec) -> bool:
        body = pod_manifest(spec, naming=self.naming, options=self.options)
        try:
            self._create_or_adopt(PODS, body)
        except (RefusedError, InvalidObjectError, ConflictError) as err:
            # Quota, admission or validation refused this pod: its cells are errors.
            self.failures[spec.ref] = f"pod {spec.ref} could not be created: {err}"
            return False
        return True

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

    # --- policies ----------------------------------------------------------------------

    def _put_policy(self, key: tuple[str, str], body: dict[str, Any]) -> bool:
        """Create or replace; False when it was in place already."""
        namespace, name = key
        existing = self.api.read(NETWORK_POLICIES, name, namespace)
        if existing is None:
            try:
                self.api.create(NETWORK_POLICIES, body)
                return True
            except ConflictError:
                existing = self.api.read(NETWORK_POLICIES, name, namespace)
                if existing is None:
                    raise
        self._check_owned(existing, f"NetworkPolicy {namespace}/{name}")
        if _same_policy(existing, body):
            return False
        body["metadata"]["resourceVersion"] = existing["metadata"].get("resourceVersion")
        self.api.replace(NETWORK_POLICIES, body)
        return True

    def _delete_policy(self, key: tuple[str, str]) -> bool:
        namespace, name = key
        existing = self.api.read(NETWORK_POLICIES, name, namespace)
        if existing is None:
            return False
        self._check_owned(existing, f"NetworkPolicy {namespace}/{name}")
        uid = str(existing["metadata"].get("uid") or "") or None
        return self.api.delete(NETWORK_POLICIES, name, namespace, uid=uid)

    def _check_owned(self, obj: Mapping[str, Any], what: str) -> None:
        if not self.naming.owns(obj):
            raise ClusterError(
                f"refusing to touch {what}: it does not carry this run's ownership label "
                f"{RUN_LABEL}={self.naming.run_id}"
            )

    # --- probing -----------------------------------------------------------------------

    def _count_exec(self) -> None:
        with self._lock:
            self.execs += 1

    def _exec_deadline(self, count: int) -> float:
        opts = self.options
        waves = math.ceil(count / opts.probe_parallelism)
        per_wave = opts.probe_timeout_s
        if opts.probe_mode is ProbeMode.SERVICE_NAME:
            per_wave += opts.dns_allowance_s
        return waves * per_wave + opts.exec_grace_s

    def _run_probes(
        self, pod: _Pod, planned: Sequence[tuple[ScriptProbe, ProbeRequest, Address]]
    ) -> dict[str, ProbeResult]:
        opts = self.options
        script = probe_script(
            [p for p, _, _ in planned],
            timeout_s=opts.probe_timeout_s,
            parallelism=opts.probe_parallelism,
            agnhost=opts.agnhost_path,
        )
        ran = self._exec.run(
            namespace=pod.namespace,
            pod=pod.spec.name,
            container=pod.container,
            command=["sh", "-c", script],
            timeout_s=self._exec_deadline(len(planned)),
        )
        if not ran.ok:
            return {
                request.key: ProbeResult(
                    request.key, RawOutcome.EXEC_ERROR, ran.duration_ms, ran.failure
                )
                for _, request, _ in planned
            }
        lines = parse_probe_output(ran.stdout)
        out = {}
        for probe, request, address in planned:
            where = f"{host_port(address.host, address.port)}/{request.protocol}"
            line = lines.get(probe.index)
            if line is None:
                said = f"; stderr: {ran.stderr.strip()[:200]}" if ran.stderr.strip() else ""
                out[request.key] = ProbeResult(
                    request.key,
                    RawOutcome.EXEC_ERROR,
                    ran.duration_ms,
                    f"the exec output has no line for {where} (exit code {ran.exit_code}){said}",
                )
                continue
            raw, detail = outcome_of(line)
            notes = [f"{where}: {detail}" if detail else ""]
            if address.note:
                notes.append(address.note)
            out[request.key] = ProbeResult(
                request.key, raw, line.latency_ms, "; ".join(n for n in notes if n)
            )
        return out


def _same_policy(existing: Mapping[str, Any], wanted: Mapping[str, Any]) -> bool:
    """True when ``existing`` already is ``wanted`` (spec, labels and annotations)."""
    have, want = existing.get("metadata") or {}, wanted.get("metadata") or {}
    return (
        existing.get("spec") == wanted.get("spec")
        and (have.get("labels") or {}) == (want.get("labels") or {})
        and (have.get("annotations") or {}) == (want.get("annotations") or {})
    )


def _error(request: ProbeRequest, detail: str) -> ProbeResult:
    return ProbeResult(request.key, RawOutcome.EXEC_ERROR, 0.0, detail)
