"""What a finished run found that is worth waking someone for.

Three reasons, each computed with :mod:`service.compare` over the stored runs:

- ``regressions``: the run has cells whose observed verdict is not the expected one;
- ``alarm-drift``: against the finished run of the scenario before it on the
  same cluster, cells changed while the policy content of their version did not;
- ``new-flakes``: cells flaky over the last ``window`` finished runs on the
  cluster ending at this run that were not flaky over the window ending at the
  run before: a flake is news once, not every night it keeps flaking.

The history is the run's cluster's (:mod:`service.runs.history`), as everywhere
else drift is shown: a scenario run alternately on two clusters would otherwise
alarm on the difference between the clusters, every run.

A run that did not complete (failed with an error, cancelled) finds nothing:
its cells are partial and its alarms would be noise.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Final

from sqlalchemy import select
from sqlalchemy.orm import Session

from service.compare import RunColumns, drift_counts, flakes, regressions
from service.queries.records import run_columns, run_record
from service.queries.runs import run_and_scenario_name
from service.runs.history import same_cluster_as
from service.store.enums import RunStatus
from service.store.models import Run

__all__ = ["Finding", "Reason", "RegressionNote", "RunFindings", "run_findings"]

# Regressions quoted in a notification; the run page lists them all.
QUOTED: Final = 5
_FINISHED: Final = (RunStatus.SUCCEEDED, RunStatus.FAILED)


class Reason(StrEnum):
    REGRESSIONS = "regressions"
    ALARM_DRIFT = "alarm-drift"
    NEW_FLAKES = "new-flakes"


@dataclass(frozen=True, slots=True)
class RegressionNote:
    """One regression as a notification quotes it."""

    version: str
    cell: str
    expected: str
    observed: str
    explanation: str


@dataclass(frozen=True, slots=True)
class Finding:
    reason: Reason
    count: int


@dataclass(frozen=True, slots=True)
class RunFindings:
    """A run's numbers and the reasons they give to notify (none: a clean run)."""

    run_id: int
    scenario_id: int
    scenario: str
    status: RunStatus
    schedule_id: int | None
    cells: int
    regressions: int
    alarm_drift: int
    expected_drift: int
    new_flakes: tuple[str, ...]
    previous_run_id: int | None
    quoted: tuple[RegressionNote, ...] = ()

    @property
    def findings(self) -> tuple[Finding, ...]:
        out = []
        if self.regressions:
            out.append(Finding(Reason.REGRESSIONS, self.regressions))
        if self.alarm_drift:
            out.append(Finding(Reason.ALARM_DRIFT, self.alarm_drift))
        if self.new_flakes:
            out.append(Finding(Reason.NEW_FLAKES, len(self.new_flakes)))
        return tuple(out)

    @property
    def reasons(self) -> tuple[Reason, ...]:
        return tuple(f.reason for f in self.findings)


def _history_ids(session: Session, run: Run, limit: int) -> list[int]:
    """The newest ``limit`` finished runs of the run's scenario on its cluster, up to and
    including it, oldest first: the one before it is the run
    :func:`service.runs.history.previous_run_id` names."""
    query = (
        select(Run.id)
        .where(
            Run.scenario_id == run.scenario_id,
            Run.status.in_(_FINISHED),
            same_cluster_as(str(run.backend), run.cluster),
            (Run.created_at < run.created_at)
            | ((Run.created_at == run.created_at) & (Run.id <= run.id)),
        )
        .order_by(Run.created_at.desc(), Run.id.desc())
        .limit(limit)
    )
    return list(reversed(session.scalars(query).all()))


def _flaky_keys(history: list[RunColumns], window: int) -> frozenset[str]:
    if not history:
        return frozenset()
    return flakes(history, window=window).cell_keys


def run_findings(session: Session, run_id: int, *, window: int) -> RunFindings | None:
    """What run ``run_id`` found; None when there is no such run."""
    found = run_and_scenario_name(session, run_id)
    if found is None:
        return None
    run, scenario = found
    complete = run.status in _FINISHED and run.error is None
    base = RunFindings(
        run_id=run.id,
        scenario_id=run.scenario_id,
        scenario=scenario,
        status=run.status,
        schedule_id=run.schedule_id,
        cells=run.planned_cells,
        regressions=run.regressions if complete else 0,
        alarm_drift=0,
        expected_drift=0,
        new_flakes=(),
        previous_run_id=None,
    )
    if not complete:
        return base
    # One more than the window: the window ending at the previous run starts one earlier.
    ids = _history_ids(session, run, window + 1)
    columns = [c for c in (run_columns(session, i) for i in ids) if c is not None]
    previous = columns[-2] if len(columns) >= 2 else None
    counts = drift_counts(columns[-1], previous) if previous is not None else None
    now_flaky = _flaky_keys(columns[-window:], window)
    before_flaky = _flaky_keys(columns[:-1][-window:], window)
    current = columns[-1]
    # Only cells of this run: a cell that left the matrix cannot be news.
    new_flakes = tuple(k for k in current.keys if k in now_flaky and k not in before_flaky)
    quoted: tuple[RegressionNote, ...] = ()
    if run.regressions:
        record = run_record(session, run_id, explanations=True)
        if record is not None:
            quoted = tuple(
                RegressionNote(
                    version=r.cell.version,
                    cell=str(r.cell.place),
                    expected=r.cell.expected.value,
                    observed=r.cell.observed.value,
                    explanation=r.explanation,
                )
                for r in regressions(record.cells).regressions[:QUOTED]
            )
    return replace(
        base,
        cells=len(current),
        alarm_drift=counts.alarm if counts is not None else 0,
        expected_drift=counts.expected if counts is not None else 0,
        new_flakes=new_flakes,
        previous_run_id=previous.id if previous is not None else None,
        quoted=quoted,
    )
