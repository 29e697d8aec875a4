"""What a chaos experiment found: frozen values per cell, phase, step and experiment.

Definitions (docs/chaos.md says the same in prose). Each phase of a step (the
steady-state check before it, the action, the rollback) has an *old* expected
matrix (the engine's verdicts for the state before the phase's change) and a
*new* one (for the state after it). Every probe of a watched cell is one
:class:`Observation`:

- ``match``: observed == new expected;
- ``fail-open``: allowed although both the old and the new state block it:
  traffic no state ever allows (a new pod before its isolation is programmed);
- ``stale-open``: allowed, the new state blocks it, the old one allowed it: the
  old state's permission outliving the change;
- ``fail-closed``: blocked although both states allow it (an outage);
- ``stale-closed``: blocked, the new state allows it, the old one blocked it: the
  new permission not programmed yet;
- ``unavailable``: the probe could not run (never counted as blocked).

A probe's observation stands until the cell's next probe (sample and hold), the
last one until the phase's observation ends; so each edge of a measured window
is late by less than the gap between two probes of the cell, the phase's
``resolution_s``. A phase *converged* when, from some moment on, every watched
cell matched the new state on every probe for at least the hold time; the
convergence time is that moment, measured from the start of the phase's action.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from service.scenario.cells import RawOutcome
from service.scenario.chaos import StepKind
from service.scenario.model import Verdict

__all__ = [
    "CellTrace",
    "ExperimentResult",
    "Observation",
    "Phase",
    "PhaseResult",
    "Sample",
    "Segment",
    "StepResult",
    "StepStatus",
    "WatchedCell",
    "Window",
    "classify",
    "union_seconds",
]


class Phase(StrEnum):
    """``baseline``: the experiment's first apply, from no policy to the baseline version;
    then per step ``before`` (the steady-state check), ``action`` and ``rollback``."""

    BASELINE = "baseline"
    BEFORE = "before"
    ACTION = "action"
    ROLLBACK = "rollback"


class Observation(StrEnum):
    MATCH = "match"
    FAIL_OPEN = "fail-open"
    STALE_OPEN = "stale-open"
    FAIL_CLOSED = "fail-closed"
    STALE_CLOSED = "stale-closed"
    UNAVAILABLE = "unavailable"

    @property
    def violation(self) -> bool:
        """Seen in neither the old nor the new state: the hypothesis failed during the phase."""
        return self in (Observation.FAIL_OPEN, Observation.FAIL_CLOSED)


def classify(observed: Verdict, *, old: Verdict, new: Verdict) -> Observation:
    """One probe's observation against the phase's old and new expected verdicts."""
    if observed not in (Verdict.ALLOWED, Verdict.BLOCKED):
        return Observation.UNAVAILABLE
    if observed == new:
        return Observation.MATCH
    if observed is Verdict.ALLOWED:
        return Observation.STALE_OPEN if old is Verdict.ALLOWED else Observation.FAIL_OPEN
    return Observation.STALE_CLOSED if old is Verdict.BLOCKED else Observation.FAIL_CLOSED


class StepStatus(StrEnum):
    """``completed``: the action ran. ``failed``: it raised (its rollback still ran).
    ``unsteady``: the steady state did not hold before it, so it was not run.
    ``skipped``: an earlier step left the cluster in doubt; not run."""

    COMPLETED = "completed"
    FAILED = "failed"
    UNSTEADY = "unsteady"
    SKIPPED = "skipped"


@dataclass(frozen=True, slots=True)
class WatchedCell:
    """A watched cell; ``key`` is its pair key (the same connection in every version)."""

    key: str
    source: str
    target: str
    probe: str

    def __str__(self) -> str:
        return f"{self.source} -> {self.target} {self.probe}"

    def to_dict(self) -> dict[str, Any]:
        return {"key": self.key, "source": self.source, "target": self.target, "probe": self.probe}


@dataclass(frozen=True, slots=True)
class Sample:
    """One probe of a watched cell; ``at_s`` since the start of the phase's action."""

    at_s: float
    observed: Verdict
    raw: RawOutcome
    detail: str = ""


@dataclass(frozen=True, slots=True)
class Segment:
    """Consecutive probes of one cell with the same observation, ``start_s`` to ``end_s``."""

    state: Observation
    start_s: float
    end_s: float
    samples: int

    @property
    def seconds(self) -> float:
        return self.end_s - self.start_s

    def to_list(self) -> list[Any]:
        return [str(self.state), round(self.start_s, 6), round(self.end_s, 6), self.samples]


@dataclass(frozen=True, slots=True)
class CellTrace:
    """One watched cell through one phase. ``converged_s``: when its final run of matching
    probes began (0 when it never deviated from an unchanged verdict); None when its last
    probe did not match."""

    cell: WatchedCell
    old: Verdict
    new: Verdict
    segments: tuple[Segment, ...]
    converged_s: float | None
    detail: str = ""

    def seconds(self, state: Observation) -> float:
        return sum(s.seconds for s in self.segments if s.state is state)

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.cell.key,
            "old": str(self.old),
            "new": str(self.new),
            "converged_s": _rounded(self.converged_s),
            "segments": [s.to_list() for s in self.segments],
            "detail": self.detail,
        }


@dataclass(frozen=True, slots=True)
class Window:
    """How long at least one watched cell was in ``state`` during a phase (the union of
    every cell's intervals), from when to when, and each cell seen in it with its own
    time in that state."""

    state: Observation
    seconds: float
    start_s: float | None
    end_s: float | None
    cells: tuple[tuple[WatchedCell, float], ...]

    def __bool__(self) -> bool:
        return bool(self.cells)

    def to_dict(self) -> dict[str, Any]:
        return {
            "state": str(self.state),
            "seconds": round(self.seconds, 6),
            "start_s": _rounded(self.start_s),
            "end_s": _rounded(self.end_s),
            "cells": [{"key": c.key, "seconds": round(s, 6)} for c, s in self.cells],
        }


