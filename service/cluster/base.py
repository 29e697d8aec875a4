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

Perturbations (chaos experiments, :mod:`service.chaos`) are optional: a backend
lists what it can do in :attr:`Cluster.supported_perturbations` and implements the
matching methods; the defaults refuse with a ClusterError. Switching the policy
version and adding a default-deny need nothing new: they are ``apply_version``
with another set of policies. Every perturbation acts on the layout's own
objects, by their layout names; restarting calico-node is the one exception and
a backend does it only when its operator opted in.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from types import TracebackType
from typing import Self

from service.cluster.clock import Clock
from service.errors import ClusterError
from service.policy.model import IPAddress, Labels, Protocol
from service.scenario.cells import RawOutcome, verdict_of
from service.scenario.model import PolicyVersion
from service.scenario.plan import Layout

__all__ = [
    "Cluster",
    "ClusterInfo",
    "Perturbation",
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


class Perturbation(StrEnum):
    """A change a backend can make to a laid-out run, besides applying policies."""

    NAMESPACE_LABELS = "namespace-labels"
    POD_LABELS = "pod-labels"
    RECREATE_PODS = "recreate-pods"
    RESTART_CALICO = "restart-calico"


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

    # --- perturbations (optional; see the module docstring) -------------------------------

    @property
    def supported_perturbations(self) -> frozenset[Perturbation]:
        """The perturbations this backend can make; none unless it says so."""
        return frozenset()

    def set_namespace_labels(self, *, namespace: str, labels: Labels) -> None:
        """Give the layout's namespace ``namespace`` exactly ``labels`` (its name label aside)."""
        raise self._cannot(Perturbation.NAMESPACE_LABELS)

    def set_pod_labels(self, *, pod: str, labels: Labels) -> None:
        """Give the layout's pod ``pod`` (``namespace/name``) exactly ``labels``."""
        raise self._cannot(Perturbation.POD_LABELS)

    def recreate_pods(self, *, pods: Sequence[str]) -> Mapping[str, IPAddress]:
        """Delete the layout's ``pods`` and create them again; return once they are Ready,
        with their new IPs by pod ref. Probes may go to them from that moment."""
        raise self._cannot(Perturbation.RECREATE_PODS)

    def restart_calico(self) -> tuple[str, ...]:
        """Restart every calico-node pod and return at once (without waiting for them);
        the names of the pods restarted. Only with the operator's explicit opt-in."""
        raise self._cannot(Perturbation.RESTART_CALICO)

    def calico_ready(self) -> bool:
        """True when no calico-node restart is still under way."""
        return True

    def _cannot(self, what: Perturbation) -> ClusterError:
        return ClusterError(f"the {self.describe().backend} backend cannot do {what}")

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.tear_down()
