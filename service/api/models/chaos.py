"""The chaos endpoints' query parameters and the shapes of their answers.

The answers are what :mod:`service.chaos` serialises (``to_dict()`` of its
frozen values), described here for the OpenAPI document: an experiment with
its steps, each step's phases with their windows and per-cell segments, and
the timeline the dashboard draws.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field
from typing_extensions import TypedDict

from service.api.models.common import Id, Name, Query
from service.api.models.requests import PageQuery
from service.chaos.results import Observation, Phase, StepStatus
from service.scenario.chaos import StepKind
from service.scenario.model import Verdict

__all__ = [
    "ExperimentListQuery",
    "ExperimentSummaryView",
    "ExperimentView",
    "StepHistoryQuery",
    "StepHistoryView",
]


class ExperimentListQuery(PageQuery):
    scenario: Name | None = Field(default=None, description="The scenario's name.")
    scenario_id: Id | None = None
    limit: Annotated[int, Field(ge=1, le=200, description="Items per page (1 to 200).")] = 50


class StepHistoryQuery(Query):
    scenario: Name = Field(description="The scenario's name.")
    step: Name = Field(description="The step's name.")
    limit: Annotated[int, Field(ge=1, le=200, description="The latest N experiments.")] = 50


class ExperimentSummaryView(TypedDict):
    """One experiment in a line; the worst windows and the slowest convergence are over
    the action and rollback phases of every step (null: one did not converge)."""

    id: int
    scenario: str
    revision_id: int
    backend: str
    started_at: str
    duration_s: float
    ok: bool
    steps: int
    steps_not_held: int
    worst_fail_open_s: float
    worst_fail_closed_s: float
    slowest_convergence_s: float | None


class WatchedCellView(TypedDict):
    key: str
    source: str
    target: str
    probe: str


class CellSeconds(TypedDict):
    key: str
    seconds: float


class WindowView(TypedDict):
    """How long at least one cell was in ``state`` (seconds since the phase's action
    began), and each cell seen in it with its own time."""

    state: Observation
    seconds: float
    start_s: float | None
    end_s: float | None
    cells: list[CellSeconds]


# The keys are observations with hyphens: only the functional form can say them.
Windows = TypedDict(
    "Windows",
    {
        "fail-open": WindowView,
        "stale-open": WindowView,
        "fail-closed": WindowView,
        "stale-closed": WindowView,
        "unavailable": WindowView,
    },
)

# [observation, start_s, end_s, samples]: consecutive probes of one cell alike.
SegmentView = tuple[Observation, float, float, int]


class CellTraceView(TypedDict):
    key: str
    old: Verdict
    new: Verdict
    converged_s: float | None
    segments: list[SegmentView]
    detail: str


class PhaseView(TypedDict):
    phase: Phase
    started_s: float
    action_s: float
    observed_s: float
    rounds: int
    interval_s: float
    resolution_s: float
    converged: bool
    convergence_s: float | None
    note: str
    windows: Windows
    cells: list[CellTraceView]


class StepView(TypedDict):
    index: int
    name: str
    kind: StepKind
    action: str
    description: str
    status: StepStatus
    ok: bool
    note: str
    error: str
    rollback_error: str
    phases: list[PhaseView]


class LaneView(TypedDict):
    key: str
    label: str


class BandView(TypedDict):
    lane: str
    start_s: float
    end_s: float
    state: str
    step: str


class MarkerView(TypedDict):
    at_s: float
    kind: str
    step: str
    phase: str


class TimelineView(TypedDict):
    """Seconds since the experiment started. The ``steps`` lane holds the phases; every
    other lane is a watched cell (its pair key) with the bands where it deviated."""

    duration_s: float
    lanes: list[LaneView]
    bands: list[BandView]
    markers: list[MarkerView]


class ExperimentView(TypedDict):
    """A stored experiment whole: its settings, steps, phases, windows and timeline."""

    id: int
    scenario_id: int
    revision_id: int
    options: dict[str, Any]
    scenario: str
    scenario_hash: str
    backend: str
    cluster: str
    backend_versions: dict[str, str]
    baseline: str
    interval_s: float
    hold_s: float
    started_at: str
    duration_s: float
    ok: bool
    note: str
    watched: list[WatchedCellView]
    baseline_phase: PhaseView | None
    steps: list[StepView]
    timeline: TimelineView


class StepPointView(TypedDict):
    experiment_id: int
    started_at: str
    status: StepStatus
    ok: bool
    convergence_s: float | None
    rollback_s: float | None
    fail_open_s: float
    fail_closed_s: float


class StepHistoryView(TypedDict):
    """One step across the scenario's latest experiments, oldest first."""

    scenario: str
    step: str
    points: list[StepPointView]
