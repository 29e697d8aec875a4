"""The chaos tables: experiments, their steps, and each phase's measurements.

An experiment ran one scenario revision's chaos steps on one backend. Each step
has up to three phases (before, action, rollback), and the experiment itself a
baseline phase (``step_index`` -1): the first apply of the baseline version.
A phase row keeps its figures as columns, so trends (how a step's convergence
time or fail-open window moves from experiment to experiment) are plain
queries, and the per-cell segments (what the timeline draws) as JSON.

The words in ``kind``, ``status`` and ``phase`` are the values of
:class:`service.scenario.chaos.StepKind` and of ``StepStatus`` and ``Phase`` in
:mod:`service.chaos.results`; the CHECKs list them here so the store does not
import the chaos package (a test keeps both lists equal). Deleting a scenario or
its revision deletes its experiments; deleting an experiment deletes its steps
and phases.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from service.store.base import Base, UTCDateTime, json_default_dict, string_enum, utc_now
from service.store.enums import Backend
from service.store.models import NAME, NAMESPACE, Scenario, ScenarioRevision

__all__ = [
    "BASELINE_STEP",
    "PHASES",
    "STEP_KINDS",
    "STEP_STATUSES",
    "ChaosExperiment",
    "ChaosPhase",
    "ChaosStep",
]

STEP_KINDS = (
    "switch_version",
    "label_namespace",
    "label_pod",
    "recreate_pods",
    "default_deny",
    "restart_calico",
)
STEP_STATUSES = ("completed", "failed", "unsteady", "skipped")
PHASES = ("baseline", "before", "action", "rollback")
# The step_index of an experiment's baseline phase, which belongs to no step.
BASELINE_STEP = -1


def _one_of(column: str, values: tuple[str, ...]) -> CheckConstraint:
    allowed = ", ".join(f"'{v}'" for v in values)
    return CheckConstraint(f'"{column}" IN ({allowed})', name=column)


class ChaosExperiment(Base):
    __tablename__ = "chaos_experiments"
    __table_args__ = (Index(None, "scenario_id", "started_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    scenario_id: Mapped[int] = mapped_column(ForeignKey("scenarios.id", ondelete="CASCADE"))
    revision_id: Mapped[int] = mapped_column(
        ForeignKey("scenario_revisions.id", ondelete="CASCADE"), index=True
    )
    backend: Mapped[Backend] = mapped_column(string_enum(Backend, name="backend", length=16))
    # The cluster as the backend describes it, and its component versions.
    cluster: Mapped[str] = mapped_column(Text)
    cluster_versions: Mapped[dict[str, Any]] = mapped_column(JSON, default=json_default_dict)
    baseline: Mapped[str] = mapped_column(String(NAME))
    interval_s: Mapped[float] = mapped_column(Float)
    hold_s: Mapped[float] = mapped_column(Float)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    duration_s: Mapped[float] = mapped_column(Float)
    ok: Mapped[bool] = mapped_column(Boolean)
    # The watched cells: [{key, source, target, probe}], in probe order.
    watched: Mapped[list[Any]] = mapped_column(JSON)
    note: Mapped[str] = mapped_column(Text, default="")
    # How it was run: step selection, overrides, the simulator's seed and delays.
    options: Mapped[dict[str, Any]] = mapped_column(JSON, default=json_default_dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utc_now)

    scenario: Mapped[Scenario] = relationship()
    revision: Mapped[ScenarioRevision] = relationship()
    steps: Mapped[list[ChaosStep]] = relationship(
        back_populates="experiment",
        cascade="all, delete",
        passive_deletes=True,
        order_by="ChaosStep.step_index",
    )


class ChaosStep(Base):
    __tablename__ = "chaos_steps"
    __table_args__ = (_one_of("kind", STEP_KINDS), _one_of("status", STEP_STATUSES))

    experiment_id: Mapped[int] = mapped_column(
        ForeignKey("chaos_experiments.id", ondelete="CASCADE"), primary_key=True
    )
    step_index: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    name: Mapped[str] = mapped_column(String(NAMESPACE))
    kind: Mapped[str] = mapped_column(String(32))
    # The action in words ("relabel namespace production (purpose=development)").
    action: Mapped[str] = mapped_column(Text)
    description: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(16))
    ok: Mapped[bool] = mapped_column(Boolean)
    note: Mapped[str] = mapped_column(Text, default="")
    error: Mapped[str] = mapped_column(Text, default="")
    rollback_error: Mapped[str] = mapped_column(Text, default="")

    experiment: Mapped[ChaosExperiment] = relationship(back_populates="steps")


class ChaosPhase(Base):
    """One phase's figures; seconds are from the start of its action, ``started_s`` from
    the start of the experiment."""

    __tablename__ = "chaos_phases"
    __table_args__ = (_one_of("phase", PHASES),)

    # To the experiment, not the step: the baseline phase (step -1) belongs to no step.
    experiment_id: Mapped[int] = mapped_column(
        ForeignKey("chaos_experiments.id", ondelete="CASCADE"), primary_key=True
    )
    step_index: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    phase: Mapped[str] = mapped_column(String(16), primary_key=True)
    started_s: Mapped[float] = mapped_column(Float)
    action_s: Mapped[float] = mapped_column(Float)
    observed_s: Mapped[float] = mapped_column(Float)
    rounds: Mapped[int] = mapped_column(Integer)
    interval_s: Mapped[float] = mapped_column(Float)
    resolution_s: Mapped[float] = mapped_column(Float)
    converged: Mapped[bool] = mapped_column(Boolean)
    convergence_s: Mapped[float | None] = mapped_column(Float)
    # How long at least one watched cell was in each state (0 when none was).
    fail_open_s: Mapped[float] = mapped_column(Float, default=0.0)
    fail_closed_s: Mapped[float] = mapped_column(Float, default=0.0)
    stale_open_s: Mapped[float] = mapped_column(Float, default=0.0)
    stale_closed_s: Mapped[float] = mapped_column(Float, default=0.0)
    unavailable_s: Mapped[float] = mapped_column(Float, default=0.0)
    note: Mapped[str] = mapped_column(Text, default="")
    # Per watched cell: {key, old, new, converged_s, segments: [[state, start, end, n]], detail}.
    cells: Mapped[list[Any]] = mapped_column(JSON)
