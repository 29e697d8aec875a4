"""Cron due times: fields, the day-of-month/day-of-week rule, time zones and DST."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from service.errors import InvalidInput
from service.runs.cron import CronSchedule

BERLIN = ZoneInfo("Europe/Berlin")


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[misc]


NEXT: list[tuple[str, str, datetime, datetime]] = [
    # expression, zone, after, next due time
    ("0 2 * * *", "UTC", utc(2026, 3, 1, 1, 59), utc(2026, 3, 1, 2, 0)),
    ("0 2 * * *", "UTC", utc(2026, 3, 1, 2, 0), utc(2026, 3, 2, 2, 0)),
    ("*/15 * * * *", "UTC", utc(2026, 3, 1, 10, 7), utc(2026, 3, 1, 10, 15)),
    ("5-10/5 * * * *", "UTC", utc(2026, 3, 1, 10, 6), utc(2026, 3, 1, 10, 10)),
    ("0 0 1 * *", "UTC", utc(2026, 1, 31, 12, 0), utc(2026, 2, 1, 0, 0)),
    ("0 0 * * mon", "UTC", utc(2026, 3, 4, 0, 0), utc(2026, 3, 9, 0, 0)),  # 4 March is a Wed
    ("0 0 * * 7", "UTC", utc(2026, 3, 4, 0, 0), utc(2026, 3, 8, 0, 0)),  # 7 is Sunday too
    ("0 0 29 feb *", "UTC", utc(2026, 3, 1, 0, 0), utc(2028, 2, 29, 0, 0)),
    ("@daily", "UTC", utc(2026, 3, 1, 0, 0), utc(2026, 3, 2, 0, 0)),
    ("30 1,13 * jan,jul *", "UTC", utc(2026, 2, 1, 0, 0), utc(2026, 7, 1, 1, 30)),
    # Both day fields restricted: either matches (the 13th, or any Friday).
    ("0 0 13 * fri", "UTC", utc(2026, 3, 1, 0, 0), utc(2026, 3, 6, 0, 0)),
    ("0 0 13 * fri", "UTC", utc(2026, 3, 6, 0, 0), utc(2026, 3, 13, 0, 0)),
    # Read in the schedule's zone: 02:00 in Berlin is 01:00 UTC in winter, 00:00 in summer.
    ("0 2 * * *", "Europe/Berlin", utc(2026, 1, 10, 0, 0), utc(2026, 1, 10, 1, 0)),
    ("0 2 * * *", "Europe/Berlin", utc(2026, 7, 10, 0, 30), utc(2026, 7, 11, 0, 0)),
]


@pytest.mark.parametrize(("expression", "zone", "after", "due"), NEXT)
def test_next_due_time(expression: str, zone: str, after: datetime, due: datetime) -> None:
    assert CronSchedule.parse(expression, zone).next_after(after) == due


def test_a_wall_time_skipped_by_dst_fires_shifted_that_night_never_skipped() -> None:
    # 29 March 2026: Berlin jumps from 02:00 to 03:00; 02:30 does not exist.
    cron = CronSchedule.parse("30 2 * * *", "Europe/Berlin")
    times = cron.upcoming(utc(2026, 3, 28, 12, 0), 3)
    local = [t.astimezone(BERLIN).strftime("%d %H:%M") for t in times]
    assert local == ["29 03:30", "30 02:30", "31 02:30"]


def test_a_wall_time_that_happens_twice_fires_once() -> None:
    # 25 October 2026: Berlin goes back from 03:00 to 02:00; 02:30 happens twice.
    cron = CronSchedule.parse("30 2 * * *", "Europe/Berlin")
    times = cron.upcoming(utc(2026, 10, 24, 12, 0), 3)
    assert [t.astimezone(BERLIN).strftime("%d %H:%M") for t in times] == [
        "25 02:30",
        "26 02:30",
        "27 02:30",
    ]
    assert times[0] == utc(2026, 10, 25, 0, 30)  # the first 02:30, still summer time


def test_every_half_hour_through_the_repeated_hour_is_due_once_per_wall_time() -> None:
    cron = CronSchedule.parse("*/30 * * * *", "Europe/Berlin")
    times = cron.upcoming(utc(2026, 10, 24, 23, 45), 6)
    assert times == sorted(set(times))
    assert all(b - a >= timedelta(minutes=30) for a, b in itertools.pairwise(times))


def test_a_date_that_never_comes_is_never_due() -> None:
    assert CronSchedule.parse("0 0 31 feb *", "UTC").next_after(utc(2026, 1, 1)) is None


def test_latest_due_fires_once_for_the_most_recent_missed_time() -> None:
    cron = CronSchedule.parse("0 * * * *", "UTC")
    since = utc(2026, 3, 1, 2, 0)
    assert cron.latest_due(since, utc(2026, 3, 1, 5, 30)) == utc(2026, 3, 1, 5, 0)
    assert cron.latest_due(since, utc(2026, 3, 1, 2, 0)) == since
    # Days of outage: still the latest, found without walking every hour.
    assert cron.latest_due(since, utc(2026, 3, 20, 7, 10)) == utc(2026, 3, 20, 7, 0)


def test_naive_times_are_refused() -> None:
    with pytest.raises(ValueError, match="naive"):
        CronSchedule.parse("* * * * *").next_after(datetime(2026, 1, 1))


def test_a_bad_expression_and_zone_are_both_named() -> None:
    with pytest.raises(InvalidInput) as raised:
        CronSchedule.parse("61 * * *", "Europe/Berln")
    paths = {str(p.path) for p in raised.value.problems}
    assert paths == {"cron", "timezone"}
