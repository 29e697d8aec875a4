"""When a cron schedule is due: classic five-field cron, read in an IANA time zone.

The expression is validated and normalised by the scenario syntax
(:func:`service.scenario.syntax.parse_cron`: numbers, names, ranges, steps,
lists and the @daily-style macros); here it is expanded to the sets of
minutes, hours, days, months and weekdays it allows and evaluated against wall
clock time in the schedule's zone. As in Vixie cron, when both day of month and
day of week are restricted a day matching either is due.

Daylight saving time, decided once:

- a wall time that does not exist (the clock jumps from 02:00 to 03:00) fires
  at the instant it would have had before the jump, which is the same instant
  as the wall time one gap later (02:30 fires at 03:30): a nightly run is
  shifted that night, never skipped;
- a wall time that happens twice (the clock goes back) fires once, at its
  first occurrence.

Times in and out are timezone-aware; results are in UTC.
"""

from __future__ import annotations

import zoneinfo
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Final

from service.errors import FieldPath, InvalidInput, Problem
from service.scenario.syntax import ValueSyntaxError, parse_cron, parse_timezone

__all__ = ["CronSchedule"]

_MONTHS: Final = (
    "jan",
    "feb",
    "mar",
    "apr",
    "may",
    "jun",
    "jul",
    "aug",
    "sep",
    "oct",
    "nov",
    "dec",
)
_DAYS: Final = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
# How far ahead to look for a due time: "0 0 29 2 1" (29 February on a Monday) is
# due about once in 28 years; further than that counts as never.
_HORIZON_DAYS: Final = 366 * 30


@dataclass(frozen=True, slots=True)
class CronSchedule:
    """A parsed cron expression in a time zone."""

    expression: str
    timezone: str
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]  # 0 = Sunday
    days_restricted: bool
    weekdays_restricted: bool

    @classmethod
    def parse(cls, expression: str, timezone: str = "UTC") -> CronSchedule:
        """Raises InvalidInput naming ``cron`` and ``timezone`` for every problem."""
        problems = []
        normalised = ""
        try:
            normalised = parse_cron(expression)
        except ValueSyntaxError as err:
            problems.append(Problem(str(err), path=FieldPath(("cron",))))
        try:
            parse_timezone(timezone)
        except ValueSyntaxError as err:
            problems.append(Problem(str(err), path=FieldPath(("timezone",))))
        InvalidInput.collect(problems)
        minute, hour, day, month, weekday = normalised.split()
        weekdays = frozenset(d % 7 for d in _expand(weekday, 0, 7, _DAYS, 0))
        return cls(
            expression=normalised,
            timezone=timezone,
            minutes=_expand(minute, 0, 59),
            hours=_expand(hour, 0, 23),
            days=_expand(day, 1, 31),
            months=_expand(month, 1, 12, _MONTHS, 1),
            weekdays=weekdays,
            days_restricted=not day.startswith("*"),
            weekdays_restricted=not weekday.startswith("*"),
        )

    @property
    def zone(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.timezone)

    def next_after(self, instant: datetime) -> datetime | None:
        """The first due time strictly after ``instant``; None if it is never due."""
        if instant.tzinfo is None:
            raise ValueError(f"naive datetime {instant.isoformat()}; give an aware time")
        zone = self.zone
        local = instant.astimezone(zone)
        # Wall-clock candidates from the minute after ``instant``; DST can map a wall time
        # to an instant earlier than its neighbour, so each is checked against ``instant``.
        start = local.replace(second=0, microsecond=0, tzinfo=None) - timedelta(hours=3)
        day = start.date()
        for _ in range(_HORIZON_DAYS):
            if self._day_matches(day):
                for hour in sorted(self.hours):
                    for minute in sorted(self.minutes):
                        wall = datetime.combine(day, time(hour, minute))
                        if wall < start:
                            continue
                        due = _instant(wall, zone)
                        if due > instant:
                            return due
            day += timedelta(days=1)
        return None

    def upcoming(self, after: datetime, count: int) -> list[datetime]:
        """The next ``count`` due times after ``after`` (fewer if it stops being due)."""
        out: list[datetime] = []
        current = after
        while len(out) < count:
            found = self.next_after(current)
            if found is None:
                break
            out.append(found)
            current = found
        return out

    def latest_due(self, since: datetime, now: datetime, *, limit: int = 10_000) -> datetime:
        """The last due time in [``since``, ``now``], ``since`` being due and not after ``now``.

        Missed due times are not caught up one by one: after an outage a
        schedule fires once, for the latest time it was due.
        """
        # Two days back are enough to find the latest one of any schedule that is due
        # at least every other day; a rarer one walks from ``since``.
        current = since
        recent = self.next_after(max(since, now - timedelta(days=2)) - timedelta(microseconds=1))
        if recent is not None and since <= recent <= now:
            current = recent
        for _ in range(limit):
            following = self.next_after(current)
            if following is None or following > now:
                break
            current = following
        return current

    def _day_matches(self, day: date) -> bool:
        if day.month not in self.months:
            return False
        in_month = day.day in self.days
        # isoweekday: Monday 1 .. Sunday 7; cron: Sunday 0.
        in_week = day.isoweekday() % 7 in self.weekdays
        if self.days_restricted and self.weekdays_restricted:
            return in_month or in_week
        return in_month and in_week


def _instant(wall: datetime, zone: zoneinfo.ZoneInfo) -> datetime:
    """The UTC instant of a wall time: fold 0 (first occurrence, or before a gap)."""
    return wall.replace(tzinfo=zone, fold=0).astimezone(UTC)


def _expand(
    text: str, low: int, high: int, names: tuple[str, ...] = (), names_start: int = 0
) -> frozenset[int]:
    values: set[int] = set()
    for item in text.split(","):
        base, _, step_text = item.partition("/")
        step = int(step_text) if step_text else 1
        if base == "*":
            first, last = low, high
        else:
            first_text, dash, last_text = base.partition("-")
            first = _value(first_text, names, names_start)
            # "5/15" would be refused by parse_cron; a bare value is a one-value range.
            last = _value(last_text, names, names_start) if dash else first
        values.update(range(first, last + 1, step))
    return frozenset(values)


def _value(text: str, names: tuple[str, ...], names_start: int) -> int:
    if text.isdigit():
        return int(text)
    return names.index(text.lower()) + names_start
