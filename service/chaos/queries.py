"""Reading stored chaos experiments: the read API for the dashboard, the REST API and the CLI.

- :func:`list_experiments`: the latest experiments (of a scenario), newest first,
  each summed up in a line's worth of figures;
- :func:`load_experiment`: one experiment rebuilt as the same
  :class:`~service.chaos.results.ExperimentResult` the executor returned (per
  cell segments included), ready for :func:`service.chaos.timeline.timeline`;
- :func:`step_history`: one step's figures across a scenario's experiments,
  oldest first, for trend charts.

Every function takes an open session and only reads. Values are frozen and have
``to_dict()`` for JSON.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

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
)
from service.scenario.chaos import StepKind
from service.scenario.model import Verdict
from service.store.chaos_models import BASELINE_STEP, ChaosExperiment, ChaosPhase, ChaosStep
from service.store.models import Scenario

__all__ = [
    "ExperimentSummary",
    "StepPoint",
    "StoredExperiment",
    "list_experiments",
    "load_experiment",
    "step_history",
]


@dataclass(frozen=True, slots=True)
class ExperimentSummary:
    """One stored experiment in a line. The worst windows and the slowest convergence are
    over the action and rollback phases of every step."""

    id: int
    scenario: str
    revision_id: int
    backend: str
    started_at: datetime
    duration_s: float
    ok: bool
    steps: int
    steps_not_held: int
    worst_fail_open_s: float
    worst_fail_closed_s: float
    slowest_convergence_s: float | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "scenario": self.scenario,
            "revision_id": self.revision_id,
            "backend": self.backend,
            "started_at": self.started_at.isoformat(),
            "duration_s": self.duration_s,
            "ok": self.ok,
            "steps": self.steps,
            "steps_not_held": self.steps_not_held,
            "worst_fail_open_s": self.worst_fail_open_s,
            "worst_fail_closed_s": self.worst_fail_closed_s,
            "slowest_convergence_s": self.slowest_convergence_s,
        }


@dataclass(frozen=True, slots=True)
class StoredExperiment:
    id: int
    scenario_id: int
    revision_id: int
    options: Mapping[str, Any]
    result: ExperimentResult

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "scenario_id": self.scenario_id,
            "revision_id": self.revision_id,
            "options": dict(self.options),
            **self.result.to_dict(),
        }


@dataclass(frozen=True, slots=True)
class StepPoint:
    """One step of one experiment: its action's convergence and windows, its rollback's
    convergence (None: did not converge, or the phase did not run)."""

    experiment_id: int
    started_at: datetime
    status: str
    ok: bool
    convergence_s: float | None
    rollback_s: float | None
    fail_open_s: float
    fail_closed_s: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "experiment_id": self.experiment_id,
            "started_at": self.started_at.isoformat(),
            "status": self.status,
            "ok": self.ok,
            "convergence_s": self.convergence_s,
            "rollback_s": self.rollback_s,
            "fail_open_s": self.fail_open_s,
            "fail_closed_s": self.fail_closed_s,
        }


def list_experiments(
    session: Session,
    *,
    scenario: str | None = None,
    limit: int = 50,
    before_id: int | None = None,
) -> list[ExperimentSummary]:
    """The latest experiments, newest first; ``before_id`` pages back (ids below it)."""
    query = (
        select(ChaosExperiment, Scenario.name)
        .join(Scenario, Scenario.id == ChaosExperiment.scenario_id)
        .order_by(ChaosExperiment.id.desc())
        .limit(max(1, limit))
    )
    if scenario is not None:
        query = query.where(Scenario.name == scenario)
    if before_id is not None:
        query = query.where(ChaosExperiment.id < before_id)
    found = session.execute(query).all()
    ids = [experiment.id for experiment, _ in found]
    steps = _by_experiment(
        session.scalars(select(ChaosStep).where(ChaosStep.experiment_id.in_(ids)))
    )
    phases = _by_experiment(
        session.scalars(
            select(ChaosPhase).where(
                ChaosPhase.experiment_id.in_(ids), ChaosPhase.step_index != BASELINE_STEP
            )
        )
    )
    out = []
    for experiment, name in found:
        its_phases = [p for p in phases.get(experiment.id, []) if p.phase != str(Phase.BEFORE)]
        times = [p.convergence_s for p in its_phases]
        its_steps = steps.get(experiment.id, [])
        out.append(
            ExperimentSummary(
                id=experiment.id,
                scenario=name,
                revision_id=experiment.revision_id,
                backend=str(experiment.backend),
                started_at=experiment.started_at,
                duration_s=experiment.duration_s,
                ok=experiment.ok,
                steps=len(its_steps),
                steps_not_held=sum(1 for s in its_steps if not s.ok),
                worst_fail_open_s=max((p.fail_open_s for p in its_phases), default=0.0),
                worst_fail_closed_s=max((p.fail_closed_s for p in its_phases), default=0.0),
                slowest_convergence_s=(
                    None
                    if any(t is None for t in times)
                    else max((t for t in times if t is not None), default=0.0)
                ),
            )
        )
    return out


def load_experiment(session: Session, experiment_id: int) -> StoredExperiment | None:
    """The stored experiment, rebuilt whole; None when there is none with this id."""
    experiment = session.get(ChaosExperiment, experiment_id)
    if experiment is None:
        return None
    name = session.scalars(select(Scenario.name).where(Scenario.id == experiment.scenario_id)).one()
    revision_hash = experiment.revision.content_hash
    watched = tuple(
        WatchedCell(str(c["key"]), str(c["source"]), str(c["target"]), str(c["probe"]))
        for c in experiment.watched
    )
    cells = {c.key: c for c in watched}
    phases: dict[int, dict[Phase, PhaseResult]] = {}
    for row in session.scalars(select(ChaosPhase).where(ChaosPhase.experiment_id == experiment_id)):
        phases.setdefault(row.step_index, {})[Phase(row.phase)] = _phase(row, cells)
    steps = tuple(_step(row, phases.get(row.step_index, {})) for row in experiment.steps)
    result = ExperimentResult(
        scenario=name,
        scenario_hash=revision_hash,
        backend=str(experiment.backend),
        cluster=experiment.cluster,
        backend_versions=tuple((str(k), str(v)) for k, v in experiment.cluster_versions.items()),
        baseline=experiment.baseline,
        interval_s=experiment.interval_s,
        hold_s=experiment.hold_s,
        watched=watched,
        steps=steps,
        started_at=experiment.started_at,
        duration_s=experiment.duration_s,
        baseline_phase=phases.get(BASELINE_STEP, {}).get(Phase.BASELINE),
        note=experiment.note,
    )
    return StoredExperiment(
        id=experiment.id,
        scenario_id=experiment.scenario_id,
        revision_id=experiment.revision_id,
        options=dict(experiment.options),
        result=result,
    )


def step_history(session: Session, *, scenario: str, step: str, limit: int = 50) -> list[StepPoint]:
    """The step named ``step`` in the latest ``limit`` experiments of ``scenario``, oldest
    first."""
    rows = session.execute(
        select(ChaosStep, ChaosExperiment.started_at)
        .join(ChaosExperiment, ChaosExperiment.id == ChaosStep.experiment_id)
        .join(Scenario, Scenario.id == ChaosExperiment.scenario_id)
        .where(Scenario.name == scenario, ChaosStep.name == step)
        .order_by(ChaosExperiment.id.desc())
        .limit(max(1, limit))
    ).all()
    ids = [row.experiment_id for row, _ in rows]
    phases: dict[tuple[int, int, str], ChaosPhase] = {
        (p.experiment_id, p.step_index, p.phase): p
        for p in session.scalars(select(ChaosPhase).where(ChaosPhase.experiment_id.in_(ids)))
    }
    out = []
    for row, started_at in reversed(rows):
        action = phases.get((row.experiment_id, row.step_index, str(Phase.ACTION)))
        rollback = phases.get((row.experiment_id, row.step_index, str(Phase.ROLLBACK)))
        out.append(
            StepPoint(
                experiment_id=row.experiment_id,
                started_at=started_at,
                status=row.status,
                ok=row.ok,
                convergence_s=action.convergence_s if action is not None else None,
                rollback_s=rollback.convergence_s if rollback is not None else None,
                fail_open_s=action.fail_open_s if action is not None else 0.0,
                fail_closed_s=action.fail_closed_s if action is not None else 0.0,
            )
        )
    return out


# --- rebuilding values ----------------------------------------------------------------------


def _by_experiment(rows: Any) -> dict[int, list[Any]]:
    out: dict[int, list[Any]] = {}
    for row in rows:
        out.setdefault(row.experiment_id, []).append(row)
    return out


def _phase(row: ChaosPhase, cells: Mapping[str, WatchedCell]) -> PhaseResult:
    return PhaseResult(
        phase=Phase(row.phase),
        started_s=row.started_s,
        action_s=row.action_s,
        observed_s=row.observed_s,
        rounds=row.rounds,
        interval_s=row.interval_s,
        resolution_s=row.resolution_s,
        converged=row.converged,
        convergence_s=row.convergence_s,
        cells=tuple(_trace(item, cells) for item in row.cells),
        note=row.note,
    )


def _trace(item: Mapping[str, Any], cells: Mapping[str, WatchedCell]) -> CellTrace:
    key = str(item["key"])
    cell = cells.get(key) or WatchedCell(key, "?", "?", "?")
    segments = tuple(_segment(s) for s in item.get("segments") or [])
    converged = item.get("converged_s")
    return CellTrace(
        cell=cell,
        old=Verdict(item["old"]),
        new=Verdict(item["new"]),
        segments=segments,
        converged_s=float(converged) if converged is not None else None,
        detail=str(item.get("detail") or ""),
    )


def _segment(item: Sequence[Any]) -> Segment:
    state, start, end, samples = item
    return Segment(Observation(state), float(start), float(end), int(samples))


def _step(row: ChaosStep, phases: Mapping[Phase, PhaseResult]) -> StepResult:
    return StepResult(
        index=row.step_index,
        name=row.name,
        kind=StepKind(row.kind),
        action=row.action,
        status=StepStatus(row.status),
        description=row.description,
        before=phases.get(Phase.BEFORE),
        change=phases.get(Phase.ACTION),
        rollback=phases.get(Phase.ROLLBACK),
        note=row.note,
        error=row.error,
        rollback_error=row.rollback_error,
    )
