"""The simulated dataplane's memory: every change made to a run, and when each cell sees it.

A real dataplane does not switch from one state to the next at once: Felix
programs each change some time after the API server has it, endpoint by
endpoint. The simulator keeps every change as a :class:`Snapshot` of the whole
state (layout with its labels, pod addresses, the policy version in force) and
decides, per connection, which snapshot is programmed by a given time:

- a change is programmed for a connection ``delay`` after it was made, the delay
  drawn per change and per connection (``FaultConfig.enforcement_delay_s`` plus
  :class:`~service.cluster.faults.PerturbationFaults`' distribution for its kind);
- changes are programmed in order: a change never takes effect for a connection
  before the change made before it (Felix processes its updates in order);
- a pod created again (new IP) is Ready at its start time, and its isolation is
  programmed ``isolation`` later: until then no policy isolates it, so its side
  of a connection lets everything through;
- while calico-node restarts nothing new is programmed: a change that would
  take effect during the blackout takes effect when it ends.

Draws depend on the seed, the change's index and the connection only, so the
same experiment gives the same timings however its probes are batched.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from service.cluster.faults import BlackoutMode, FaultConfig, PerturbationFaults
from service.policy.model import IPAddress, Protocol
from service.scenario.model import PolicyVersion
from service.scenario.plan import Layout

__all__ = ["ChangeKind", "InForce", "Snapshot", "Timeline"]


class ChangeKind(StrEnum):
    SET_UP = "set-up"
    APPLY = "apply"
    RELABEL = "relabel"
    RECREATE = "recreate"
    RESTART = "restart"


@dataclass(frozen=True, slots=True)
class Snapshot:
    """The state after one change. ``fresh``: pods created again by this change, with the
    time each was Ready. ``ends_at``: when a calico-node restart's blackout ends."""

    index: int
    kind: ChangeKind
    at: float
    layout: Layout
    addresses: Mapping[str, IPAddress]
    version: PolicyVersion | None
    applied_at: float
    fresh: Mapping[str, float] = field(default_factory=dict)
    ends_at: float | None = None


@dataclass(frozen=True, slots=True)
class InForce:
    """What the dataplane does for one connection at one moment."""

    snapshot: Snapshot
    # Pods of the connection created again and not yet isolated.
    unisolated: frozenset[str]
    # A calico-node restart under way that overrides connectivity.
    blackout: BlackoutMode | None


class Timeline:
    def __init__(self, *, faults: FaultConfig, perturbations: PerturbationFaults) -> None:
        self.faults = faults
        self.perturbations = perturbations
        self.snapshots: list[Snapshot] = []
        self._programmed: dict[tuple[int, str], float] = {}

    def add(
        self,
        kind: ChangeKind,
        *,
        at: float,
        layout: Layout,
        addresses: Mapping[str, IPAddress],
        version: PolicyVersion | None,
        applied_at: float,
        fresh: Mapping[str, float] | None = None,
        ends_at: float | None = None,
    ) -> Snapshot:
        snapshot = Snapshot(
            index=len(self.snapshots),
            kind=kind,
            at=at,
            layout=layout,
            addresses=dict(addresses),
            version=version,
            applied_at=applied_at,
            fresh=dict(fresh or {}),
            ends_at=ends_at,
        )
        self.snapshots.append(snapshot)
        if kind is ChangeKind.RESTART:
            # A blackout postpones changes made before it too: their times are recomputed.
            self._programmed.clear()
        return snapshot

    @property
    def latest(self) -> Snapshot:
        return self.snapshots[-1]

    def in_force(
        self, *, source: str, target: str, port: int, protocol: Protocol, at: float
    ) -> InForce:
        """The snapshot programmed for this connection at ``at`` (see the module docstring)."""
        # Without perturbation delays every connection sees a change at the same moment:
        # one cache entry per change, however large the matrix.
        connection = f"{source}>{target}:{port}/{protocol}" if self.perturbations.any else ""
        chosen = self.snapshots[0]
        for snapshot in reversed(self.snapshots):
            if self._programmed_at(snapshot.index, connection, source, target) <= at:
                chosen = snapshot
                break
        unisolated = {
            pod
            for later in self.snapshots[chosen.index + 1 :]
            if later.kind is ChangeKind.RECREATE
            for pod in (source, target)
            if pod in later.fresh
        }
        return InForce(chosen, frozenset(unisolated), self._blackout(at))

    def programmed_at(
        self, index: int, *, source: str, target: str, port: int, protocol: Protocol
    ) -> float:
        """When change ``index`` takes effect for this connection: the simulated dataplane's
        ground truth, which experiments measure."""
        connection = f"{source}>{target}:{port}/{protocol}" if self.perturbations.any else ""
        return self._programmed_at(index, connection, source, target)

    def restarts_over(self, at: float) -> bool:
        return all(
            s.ends_at is None or s.ends_at <= at
            for s in self.snapshots
            if s.kind is ChangeKind.RESTART
        )

    # --- internals -----------------------------------------------------------------------

    def _blackout(self, at: float) -> BlackoutMode | None:
        mode = self.perturbations.blackout_mode
        if mode is BlackoutMode.FROZEN:
            return None
        for s in self.snapshots:
            if s.kind is ChangeKind.RESTART and s.ends_at is not None and s.at <= at < s.ends_at:
                return mode
        return None

    def _programmed_at(self, index: int, connection: str, source: str, target: str) -> float:
        # Iterative, oldest first, so a long history never recurses deeply.
        known = self._programmed.get((index, connection))
        if known is not None:
            return known
        start = index
        while start > 0 and (start - 1, connection) not in self._programmed:
            start -= 1
        previous = self._programmed.get((start - 1, connection), float("-inf"))
        for i in range(start, index + 1):
            snapshot = self.snapshots[i]
            when = snapshot.at + self._delay(snapshot, connection, source, target)
            when = self._after_blackouts(max(when, previous))
            self._programmed[(i, connection)] = when
            previous = when
        return previous

    def _delay(self, snapshot: Snapshot, connection: str, source: str, target: str) -> float:
        p = self.perturbations
        draw = self.faults.draw
        match snapshot.kind:
            case ChangeKind.APPLY:
                extra = p.programming.sample(draw("program", snapshot.index, connection))
                return self.faults.enforcement_delay_s + extra
            case ChangeKind.RELABEL:
                extra = p.label_delay.sample(draw("relabel", snapshot.index, connection))
                return self.faults.enforcement_delay_s + extra
            case ChangeKind.RECREATE:
                waits = [
                    snapshot.fresh[pod]
                    - snapshot.at
                    + p.isolation.sample(draw("isolation", snapshot.index, pod))
                    for pod in (source, target)
                    if pod in snapshot.fresh
                ]
                return max(waits, default=0.0)
            case ChangeKind.SET_UP | ChangeKind.RESTART:
                return 0.0

    def _after_blackouts(self, when: float) -> float:
        """A change due while calico-node is down takes effect when it is back."""
        for s in self.snapshots:
            if s.kind is ChangeKind.RESTART and s.ends_at is not None and s.at < when < s.ends_at:
                when = s.ends_at
        return when
