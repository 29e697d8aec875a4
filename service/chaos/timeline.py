"""An experiment laid out on one time axis, for drawing: lanes, bands and markers.

Every time is seconds since the experiment started. The first lane holds the
phases (baseline, then each step's before, action and rollback); then one lane
per watched cell holds the windows in which it deviated (fail-open,
stale-open, fail-closed, stale-closed, unavailable). Markers are the moments an
action (or rollback) began and the moments the cells settled.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from service.chaos.results import ExperimentResult, Observation, Phase, PhaseResult

__all__ = ["STEPS_LANE", "Band", "Lane", "Marker", "Timeline", "timeline"]

STEPS_LANE = "steps"


@dataclass(frozen=True, slots=True)
class Lane:
    """``key``: ``steps``, or a watched cell's pair key; ``label`` as a person reads it."""

    key: str
    label: str


@dataclass(frozen=True, slots=True)
class Band:
    """A span on a lane. ``state``: the phase on the steps lane, the observation on a cell's
    lane. ``step``: the step's name ("" for the baseline)."""

    lane: str
    start_s: float
    end_s: float
    state: str
    step: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "lane": self.lane,
            "start_s": round(self.start_s, 6),
            "end_s": round(self.end_s, 6),
            "state": self.state,
            "step": self.step,
        }


@dataclass(frozen=True, slots=True)
class Marker:
    """``kind``: ``action`` (an action or a rollback began) or ``converged``."""

    at_s: float
    kind: str
    step: str
    phase: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "at_s": round(self.at_s, 6),
            "kind": self.kind,
            "step": self.step,
            "phase": self.phase,
        }


@dataclass(frozen=True, slots=True)
class Timeline:
    duration_s: float
    lanes: tuple[Lane, ...]
    bands: tuple[Band, ...]
    markers: tuple[Marker, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "duration_s": round(self.duration_s, 6),
            "lanes": [{"key": lane.key, "label": lane.label} for lane in self.lanes],
            "bands": [b.to_dict() for b in self.bands],
            "markers": [m.to_dict() for m in self.markers],
        }


def timeline(result: ExperimentResult) -> Timeline:
    """The experiment's timeline: phases on the steps lane, deviations on each cell's."""
    phases: list[tuple[str, PhaseResult]] = []
    if result.baseline_phase is not None:
        phases.append(("", result.baseline_phase))
    for step in result.steps:
        phases.extend((step.name, p) for p in step.phases)
    bands: list[Band] = []
    markers: list[Marker] = []
    for name, phase in phases:
        start = phase.started_s
        bands.append(Band(STEPS_LANE, start, start + phase.observed_s, str(phase.phase), name))
        if phase.phase is not Phase.BEFORE:
            markers.append(Marker(start, "action", name, str(phase.phase)))
            if phase.converged and phase.convergence_s is not None:
                at = start + phase.convergence_s
                markers.append(Marker(at, "converged", name, str(phase.phase)))
        for trace in phase.cells:
            bands.extend(
                Band(trace.cell.key, start + s.start_s, start + s.end_s, str(s.state), name)
                for s in trace.segments
                if s.state is not Observation.MATCH and s.end_s > s.start_s
            )
    lanes = (Lane(STEPS_LANE, "steps"), *(Lane(c.key, str(c)) for c in result.watched))
    return Timeline(result.duration_s, lanes, tuple(bands), tuple(markers))