def union_seconds(intervals: Sequence[tuple[float, float]]) -> float:
    """The total length covered by ``intervals`` (overlaps counted once)."""
    total = 0.0
    end = float("-inf")
    for start, stop in sorted(intervals):
        if stop <= end:
            continue
        total += stop - max(start, end)
        end = stop
    return total


@dataclass(frozen=True, slots=True)
class PhaseResult:
    """One phase of a step. ``started_s``: since the experiment started; ``action_s``: how
    long its action took (API calls, pods becoming Ready); ``observed_s``: from the start
    of the action to the end of the last probe round; ``resolution_s``: the largest gap
    between two probes of a cell (and from the action to a cell's first probe)."""

    phase: Phase
    started_s: float
    action_s: float
    observed_s: float
    rounds: int
    interval_s: float
    resolution_s: float
    converged: bool
    convergence_s: float | None
    cells: tuple[CellTrace, ...]
    note: str = ""

    def window(self, state: Observation) -> Window:
        intervals = [
            (s.start_s, s.end_s) for t in self.cells for s in t.segments if s.state is state
        ]
        cells = tuple(
            (t.cell, t.seconds(state))
            for t in self.cells
            if any(s.state is state for s in t.segments)
        )
        return Window(
            state=state,
            seconds=union_seconds(intervals),
            start_s=min((a for a, _ in intervals), default=None),
            end_s=max((b for _, b in intervals), default=None),
            cells=cells,
        )

    @property
    def fail_open(self) -> Window:
        return self.window(Observation.FAIL_OPEN)

    @property
    def fail_closed(self) -> Window:
        return self.window(Observation.FAIL_CLOSED)

    @property
    def violated(self) -> bool:
        return any(s.state.violation for t in self.cells for s in t.segments)

    @property
    def held(self) -> bool:
        """Converged, and only the old or the new state was ever seen."""
        return self.converged and not self.violated

    def to_dict(self) -> dict[str, Any]:
        return {
            "phase": str(self.phase),
            "started_s": round(self.started_s, 6),
            "action_s": round(self.action_s, 6),
            "observed_s": round(self.observed_s, 6),
            "rounds": self.rounds,
            "interval_s": self.interval_s,
            "resolution_s": round(self.resolution_s, 6),
            "converged": self.converged,
            "convergence_s": _rounded(self.convergence_s),
            "note": self.note,
            "windows": {
                str(state): self.window(state).to_dict()
                for state in Observation
                if state is not Observation.MATCH
            },
            "cells": [t.to_dict() for t in self.cells],
        }


@dataclass(frozen=True, slots=True)
class StepResult:
    index: int
    name: str
    kind: StepKind
    action: str
    status: StepStatus
    description: str = ""
    before: PhaseResult | None = None
    change: PhaseResult | None = None
    rollback: PhaseResult | None = None
    note: str = ""
    error: str = ""
    rollback_error: str = ""

    @property
    def phases(self) -> tuple[PhaseResult, ...]:
        return tuple(p for p in (self.before, self.change, self.rollback) if p is not None)

    @property
    def ok(self) -> bool:
        """The step ran; the steady state held before it; during the action and the rollback
        only the old or the new state was seen; and each settled on the new one in time."""
        return (
            self.status is StepStatus.COMPLETED
            and not self.rollback_error
            and self.before is not None
            and self.before.converged
            and self.change is not None
            and self.change.held
            and self.rollback is not None
            and self.rollback.held
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "name": self.name,
            "kind": str(self.kind),
            "action": self.action,
            "description": self.description,
            "status": str(self.status),
            "ok": self.ok,
            "note": self.note,
            "error": self.error,
            "rollback_error": self.rollback_error,
            "phases": [p.to_dict() for p in self.phases],
        }


@dataclass(frozen=True, slots=True)
class ExperimentResult:
    """A whole experiment; times on the cluster's clock, ``started_at`` on the wall clock."""

    scenario: str
    scenario_hash: str
    backend: str
    cluster: str
    baseline: str
    interval_s: float
    hold_s: float
    watched: tuple[WatchedCell, ...]
    steps: tuple[StepResult, ...]
    started_at: datetime
    duration_s: float
    baseline_phase: PhaseResult | None = None
    backend_versions: tuple[tuple[str, str], ...] = ()
    note: str = ""

    @property
    def ok(self) -> bool:
        settled = self.baseline_phase is None or self.baseline_phase.converged
        return settled and all(s.ok for s in self.steps)

    def step(self, name: str) -> StepResult:
        for step in self.steps:
            if step.name == name:
                return step
        raise KeyError(name)

    def to_dict(self) -> dict[str, Any]:
        return {
            "scenario": self.scenario,
            "scenario_hash": self.scenario_hash,
            "backend": self.backend,
            "cluster": self.cluster,
            "backend_versions": dict(self.backend_versions),
            "baseline": self.baseline,
            "interval_s": self.interval_s,
            "hold_s": self.hold_s,
            "started_at": self.started_at.isoformat(),
            "duration_s": round(self.duration_s, 6),
            "ok": self.ok,
            "note": self.note,
            "watched": [c.to_dict() for c in self.watched],
            "baseline_phase": self.baseline_phase.to_dict() if self.baseline_phase else None,
            "steps": [s.to_dict() for s in self.steps],
        }


def _rounded(value: float | None) -> float | None:
    return round(value, 6) if value is not None else None
