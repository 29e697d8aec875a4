"""Storing a chaos experiment: its scenario revision, the experiment, its steps and phases.

One transaction writes it all, after the experiment ran (an experiment is
minutes long and its results are small). The scenario revision is the one runs
point at too (:func:`service.runs.revisions.store_revision`), so an experiment
and a run of the same content share their revision.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from service.chaos.results import ExperimentResult, Observation, PhaseResult
from service.runs.revisions import store_revision
from service.runs.transactions import writing
from service.scenario.model import Scenario
from service.store.chaos_models import BASELINE_STEP, ChaosExperiment, ChaosPhase, ChaosStep
from service.store.enums import Backend

__all__ = ["store_experiment"]


def store_experiment(
    sessions: sessionmaker[Session],
    result: ExperimentResult,
    *,
    scenario: Scenario,
    source_text: str | None = None,
    options: Mapping[str, Any] | None = None,
) -> int:
    """Store ``result`` (an experiment of ``scenario``); its id."""
    with writing(sessions) as session:
        revision = store_revision(session, scenario, source_text=source_text)
        experiment = ChaosExperiment(
            scenario_id=revision.scenario_id,
            revision_id=revision.id,
            backend=Backend(result.backend),
            cluster=result.cluster,
            cluster_versions=dict(result.backend_versions),
            baseline=result.baseline,
            interval_s=result.interval_s,
            hold_s=result.hold_s,
            started_at=result.started_at,
            duration_s=result.duration_s,
            ok=result.ok,
            watched=[c.to_dict() for c in result.watched],
            note=result.note,
            options=dict(options or {}),
        )
        session.add(experiment)
        session.flush()
        rows: list[ChaosStep | ChaosPhase] = []
        if result.baseline_phase is not None:
            rows.append(_phase_row(experiment.id, BASELINE_STEP, result.baseline_phase))
        for step in result.steps:
            rows.append(
                ChaosStep(
                    experiment_id=experiment.id,
                    step_index=step.index,
                    name=step.name,
                    kind=str(step.kind),
                    action=step.action,
                    description=step.description,
                    status=str(step.status),
                    ok=step.ok,
                    note=step.note,
                    error=step.error,
                    rollback_error=step.rollback_error,
                )
            )
            rows.extend(_phase_row(experiment.id, step.index, p) for p in step.phases)
        session.add_all(rows)
        return experiment.id


def _phase_row(experiment_id: int, step_index: int, phase: PhaseResult) -> ChaosPhase:
    return ChaosPhase(
        experiment_id=experiment_id,
        step_index=step_index,
        phase=str(phase.phase),
        started_s=phase.started_s,
        action_s=phase.action_s,
        observed_s=phase.observed_s,
        rounds=phase.rounds,
        interval_s=phase.interval_s,
        resolution_s=phase.resolution_s,
        converged=phase.converged,
        convergence_s=phase.convergence_s,
        fail_open_s=phase.window(Observation.FAIL_OPEN).seconds,
        fail_closed_s=phase.window(Observation.FAIL_CLOSED).seconds,
        stale_open_s=phase.window(Observation.STALE_OPEN).seconds,
        stale_closed_s=phase.window(Observation.STALE_CLOSED).seconds,
        unavailable_s=phase.window(Observation.UNAVAILABLE).seconds,
        note=phase.note,
        cells=[t.to_dict() for t in phase.cells],
    )
