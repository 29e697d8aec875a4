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
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence

from service import __version__
from service.cluster.base import Cluster, ClusterInfo, ProbeRequest, ProbeResult
from service.cluster.clock import SimulatedClock
from service.cluster.faults import FaultConfig, WindowMode
from service.errors import ClusterError
from service.policy.evaluate import Evaluator
from service.policy.model import IPAddress, Pod
from service.scenario.cells import RawOutcome
from service.scenario.model import PolicyVersion
from service.scenario.plan import Layout

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
        clock: SimulatedClock | None = None,
        timeout_ms: float = 1000.0,
        exec_overhead_ms: float = 20.0,
        name: str = "local",
    ) -> None:
        self.faults = faults if faults is not None else FaultConfig()
        self._clock = clock if clock is not None else SimulatedClock()
        self.timeout_ms = timeout_ms
        self.exec_overhead_ms = exec_overhead_ms
        self.name = name
        self._layout: Layout | None = None
        self._pods: dict[str, Pod] = {}
        self._probe_pods: frozenset[str] = frozenset()
        self._addresses: dict[str, IPAddress] = {}
        # (applied at, version), oldest first: enforcement delay looks back in it.
        self._history: list[tuple[float, PolicyVersion]] = []
        self._evaluators: dict[str, Evaluator] = {}
        self._probe_counts: dict[tuple[str, str], int] = {}
        self._batch_counts: dict[tuple[str, str], int] = {}
        # An audit of every probe asked for, as (source pod, cell key): what a run really
        # probed, for tests and for debugging a scenario.
        self.probe_log: list[tuple[str, str]] = []
        self.batches = 0

    @property
    def clock(self) -> SimulatedClock:
        return self._clock

    def describe(self) -> ClusterInfo:
        return ClusterInfo(
            backend="simulated",
            cluster=f"{self.name}; {self.faults}",
            versions=(("netpol-drift", __version__),),
        )

    def set_up(self, *, layout: Layout) -> Mapping[str, IPAddress]:
        if len(layout.pods) > POD_NETWORK.num_addresses - FIRST_HOST - 1:
            raise ClusterError(f"{len(layout.pods)} pods do not fit in {POD_NETWORK}")
        self._layout = layout
        self._addresses = {
            pod.ref: POD_NETWORK[FIRST_HOST + i] for i, pod in enumerate(layout.pods)
        }
        state = layout.cluster_state(addresses=self._addresses)
        self._pods = {pod.ref: pod for pod in state.pods}
        self._probe_pods = frozenset(pod.ref for pod in layout.probe_pods)
        self._evaluators = {}
        return dict(self._addresses)

    def apply_version(self, *, version: PolicyVersion) -> None:
        self._require_layout()
        self._history.append((self._clock.now(), version))

    def probe(self, *, source: str, requests: Sequence[ProbeRequest]) -> tuple[ProbeResult, ...]:
        self._require_layout()
        src = self._pods.get(source)
        if src is None or source not in self._probe_pods:
            raise ClusterError(f"no probe pod {source} in this run's layout")
        self.batches += 1
        self.probe_log.extend((source, r.key) for r in requests)
        now = self._clock.now()
        applied = self._history[-1][1].name if self._history else ""
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
        in_force, since_applied = self._in_force(now)
        evaluator = self._evaluator(in_force)
        mode = self.faults.window(in_force.name, since_applied) if in_force else None
        results = tuple(
            self._probe_one(src, request, applied, evaluator, mode) for request in requests
        )
        slowest = max((r.latency_ms for r in results), default=0.0)
        self._clock.advance((slowest + self.exec_overhead_ms) / 1000)
        return results

    def tear_down(self) -> None:
        self._layout = None
        self._pods = {}
        self._probe_pods = frozenset()
        self._addresses = {}
        self._history = []
        self._evaluators = {}

    # --- internals -------------------------------------------------------------------

    def _require_layout(self) -> Layout:
        if self._layout is None:
            raise ClusterError("the simulated cluster has no layout: call set_up first")
        return self._layout

    @staticmethod
    def _count(counts: dict[tuple[str, str], int], key: tuple[str, str]) -> int:
        counts[key] = counts.get(key, 0) + 1
        return counts[key]

    def _in_force(self, now: float) -> tuple[PolicyVersion | None, float]:
        """The version the dataplane enforces at ``now`` and how long ago it was applied."""
        delay = self.faults.enforcement_delay_s
        for applied_at, version in reversed(self._history):
            if applied_at + delay <= now:
                return version, now - applied_at
        return None, 0.0

    def _evaluator(self, version: PolicyVersion | None) -> Evaluator:
        name = version.name if version is not None else ""
        evaluator = self._evaluators.get(name)
        if evaluator is None:
            layout = self._require_layout()
            policies = version.policies if version is not None else ()
            state = layout.cluster_state(policies=policies, addresses=self._addresses)
            evaluator = self._evaluators[name] = Evaluator(state)
        return evaluator

    def _probe_one(
        self,
        src: Pod,
        request: ProbeRequest,
        applied: str,
        evaluator: Evaluator,
        mode: WindowMode | None,
    ) -> ProbeResult:
        dst = self._pods.get(request.target_pod)
        if dst is None:
            return ProbeResult(
                request.key,
                RawOutcome.EXEC_ERROR,
                0.0,
                f"no target pod {request.target_pod} in this run's layout",
            )
        nth = self._count(self._probe_counts, (applied, request.key))
        if mode is WindowMode.FAIL_OPEN:
            allowed = True
        elif mode is WindowMode.OVER_ENFORCED:
            # Traffic inside one pod never reaches the dataplane's policy.
            allowed = src == dst
        else:
            allowed = evaluator.is_allowed(src, dst, port=request.port, protocol=request.protocol)
        target = f"{request.target_pod} {request.port}/{request.protocol}"
        if not allowed:
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
