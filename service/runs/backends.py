"""Where a shard probes: the seam between stored runs and cluster backends.

A worker executing a shard asks the run's backend for a cluster that has the
run's layout set up and the shard's version in force, probes, and leaves. A
:class:`BackendFactory` is that request: given a :class:`ShardTarget`, a
context manager yielding the ready cluster and the pod addresses, and cleaning
up on the way out. :data:`Backends` maps each backend of a run to its factory;
the simulator's is built in, the Kubernetes backend plugs its own in (issue 8)
without the shard code changing.

A factory may ask the shard to wait until the version is enforced before it
probes (``ReadyCluster.convergence``): the shard then polls canary cells, once
per run and version, and stores the convergence time with the version
(:mod:`service.runs.convergence`). It may also add to the run's record of where
it ran (``ReadyCluster.record``: cluster identity, never credentials).

The simulator's factory builds a fresh cluster per shard, seeded from the run,
so any worker anywhere gets the same answers. It applies the run's earlier
versions before the shard's, each held for the enforcement delay, so the
dataplane starts the shard where the in-process run would have had it: still
enforcing the previous version during the delay.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, TypeAlias

from service.cluster.base import Cluster, ProbeRequest, ProbeResult
from service.cluster.simulated import SimulatedCluster
from service.errors import ClusterError
from service.policy.model import IPAddress
from service.runner.convergence import ConvergenceOptions
from service.runs.settings import RunSettings, SimulatorSettings
from service.scenario.model import PolicyVersion
from service.scenario.plan import Layout
from service.store.enums import Backend

__all__ = [
    "BackendFactory",
    "Backends",
    "PacedSimulatedCluster",
    "ReadyCluster",
    "ShardTarget",
    "default_backends",
    "run_key",
    "simulated_shard_cluster",
]


def run_key(run_id: int, created_at: datetime) -> str:
    """A name for a run that no other database's run shares (ids restart in each database),
    for backends whose objects outlive a process: run id and creation instant."""
    return f"{run_id}-{created_at.strftime('%Y%m%d%H%M%S%f')}"


@dataclass(frozen=True, slots=True)
class ShardTarget:
    """What a backend needs to make a cluster ready for one shard of one run."""

    run_id: int
    seed: int
    settings: RunSettings
    layout: Layout
    # The run's versions in run order; the shard's is ``version``.
    versions: tuple[PolicyVersion, ...]
    version: str
    # :func:`run_key`; empty when the caller has none (the run id alone names the run).
    run_key: str = ""

    @property
    def earlier_versions(self) -> tuple[PolicyVersion, ...]:
        names = [v.name for v in self.versions]
        return self.versions[: names.index(self.version)]

    @property
    def policy_version(self) -> PolicyVersion:
        for version in self.versions:
            if version.name == self.version:
                return version
        raise KeyError(self.version)


@dataclass(frozen=True, slots=True)
class ReadyCluster:
    """A cluster with the layout set up and the shard's version applied.

    ``applied_at``: the cluster clock's time when this process applied the version
    (None: it found the version in place). ``convergence``: wait for the version to
    be enforced before probing (None: probe at once). ``record``: more to store in
    ``runs.cluster``.
    """

    cluster: Cluster
    addresses: Mapping[str, IPAddress]
    applied_at: float | None = None
    convergence: ConvergenceOptions | None = None
    record: Mapping[str, Any] = field(default_factory=dict)


BackendFactory: TypeAlias = Callable[[ShardTarget], AbstractContextManager[ReadyCluster]]
Backends: TypeAlias = Mapping[Backend, BackendFactory]


class PacedSimulatedCluster(SimulatedCluster):
    """The simulator, where each probe batch also takes ``pace_s`` of real time."""

    def __init__(self, *, pace_s: float, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.pace_s = pace_s

    def probe(self, *, source: str, requests: Sequence[ProbeRequest]) -> tuple[ProbeResult, ...]:
        results = super().probe(source=source, requests=requests)
        time.sleep(self.pace_s)
        return results


def _simulator(settings: SimulatorSettings, seed: int) -> SimulatedCluster:
    # The run row's seed is the one that counts (it is what users see and filter on).
    faults = replace(settings.faults, seed=seed)
    if settings.pace_s > 0:
        return PacedSimulatedCluster(
            pace_s=settings.pace_s,
            faults=faults,
            timeout_ms=settings.timeout_ms,
            exec_overhead_ms=settings.exec_overhead_ms,
        )
    return SimulatedCluster(
        faults=faults,
        timeout_ms=settings.timeout_ms,
        exec_overhead_ms=settings.exec_overhead_ms,
    )


@contextlib.contextmanager
def simulated_shard_cluster(target: ShardTarget) -> Iterator[ReadyCluster]:
    """A fresh simulated cluster for one shard (see the module docstring)."""
    cluster = _simulator(target.settings.simulator, target.seed)
    with cluster:
        addresses = cluster.set_up(layout=target.layout)
        delay = cluster.faults.enforcement_delay_s
        for version in target.earlier_versions:
            cluster.apply_version(version=version)
            cluster.clock.advance(delay)
        cluster.apply_version(version=target.policy_version)
        yield ReadyCluster(cluster=cluster, addresses=addresses)


class _Unavailable:
    """The factory of a backend this process has not configured: refuses, retryably."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend

    def __call__(self, target: ShardTarget) -> AbstractContextManager[ReadyCluster]:
        # A ClusterError is retried: another worker, configured for it, may take the shard.
        raise ClusterError(
            f"run {target.run_id} is for the {self.backend} backend, which this process has"
            " not configured"
        )


def default_backends(**extra: BackendFactory) -> dict[Backend, BackendFactory]:
    """The simulator, plus any factories given by backend name (``kubernetes=...``)."""
    backends: dict[Backend, BackendFactory] = {
        Backend.SIMULATED: simulated_shard_cluster,
        Backend.KUBERNETES: _Unavailable(Backend.KUBERNETES),
    }
    for name, factory in extra.items():
        backends[Backend(name)] = factory
    return backends
