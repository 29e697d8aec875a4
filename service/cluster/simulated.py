"""SimulatedCluster: a cluster that answers probes from the engine, on a simulated clock.

It rehearses a real run step for step (lay out, apply, probe in per-pod
batches, tear down) so that the runner, the reports and the CLI are exercised
exactly as they will be on Calico, on a machine with nothing else installed.

Without faults every probe answers what the engine says of the version in force:
``connected`` when allowed, ``timeout`` when blocked. Faults
(:class:`~service.cluster.faults.FaultConfig`) bend that deterministically.

Time: probing a batch advances the clock by the slowest probe of the batch (they
run in parallel inside the pod) plus the exec overhead; a blocked probe costs the
whole timeout, as on a real cluster. Nothing ever really sleeps.

Perturbations: it relabels namespaces and pods, creates pods again with new IPs
and restarts a (simulated) calico-node. Every change, version applies included,
goes into a :class:`~service.cluster.timeline.Timeline` that decides per cell
which state the dataplane enforces at a given moment, with the programming
delays, un-isolated new pods and restart blackouts of
:class:`~service.cluster.faults.PerturbationFaults`.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from dataclasses import replace

from service import __version__
from service.cluster.base import Cluster, ClusterInfo, Perturbation, ProbeRequest, ProbeResult
from service.cluster.clock import SimulatedClock
from service.cluster.faults import BlackoutMode, FaultConfig, PerturbationFaults, WindowMode
from service.cluster.timeline import ChangeKind, InForce, Snapshot, Timeline
from service.errors import ClusterError
from service.policy.evaluate import Evaluator
from service.policy.model import IPAddress, Labels, Pod
from service.scenario.cells import RawOutcome
from service.scenario.model import PolicyVersion
from service.scenario.plan import Layout, PodSpec

__all__ = ["SimulatedCluster"]

# Pod IPs come from the first block kind and Calico both default to; the first
# two addresses are left out as a real IPAM would (network, gateway).
POD_NETWORK = ipaddress.IPv4Network("10.244.0.0/16")
FIRST_HOST = 2

# Latencies of answered probes on a quiet pod network, in ms: a base plus jitter.
CONNECT_MS = (0.3, 1.7)
REFUSE_MS = (0.2, 0.3)


class SimulatedCluster(Cluster):
    def __init__(
        self,
        *,
        faults: FaultConfig | None = None,
        perturbations: PerturbationFaults | None = None,
        clock: SimulatedClock | None = None,
        timeout_ms: float = 1000.0,
        exec_overhead_ms: float = 20.0,
        name: str = "local",
    ) -> None:
        self.faults = faults if faults is not None else FaultConfig()
        self.perturbation_faults = (
            perturbations if perturbations is not None else PerturbationFaults()
        )
        self._clock = clock if clock is not None else SimulatedClock()
        self.timeout_ms = timeout_ms
        self.exec_overhead_ms = exec_overhead_ms
        self.name = name
        self._layout: Layout | None = None
        self._pod_specs: dict[str, PodSpec] = {}
        self._probe_pods: frozenset[str] = frozenset()
        self._addresses: dict[str, IPAddress] = {}
        self._next_host = FIRST_HOST
        self._timeline = Timeline(faults=self.faults, perturbations=self.perturbation_faults)
        # The version applied last, and when: what probe counts and draws are keyed by.
        self._applied: tuple[float, PolicyVersion] | None = None
        # Per snapshot index: the engine and the pods it knows, as of that change.
        self._views: dict[int, tuple[Evaluator, dict[str, Pod]]] = {}
        self._probe_counts: dict[tuple[str, str], int] = {}
        self._batch_counts: dict[tuple[str, str], int] = {}
        # An audit of every probe asked for, as (source pod, cell key): what a run really
        # probed, for tests and for debugging a scenario.
        self.probe_log: list[tuple[str, str]] = []
        self.batches = 0

    @property
    def clock(self) -> SimulatedClock:
        return self._clock

    @property
    def timeline(self) -> Timeline:
        """The changes of the latest run (kept after teardown) and when each cell saw them:
        the ground truth an experiment's measurements are checked against."""
        return self._timeline

    def describe(self) -> ClusterInfo:
        cluster = f"{self.name}; {self.faults}"
        if self.perturbation_faults.any:
            cluster += f"; {self.perturbation_faults}"
        return ClusterInfo(
            backend="simulated",
            cluster=cluster,
            versions=(("netpol-drift", __version__),),
        )

    def set_up(self, *, layout: Layout) -> Mapping[str, IPAddress]:
        if len(layout.pods) > POD_NETWORK.num_addresses - FIRST_HOST - 1:
            raise ClusterError(f"{len(layout.pods)} pods do not fit in {POD_NETWORK}")
        self._layout = layout
        self._pod_specs = {pod.ref: pod for pod in layout.pods}
        self._addresses = {
            pod.ref: POD_NETWORK[FIRST_HOST + i] for i, pod in enumerate(layout.pods)
        }
        self._next_host = FIRST_HOST + len(layout.pods)
        self._probe_pods = frozenset(pod.ref for pod in layout.probe_pods)
        self._views = {}
        self._applied = None
        self._timeline = Timeline(faults=self.faults, perturbations=self.perturbation_faults)
        self._change(ChangeKind.SET_UP)
        return dict(self._addresses)

    def apply_version(self, *, version: PolicyVersion) -> None:
        self._require_layout()
        self._applied = (self._clock.now(), version)
        self._change(ChangeKind.APPLY)

    def probe(self, *, source: str, requests: Sequence[ProbeRequest]) -> tuple[ProbeResult, ...]:
        self._require_layout()
        if source not in self._probe_pods:
            raise ClusterError(f"no probe pod {source} in this run's layout")
        self.batches += 1
        self.probe_log.extend((source, r.key) for r in requests)
        now = self._clock.now()
        applied = self._applied[1].name if self._applied else ""
        batch_no = self._count(self._batch_counts, (applied, source))
        if self.faults.exec_fails(version=applied, source=source, nth=batch_no):
            self._clock.advance(self.exec_overhead_ms / 1000)
            return tuple(
                ProbeResult(
                    r.key,
                    RawOutcome.EXEC_ERROR,
                    self.exec_overhead_ms,
                    f"exec in {source} failed (simulated exec failure)",
                )
                for r in requests
            )
        results = tuple(self._probe_one(source, request, applied, now) for request in requests)
        slowest = max((r.latency_ms for r in results), default=0.0)
        self._clock.advance((slowest + self.exec_overhead_ms) / 1000)
        return results

    def tear_down(self) -> None:
        self._layout = None
        self._pod_specs = {}
        self._probe_pods = frozenset()
        self._addresses = {}
        self._applied = None
        self._views = {}

    # --- perturbations -----------------------------------------------------------------

    @property
    def supported_perturbations(self) -> frozenset[Perturbation]:
        return frozenset(Perturbation)

    def set_namespace_labels(self, *, namespace: str, labels: Labels) -> None:
        layout = self._require_layout()
        if namespace not in {ns.name for ns in layout.namespaces}:
            raise ClusterError(f"no namespace {namespace} in this run's layout")
        self._layout = replace(
            layout,
            namespaces=tuple(
                replace(ns, labels=labels) if ns.name == namespace else ns
                for ns in layout.namespaces
            ),
        )
        self._change(ChangeKind.RELABEL)

    def set_pod_labels(self, *, pod: str, labels: Labels) -> None:
        layout = self._require_layout()
        self._require_pods([pod])
        self._layout = replace(
            layout,
            pods=tuple(replace(p, labels=labels) if p.ref == pod else p for p in layout.pods),
        )
        self._pod_specs = {p.ref: p for p in self._layout.pods}
        self._change(ChangeKind.RELABEL)

    def recreate_pods(self, *, pods: Sequence[str]) -> Mapping[str, IPAddress]:
        self._require_layout()
        self._require_pods(pods)
        now = self._clock.now()
        index = len(self._timeline.snapshots)
        fresh: dict[str, float] = {}
        new: dict[str, IPAddress] = {}
        for ref in dict.fromkeys(pods):
            if self._next_host >= POD_NETWORK.num_addresses - 1:
                raise ClusterError(f"no address left in {POD_NETWORK}")
            new[ref] = POD_NETWORK[self._next_host]
            self._next_host += 1
            start = self.perturbation_faults.pod_start.sample(self.faults.draw("start", index, ref))
            fresh[ref] = now + start
        self._addresses.update(new)
        self._change(ChangeKind.RECREATE, at=now, fresh=fresh)
        # Like the real backend, return once every pod is Ready.
        self._clock.advance(max(fresh.values(), default=now) - now)
        return new

    def restart_calico(self) -> tuple[str, ...]:
        self._require_layout()
        now = self._clock.now()
        index = len(self._timeline.snapshots)
        blackout = self.perturbation_faults.blackout.sample(self.faults.draw("blackout", index))
        self._change(ChangeKind.RESTART, at=now, ends_at=now + blackout)
        return ("calico-node (simulated)",)

    def calico_ready(self) -> bool:
        return self._timeline.restarts_over(self._clock.now())

    # --- internals -------------------------------------------------------------------

    def _require_layout(self) -> Layout:
        if self._layout is None:
            raise ClusterError("the simulated cluster has no layout: call set_up first")
        return self._layout

    def _require_pods(self, pods: Sequence[str]) -> None:
        known = {p.ref for p in self._require_layout().pods}
        missing = [ref for ref in pods if ref not in known]
        if missing:
            raise ClusterError(f"no pod {', '.join(missing)} in this run's layout")

    def _change(
        self,
        kind: ChangeKind,
        *,
        at: float | None = None,
        fresh: Mapping[str, float] | None = None,
        ends_at: float | None = None,
    ) -> None:
        applied_at, version = self._applied if self._applied else (0.0, None)
        snapshot = self._timeline.add(
            kind,
            at=self._clock.now() if at is None else at,
            layout=self._require_layout(),
            addresses=self._addresses,
            version=version,
            applied_at=applied_at,
            fresh=fresh,
            ends_at=ends_at,
        )
        if snapshot.index in self.perturbation_faults.failing_changes:
            raise ClusterError(
                f"change {snapshot.index} ({kind}) took effect, but its answer was lost"
                " (simulated API failure)"
            )

    @staticmethod
    def _count(counts: dict[tuple[str, str], int], key: tuple[str, str]) -> int:
        counts[key] = counts.get(key, 0) + 1
        return counts[key]

    def _view(self, snapshot: Snapshot) -> tuple[Evaluator, dict[str, Pod]]:
        view = self._views.get(snapshot.index)
        if view is None:
            policies = snapshot.version.policies if snapshot.version is not None else ()
            state = snapshot.layout.cluster_state(policies=policies, addresses=snapshot.addresses)
            view = self._views[snapshot.index] = (
                Evaluator(state),
                {pod.ref: pod for pod in state.pods},
            )
        return view

    def _allowed(self, request: ProbeRequest, source: str, force: InForce, now: float) -> bool:
        if force.blackout is BlackoutMode.OPEN:
            return True
        if force.blackout is BlackoutMode.BLOCKED:
            return source == request.target_pod
        snapshot = force.snapshot
        version = snapshot.version
        mode = self.faults.window(version.name, now - snapshot.applied_at) if version else None
        if mode is WindowMode.FAIL_OPEN:
            return True
        if mode is WindowMode.OVER_ENFORCED:
            # Traffic inside one pod never reaches the dataplane's policy.
            return source == request.target_pod
        evaluator, pods = self._view(snapshot)
        src, dst = pods[source], pods[request.target_pod]
        if not force.unisolated:
            return evaluator.is_allowed(src, dst, port=request.port, protocol=request.protocol)
        # A pod whose isolation is not programmed yet lets everything through its side.
        explanation = evaluator.explain(src, dst, port=request.port, protocol=request.protocol)
        egress = explanation.egress.allowed or source in force.unisolated
        ingress = explanation.ingress.allowed or request.target_pod in force.unisolated
        return explanation.loopback or (egress and ingress)

    def _probe_one(
        self, source: str, request: ProbeRequest, applied: str, now: float
    ) -> ProbeResult:
        dst = self._pod_specs.get(request.target_pod)
        if dst is None:
            return ProbeResult(
                request.key,
                RawOutcome.EXEC_ERROR,
                0.0,
                f"no target pod {request.target_pod} in this run's layout",
            )
        nth = self._count(self._probe_counts, (applied, request.key))
        force = self._timeline.in_force(
            source=source,
            target=request.target_pod,
            port=request.port,
            protocol=request.protocol,
            at=now,
        )
        target = f"{request.target_pod} {request.port}/{request.protocol}"
        if not self._allowed(request, source, force, now):
            return ProbeResult(
                request.key,
                RawOutcome.TIMEOUT,
                self.timeout_ms,
                f"no answer from {target} within {self.timeout_ms:g} ms",
            )
        serves = any(p.port == request.port and p.protocol is request.protocol for p in dst.ports)
        if request.target_pod in self.faults.refusing_targets or not serves:
            return ProbeResult(
                request.key,
                RawOutcome.REFUSED,
                self._latency(REFUSE_MS, applied, request.key, nth),
                f"connection refused by {target}: the packet got through, nothing listens",
            )
        if self.faults.loses_probe(version=applied, key=request.key, nth=nth):
            return ProbeResult(
                request.key,
                RawOutcome.TIMEOUT,
                self.timeout_ms,
                f"no answer from {target} within {self.timeout_ms:g} ms (simulated probe loss)",
            )
        return ProbeResult(
            request.key,
            RawOutcome.CONNECTED,
            self._latency(CONNECT_MS, applied, request.key, nth),
        )

    def _latency(self, spread: tuple[float, float], applied: str, key: str, nth: int) -> float:
        base, jitter = spread
        return round(base + jitter * self.faults.draw("latency", applied, key, nth), 3)
