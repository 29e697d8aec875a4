"""Schedules with their next fire times."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final

from sqlalchemy import select
from sqlalchemy.orm import Session
from typing_extensions import TypedDict

from service.errors import InvalidInput
from service.queries.formats import iso
from service.queries.paging import DEFAULT_LIMIT, Page, decode_cursor, encode_cursor
from service.runs.cron import CronSchedule
from service.store.base import utc_now
from service.store.models import Scenario, Schedule

__all__ = ["UPCOMING", "ScheduleView", "get_schedule", "list_schedules", "schedule_view"]

# How many next fire times a schedule shows.
UPCOMING: Final = 5


class ScheduleView(TypedDict):
    id: int
    scenario_id: int
    scenario: str
    name: str
    cron: str
    timezone: str
    enabled: bool
    backend: str
    options: dict[str, Any]
    next_fire_at: str | None
    upcoming: list[str]
    last_fired_at: str | None
    created_at: str | None
    updated_at: str | None


def schedule_view(row: Schedule, scenario: str, *, now: datetime | None = None) -> ScheduleView:
    """A schedule as shown; ``upcoming`` are its next fire times (none when disabled)."""
    upcoming: list[datetime] = []
    if row.enabled:
        try:
            cron = CronSchedule.parse(row.cron, row.timezone)
        except InvalidInput:
            # Stored by an older version with other rules: show it, do not fail the list.
            cron = None
        if cron is not None:
            start = row.next_fire_at or (now if now is not None else utc_now())
            first = [row.next_fire_at] if row.next_fire_at is not None else []
            upcoming = first + cron.upcoming(start, UPCOMING - len(first))
    return ScheduleView(
        id=row.id,
        scenario_id=row.scenario_id,
        scenario=scenario,
        name=row.name,
        cron=row.cron,
        timezone=row.timezone,
        enabled=row.enabled,
        backend=row.backend.value,
        options=dict(row.options or {}),
        next_fire_at=iso(row.next_fire_at) if row.enabled else None,
        upcoming=[t for t in (iso(u) for u in upcoming) if t is not None],
        last_fired_at=iso(row.last_fired_at),
        created_at=iso(row.created_at),
        updated_at=iso(row.updated_at),
    )


def list_schedules(
    session: Session,
    *,
    scenario_id: int | None = None,
    enabled: bool | None = None,
    cursor: str | None = None,
    limit: int = DEFAULT_LIMIT,
    now: datetime | None = None,
) -> Page[ScheduleView]:
    """Schedules by id."""
    query = (
        select(Schedule, Scenario.name)
        .join(Scenario, Scenario.id == Schedule.scenario_id)
        .order_by(Schedule.id)
        .limit(limit + 1)
    )
    if scenario_id is not None:
        query = query.where(Schedule.scenario_id == scenario_id)
    if enabled is not None:
        query = query.where(Schedule.enabled.is_(enabled))
    if cursor is not None:
        (after,) = decode_cursor(cursor, "schedules", (int,))
        query = query.where(Schedule.id > after)
    rows = session.execute(query).all()
    more = len(rows) > limit
    items = [schedule_view(row, name, now=now) for row, name in rows[:limit]]
    return Page(items, encode_cursor("schedules", [items[-1]["id"]]) if more else None)


def get_schedule(
    session: Session, schedule_id: int, *, now: datetime | None = None
) -> ScheduleView | None:
    found = session.execute(
        select(Schedule, Scenario.name)
        .join(Scenario, Scenario.id == Schedule.scenario_id)
        .where(Schedule.id == schedule_id)
    ).first()
    if found is None:
        return None
    row, name = found
    return schedule_view(row, name, now=now)
