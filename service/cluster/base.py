"""The Cluster interface: the one seam between a run and where it probes.

A run drives a cluster through five steps, the same for the simulator and for a
real Calico cluster:

1. :meth:`Cluster.set_up` lays out the namespaces, target pods (serving their
   named ports), Services and probe pods of a :class:`~service.scenario.plan.Layout`
   and returns the pod IPs, which the engine needs (ipBlocks may match pods);
2. :meth:`Cluster.apply_version` replaces the active policy set with a version's;
3. :meth:`Cluster.probe` probes a batch of cells from ONE source pod (a real
   backend does one exec per call, probing every target of the batch in
   parallel inside the pod) and returns a raw outcome per cell;
4. the runner compares, retries and waits through :attr:`Cluster.clock`;
5. :meth:`Cluster.tear_down` removes everything; a cluster is a context manager
   so teardown happens in a ``finally``.

What a backend must guarantee:

- ``probe`` returns exactly one :class:`ProbeResult` per request, in request
  order, with the request's key. A cell it could not probe (the exec failed,
  the pod is gone) is ``exec-error`` with the reason in ``detail``: never
  ``timeout``, since a timeout reads as "blocked".
- ``probe`` raises :class:`~service.errors.ClusterError` only when the whole
  batch failed; the runner turns every cell of the batch into ``exec-error``.
- Probes are new connections (policy changes do not cut established ones).
"""

from __future__ import annotations

import abc
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Self

from service.cluster.clock import Clock
from service.policy.model import IPAddress, Protocol
from service.scenario.cells import RawOutcome, verdict_of
from service.scenario.model import PolicyVersion
from service.scenario.plan import Layout

__all__ = [
    "Cluster",
    "ClusterInfo",
    "ProbeRequest",
    "ProbeResult",
    "RawOutcome",
    "verdict_of",
]


@dataclass(frozen=True, slots=True)
class ClusterInfo:
    """Which backend and cluster a run ran on, recorded with the run.

    ``versions`` are (component, version) pairs, e.g. ("calico", "v3.29.1").
    """

    backend: str
    cluster: str
    versions: tuple[tuple[str, str], ...] = ()

    def __str__(self) -> str:
        return f"{self.backend} ({self.cluster})"


@dataclass(frozen=True, slots=True)
class ProbeRequest:
    """One connection to try from the batch's source pod.

    ``target_pod`` is the ``namespace/name`` of the pod in the layout; how it is
    addressed (pod IP, Service IP or name) is the backend's configuration.
    """

    key: str
    target_pod: str
    port: int
    protocol: Protocol


@dataclass(frozen=True, slots=True)
class ProbeResult:
    key: str
    outcome: RawOutcome
    latency_ms: float
    detail: str = ""


class Cluster(abc.ABC):
    """A place to run probes. All methods take keyword arguments only."""

    @property
    @abc.abstractmethod
    def clock(self) -> Clock:
        """The clock the run waits on (retries, settling)."""

    @abc.abstractmethod
    def describe(self) -> ClusterInfo:
        """Backend name, cluster identity and component versions."""

    @abc.abstractmethod
    def set_up(self, *, layout: Layout) -> Mapping[str, IPAddress]:
        """Create the layout's namespaces, pods and Services; return pod IPs by pod ref."""

    @abc.abstractmethod
    def apply_version(self, *, version: PolicyVersion) -> None:
        """Replace the active policy set with ``version``'s policies."""

    @abc.abstractmethod
    def probe(self, *, source: str, requests: Sequence[ProbeRequest]) -> tuple[ProbeResult, ...]:
        """Probe every request from the pod ``source`` (a ``namespace/name`` ref)."""

    @abc.abstractmethod
    def tear_down(self) -> None:
        """Remove what ``set_up`` and ``apply_version`` created; safe to call twice."""

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.tear_down()
