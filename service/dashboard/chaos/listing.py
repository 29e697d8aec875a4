"""The dashboard's reads of stored chaos experiments beyond one experiment: each scenario's
latest, and each step's figures across a scenario's experiments (trends).

Thin over :mod:`service.chaos.queries`; only the scenario names that have
experiments are looked up here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from service.chaos import ExperimentSummary, StepPoint, list_experiments, step_history
from service.store.chaos_models import ChaosExperiment
from service.store.models import Scenario

__all__ = ["StepTrend", "latest_by_scenario", "scenarios_with_experiments", "step_trends"]


def scenarios_with_experiments(session: Session) -> list[str]:
    """Names of the scenarios that have at least one stored experiment, sorted."""
    return sorted(
        session.scalars(
            select(Scenario.name)
            .join(ChaosExperiment, ChaosExperiment.scenario_id == Scenario.id)
            .distinct()
        )
    )


def latest_by_scenario(session: Session) -> dict[str, ExperimentSummary]:
    """Each scenario's newest experiment, by scenario name (scenarios without one absent)."""
    out = {}
    for name in scenarios_with_experiments(session):
        found = list_experiments(session, scenario=name, limit=1)
        if found:
            out[name] = found[0]
    return out


@dataclass(frozen=True, slots=True)
class StepTrend:
    """One step of a scenario across its latest experiments, oldest first."""

    name: str
    points: tuple[StepPoint, ...]

    @property
    def held(self) -> int:
        return sum(1 for p in self.points if p.ok)

    @property
    def worst_fail_open_s(self) -> float:
        return max((p.fail_open_s for p in self.points), default=0.0)

    @property
    def worst_fail_closed_s(self) -> float:
        return max((p.fail_closed_s for p in self.points), default=0.0)

    @property
    def slowest_s(self) -> float | None:
        """The slowest convergence of the action; None when one did not converge."""
        times = [p.convergence_s for p in self.points if p.status == "completed"]
        if any(t is None for t in times):
            return None
        return max((t for t in times if t is not None), default=0.0)


def step_trends(
    session: Session, scenario: str, steps: Sequence[str], *, limit: int = 20
) -> list[StepTrend]:
    """For each of ``steps`` (in that order), its last ``limit`` experiments."""
    return [
        StepTrend(name, tuple(step_history(session, scenario=scenario, step=name, limit=limit)))
        for name in steps
    ]
