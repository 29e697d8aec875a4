"""The numbers /metrics exposes, read from the store.

- runs by status;
- regressions: over all finished runs, and in each scenario's newest finished run;
- drifted cells: each scenario's newest finished run against the finished run
  before it on the same cluster (:mod:`service.runs.history`), by mark (alarm, expected);
- run durations (started to finished) of finished runs, as histogram buckets;
- queued runs (what waits when no broker holds a queue).

Drift needs both runs' cells; a finished run's cells do not change, so the
counts are kept per (run, previous run) in a :class:`DriftCountCache`.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Final

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from service.compare import DriftCounts, drift_counts
from service.queries.records import run_columns
from service.runs.history import previous_run_id
from service.store.enums import RunStatus
from service.store.models import Run, Scenario

__all__ = [
    "DURATION_BUCKETS_S",
    "DriftCountCache",
    "DurationHistogram",
    "MetricsSnapshot",
    "ScenarioLatest",
    "metrics_snapshot",
]

DURATION_BUCKETS_S: Final = (1.0, 5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0)
_FINISHED: Final = (RunStatus.SUCCEEDED, RunStatus.FAILED)


@dataclass(frozen=True, slots=True)
class DurationHistogram:
    """Cumulative counts per upper bound (seconds), as Prometheus histograms count."""

    buckets: tuple[tuple[float, int], ...]
    count: int
    sum_s: float


@dataclass(frozen=True, slots=True)
class ScenarioLatest:
    """A scenario's newest finished run: its regressions and drift since the one before
    (on the same cluster)."""

    scenario: str
    run_id: int
    regressions: int
    drift: DriftCounts | None


@dataclass(frozen=True, slots=True)
class MetricsSnapshot:
    runs_by_status: dict[str, int]
    regressions_total: int
    scenarios: tuple[ScenarioLatest, ...]
    durations: DurationHistogram


class DriftCountCache:
    """Drift counts of finished runs by (run, previous run); the most recent few, thread-safe."""

    def __init__(self, size: int = 256) -> None:
        self._size = size
        self._counts: OrderedDict[tuple[int, int], DriftCounts] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, session: Session, run_id: int, previous_id: int) -> DriftCounts | None:
        key = (run_id, previous_id)
        with self._lock:
            found = self._counts.get(key)
            if found is not None:
                self._counts.move_to_end(key)
                return found
        current = run_columns(session, run_id)
        previous = run_columns(session, previous_id)
        if current is None or previous is None:
            return None
        counts = drift_counts(current, previous)
        with self._lock:
            self._counts[key] = counts
            while len(self._counts) > self._size:
                self._counts.popitem(last=False)
        return counts


def metrics_snapshot(session: Session, *, drift_cache: DriftCountCache) -> MetricsSnapshot:
    by_status = {status.value: 0 for status in RunStatus}
    for status, count in session.execute(select(Run.status, func.count()).group_by(Run.status)):
        by_status[str(status)] = int(count)
    regressions_total = int(
        session.scalar(
            select(func.coalesce(func.sum(Run.regressions), 0)).where(Run.status.in_(_FINISHED))
        )
        or 0
    )
    return MetricsSnapshot(
        runs_by_status=by_status,
        regressions_total=regressions_total,
        scenarios=tuple(_latest(session, drift_cache)),
        durations=_durations(session),
    )


def _latest(session: Session, drift_cache: DriftCountCache) -> list[ScenarioLatest]:
    # Per scenario, its newest finished run (ranked in the database).
    rank = (
        func.row_number()
        .over(partition_by=Run.scenario_id, order_by=(Run.created_at.desc(), Run.id.desc()))
        .label("rank")
    )
    ranked = (
        select(Run.id, Run.scenario_id, Run.regressions, rank)
        .where(Run.status.in_(_FINISHED))
        .subquery()
    )
    rows = session.execute(
        select(ranked.c.id, ranked.c.regressions, Scenario.name)
        .join(Scenario, Scenario.id == ranked.c.scenario_id)
        .where(ranked.c.rank == 1)
        .order_by(Scenario.name)
    ).all()
    out = []
    for run_id, regressions, name in rows:
        # Drift since the finished run before it on the same cluster, not merely the
        # run before it: a production run follows staging runs of the same scenario.
        before = previous_run_id(session, run_id)
        counts = drift_cache.get(session, run_id, before) if before is not None else None
        out.append(ScenarioLatest(name, run_id, regressions, counts))
    return out


def _durations(session: Session) -> DurationHistogram:
    rows = session.execute(
        select(Run.started_at, Run.finished_at).where(
            Run.status.in_(_FINISHED), Run.started_at.is_not(None), Run.finished_at.is_not(None)
        )
    ).all()
    seconds = sorted(
        max(0.0, (finished - started).total_seconds())
        for started, finished in rows
        if started is not None and finished is not None
    )
    buckets = []
    index = 0
    for bound in DURATION_BUCKETS_S:
        while index < len(seconds) and seconds[index] <= bound:
            index += 1
        buckets.append((bound, index))
    return DurationHistogram(buckets=tuple(buckets), count=len(seconds), sum_s=sum(seconds))
