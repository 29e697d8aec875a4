"""Chaos experiments: perturb a cluster while probing, measure convergence and windows.

A scenario's ``chaos`` section (:mod:`service.scenario.chaos`) lists steps; each
runs in order while the watched cells are probed at a fixed interval, with a
steady-state hypothesis (the engine's matrix) checked before, during and after
it and a rollback that always runs. docs/chaos.md describes the semantics.

- :mod:`.execute`: :func:`run_experiment`, the step loop;
- :mod:`.actions`: each action, predicted (for the engine), made and undone;
- :mod:`.state`: the engine's view of the cluster and its expected matrix;
- :mod:`.watch`: which cells are watched;
- :mod:`.observe`: probing at a fixed interval through a phase;
- :mod:`.measure` and :mod:`.results`: what the probes mean (windows, convergence);
- :mod:`.render`: tables and JSON;
- :mod:`.storing`, :mod:`.queries`, :mod:`.timeline`: the store, and the read API
  for the dashboard and the REST API.
"""

from service.chaos.execute import ChaosOptions, run_experiment
from service.chaos.queries import (
    ExperimentSummary,
    StepPoint,
    StoredExperiment,
    list_experiments,
    load_experiment,
    step_history,
)
from service.chaos.results import (
    CellTrace,
    ExperimentResult,
    Observation,
    Phase,
    PhaseResult,
    Segment,
    StepResult,
    StepStatus,
    WatchedCell,
    Window,
)
from service.chaos.storing import store_experiment
from service.chaos.timeline import Band, Lane, Marker, Timeline, timeline

__all__ = [
    "Band",
    "CellTrace",
    "ChaosOptions",
    "ExperimentResult",
    "ExperimentSummary",
    "Lane",
    "Marker",
    "Observation",
    "Phase",
    "PhaseResult",
    "Segment",
    "StepPoint",
    "StepResult",
    "StepStatus",
    "StoredExperiment",
    "Timeline",
    "WatchedCell",
    "Window",
    "list_experiments",
    "load_experiment",
    "run_experiment",
    "step_history",
    "store_experiment",
    "timeline",
]
