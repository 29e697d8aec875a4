"""A run's life after creation: finished by counting, cancelled, failed, reaped, resumed.

queued -> running -> succeeded | failed | cancelled.

- A run is complete when the number of its stored cells equals its planned
  cells: counted in the database, by whoever stored the last shard or by the
  reaper, never by waiting for callbacks that a dead worker would not send.
  Complete with no regression is ``succeeded``; complete with regressions is
  ``failed`` (the run did its job and found a problem, as the CLI's exit
  status 1 says), with ``error`` left empty. Its counts (regressions, flaky,
  errors, invalid) are counted from the stored cells.
- A run that could not complete is ``failed`` with ``error`` saying why: a
  shard failed for good, or the reaper found it past its deadline.
- Every transition is one conditional UPDATE (``WHERE status IN (queued,
  running)``), so two processes finishing, cancelling or reaping the same run
  at once agree on one outcome and never overwrite a final status.
- A run that made no progress for a while (a broker that lost its queue, a
  dispatcher that died after creating it) gets its missing shards sent again:
  :func:`stalled_shards` finds them; storing is idempotent, so a shard that was
  only slow does no harm when it arrives twice.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final, TypeAlias

from sqlalchemy import ColumnElement, case, func, select, update
from sqlalchemy.orm import Session, sessionmaker

from service.runs.planning import PlanCache
from service.runs.settings import RunSettings
from service.runs.transactions import updated, writing
from service.scenario.model import Verdict
from service.store.base import utc_now
from service.store.enums import RunStatus
from service.store.models import CellResult, RevisionCell, Run, ScenarioRevision
from service.store.statistics import refresh_after_write

__all__ = [
    "RunClosedHook",
    "StalledRun",
    "add_run_closed_hook",
    "cancel_run",
    "fail_run",
    "finish_if_complete",
    "reap_runs",
    "stalled_shards",
]

_OPEN: Final = (RunStatus.QUEUED, RunStatus.RUNNING)

log = logging.getLogger(__name__)

# Called once per run, by the process whose conditional UPDATE closed it, after the
# commit: (sessions, run id, final status). Notifications (service.notify) hook in
# here; this module knows nothing of them.
RunClosedHook: TypeAlias = Callable[[sessionmaker[Session], int, RunStatus], None]
_closed_hooks: list[RunClosedHook] = []
_hooks_lock = threading.Lock()


def add_run_closed_hook(hook: RunClosedHook) -> Callable[[], None]:
    """Call ``hook`` whenever this process closes a run; returns a function removing it."""
    with _hooks_lock:
        _closed_hooks.append(hook)

    def remove() -> None:
        with _hooks_lock:
            if hook in _closed_hooks:
                _closed_hooks.remove(hook)

    return remove


def _run_closed(sessions: sessionmaker[Session], run_id: int, status: RunStatus) -> None:
    with _hooks_lock:
        hooks = list(_closed_hooks)
    for hook in hooks:
        try:
            hook(sessions, run_id, status)
        except Exception:
            # A hook's failure must not undo or fail the close, which is committed.
            log.exception("run-closed hook %r failed for run %s", hook, run_id)


@dataclass(frozen=True, slots=True)
class _Counts:
    regressions: int
    flaky: int
    errors: int
    invalid: int


def _counts(session: Session, run_id: int) -> _Counts:
    def total(condition: ColumnElement[bool]) -> ColumnElement[int]:
        return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)

    row = session.execute(
        select(
            total(CellResult.regression.is_(True)),
            total(CellResult.flaky.is_(True)),
            total(CellResult.observed == Verdict.ERROR),
            total(CellResult.observed == Verdict.INVALID),
        ).where(CellResult.run_id == run_id)
    ).one()
    return _Counts(*(int(v) for v in row))


def finish_if_complete(
    sessions: sessionmaker[Session], run_id: int, *, now: datetime | None = None
) -> RunStatus | None:
    """Close the run if every planned cell is stored; its final status, or None if still open."""
    with writing(sessions) as session:
        found = session.execute(
            select(Run.status, Run.planned_cells).where(Run.id == run_id)
        ).first()
        if found is None:
            return None
        status, planned = found
        if status.finished:
            return None
        stored = session.scalar(
            select(func.count()).select_from(CellResult).where(CellResult.run_id == run_id)
        )
        if stored is None or stored < planned:
            return None
        counts = _counts(session, run_id)
        final = RunStatus.SUCCEEDED if counts.regressions == 0 else RunStatus.FAILED
        at = now if now is not None else utc_now()
        closed = _close_open(
            session, run_id, final, at, counts, started_at=func.coalesce(Run.started_at, at)
        )
    if closed != 1:
        return None
    # Before the hooks: they read the run's cells back (notification findings), as do
    # the pages opened next; fresh planner statistics make those reads hash joins.
    refresh_after_write(
        sessions, tables=(CellResult.__tablename__, RevisionCell.__tablename__), written=stored
    )
    _run_closed(sessions, run_id, final)
    return final


def fail_run(
    sessions: sessionmaker[Session], run_id: int, error: str, *, now: datetime | None = None
) -> bool:
    """Close an open run as failed with ``error``; False when it was already closed."""
    return _close(sessions, run_id, RunStatus.FAILED, error, now=now)


def cancel_run(
    sessions: sessionmaker[Session], run_id: int, *, now: datetime | None = None
) -> bool:
    """Cancel an open run; shards not started are skipped. False when it was already closed."""
    return _close(sessions, run_id, RunStatus.CANCELLED, "cancelled", now=now)


def _close(
    sessions: sessionmaker[Session],
    run_id: int,
    status: RunStatus,
    error: str,
    *,
    now: datetime | None,
) -> bool:
    at = now if now is not None else utc_now()
    with writing(sessions) as session:
        closed = _close_open(session, run_id, status, at, _counts(session, run_id), error=error)
    if closed != 1:
        return False
    _run_closed(sessions, run_id, status)
    return True


def _close_open(
    session: Session,
    run_id: int,
    status: RunStatus,
    at: datetime,
    counts: _Counts,
    **more: object,
) -> int:
    """Close the run if it is still open (the one conditional UPDATE every close goes
    through); 1 when this call closed it."""
    return updated(
        session,
        update(Run)
        .where(Run.id == run_id, Run.status.in_(_OPEN))
        .values(
            status=status,
            finished_at=at,
            regressions=counts.regressions,
            flaky=counts.flaky,
            errors=counts.errors,
            invalid=counts.invalid,
            **more,
        ),
    )


def reap_runs(sessions: sessionmaker[Session], *, now: datetime | None = None) -> list[int]:
    """Close every open run past its deadline; the ids of the runs closed as failed.

    A run whose cells are in fact all stored (its last finisher died before
    closing it) is finished normally instead.
    """
    at = now if now is not None else utc_now()
    with sessions() as session:
        overdue = session.execute(
            select(Run.id, Run.planned_cells, Run.created_at, Run.deadline_at).where(
                Run.status.in_(_OPEN), Run.deadline_at < at
            )
        ).all()
    reaped = []
    for run_id, planned, created_at, deadline_at in overdue:
        if finish_if_complete(sessions, run_id, now=at) is not None:
            continue
        with sessions() as session:
            stored = session.scalar(
                select(func.count()).select_from(CellResult).where(CellResult.run_id == run_id)
            )
        assert deadline_at is not None  # selected by it
        waited = deadline_at - created_at
        error = (
            f"reaped: the run did not finish by its deadline {deadline_at.isoformat()}"
            f" ({_duration(waited)} after it was queued); {stored or 0} of {planned} cells were"
            " stored. Its workers died or lost its shards; the stored cells are kept."
        )
        if fail_run(sessions, run_id, error, now=at):
            reaped.append(run_id)
    return reaped


@dataclass(frozen=True, slots=True)
class StalledRun:
    run_id: int
    shard_keys: tuple[str, ...]


def stalled_shards(
    sessions: sessionmaker[Session],
    *,
    plans: PlanCache,
    stalled_after: timedelta,
    now: datetime | None = None,
) -> list[StalledRun]:
    """Open runs without progress for ``stalled_after``, each with its shards missing cells.

    Each run found is marked as progressing now, in a conditional UPDATE, so two
    callers at once do not both resend it; the caller dispatches the shards.
    """
    at = now if now is not None else utc_now()
    cutoff = at - stalled_after
    with sessions() as session:
        candidates = session.execute(
            select(Run, ScenarioRevision)
            .join(ScenarioRevision, ScenarioRevision.id == Run.revision_id)
            .where(
                Run.status.in_(_OPEN),
                func.coalesce(Run.progress_at, Run.created_at) < cutoff,
            )
        ).all()
        found = [
            (
                run.id,
                run.progress_at,
                revision.id,
                revision.content_hash,
                revision.canonical_json,
                run.options,
            )
            for run, revision in candidates
        ]
    out = []
    for run_id, progress_at, revision_id, content_hash, document, options in found:
        with writing(sessions) as session:
            condition = (
                Run.progress_at.is_(None) if progress_at is None else Run.progress_at == progress_at
            )
            claimed = updated(
                session, update(Run).where(Run.id == run_id, condition).values(progress_at=at)
            )
            if claimed != 1:
                continue
            stored = set(
                session.scalars(select(CellResult.cell_key).where(CellResult.run_id == run_id))
            )
        plan = plans.get(
            revision_id=revision_id,
            content_hash=content_hash,
            document=document,
            settings=RunSettings.from_json(options),
        )
        missing = tuple(
            shard.key
            for shard in plan.shards
            if any(c.key not in stored for c in plan.shard_cells[shard.key])
        )
        out.append(StalledRun(run_id, missing))
    return out


def _duration(value: timedelta) -> str:
    seconds = int(value.total_seconds())
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    return f"{seconds / 3600:.1f} h"
