"""`netpol-drift schedule ...`: nightly (or any cron) runs of a scenario, kept in the database.

``add`` stores the scenario file as a revision (a schedule always runs the
scenario's newest revision) and a schedule for it; ``list`` shows schedules
with their next due times; ``enable`` and ``disable`` switch one; ``tick``
fires the due ones once, executing their runs in this process, for
deployments without Celery beat (call it from cron or a systemd timer).
Everything works on ``$NETPOL_DRIFT_DATABASE_URL`` or the embedded SQLite file.
"""

from __future__ import annotations

from pathlib import Path

import click
from sqlalchemy import select

from service.cli.storing import open_database
from service.runs.cron import CronSchedule
from service.runs.dispatch import InProcessDispatcher
from service.runs.planning import PlanCache
from service.runs.revisions import store_revision
from service.runs.schedules import (
    ScheduleSpec,
    create_schedule,
    set_schedule_enabled,
    tick_schedules,
)
from service.runs.settings import RunSettings
from service.scenario.load import load_scenario
from service.store.base import utc_now
from service.store.models import Scenario, Schedule

__all__ = ["schedule"]


@click.group()
def schedule() -> None:
    """Schedule runs of a scenario (cron in a time zone)."""


@schedule.command("add")
@click.argument("scenario", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--name", default="nightly", show_default=True, help="Unique per scenario.")
@click.option("--cron", required=True, help='Five cron fields or a macro, e.g. "0 2 * * *".')
@click.option("--timezone", default="UTC", show_default=True, help="IANA zone the cron is in.")
@click.option("--version", "versions", multiple=True, metavar="NAME", help="Only this version.")
@click.option("--disabled", is_flag=True, help="Create it disabled.")
def add_command(
    scenario: Path, name: str, cron: str, timezone: str, versions: tuple[str, ...], disabled: bool
) -> None:
    """Store SCENARIO's current content and schedule runs of it."""
    loaded = load_scenario(scenario)
    with open_database() as database, database.sessions.begin() as session:
        revision = store_revision(session, loaded, source_text=scenario.read_text(encoding="utf-8"))
        created = create_schedule(
            session,
            ScheduleSpec(
                scenario_id=revision.scenario_id,
                name=name,
                cron=cron,
                timezone=timezone,
                enabled=not disabled,
                settings=RunSettings(versions=versions),
            ),
        )
        click.echo(
            f"schedule {created.id} ({loaded.name}/{name}): {created.cron} {created.timezone};"
            f" next run {_when(created)}"
        )


@schedule.command("list")
def list_command() -> None:
    """List schedules with their next due times."""
    with open_database() as database, database.sessions() as session:
        rows = session.execute(
            select(Schedule, Scenario.name)
            .join(Scenario, Scenario.id == Schedule.scenario_id)
            .order_by(Scenario.name, Schedule.name)
        ).all()
        if not rows:
            click.echo("no schedules")
        for item, scenario_name in rows:
            state = "enabled" if item.enabled else "disabled"
            upcoming = ""
            if item.enabled:
                times = CronSchedule.parse(item.cron, item.timezone).upcoming(utc_now(), 3)
                upcoming = "; next: " + ", ".join(t.isoformat() for t in times)
            click.echo(
                f"{item.id}\t{scenario_name}/{item.name}\t{item.cron} {item.timezone}\t{state}"
                f"{upcoming}"
            )


@schedule.command("enable")
@click.argument("schedule_id", type=int)
def enable_command(schedule_id: int) -> None:
    """Enable a schedule; it next fires at its next due time from now."""
    with open_database() as database, database.sessions.begin() as session:
        item = set_schedule_enabled(session, schedule_id, True)
        click.echo(f"schedule {item.id} enabled; next run {_when(item)}")


@schedule.command("disable")
@click.argument("schedule_id", type=int)
def disable_command(schedule_id: int) -> None:
    """Disable a schedule."""
    with open_database() as database, database.sessions.begin() as session:
        item = set_schedule_enabled(session, schedule_id, False)
        click.echo(f"schedule {item.id} disabled")


@schedule.command("tick")
def tick_command() -> None:
    """Fire the due schedules once and run them here (for setups without Celery beat)."""
    plans = PlanCache()
    with (
        open_database() as database,
        InProcessDispatcher(database.sessions, plans=plans) as dispatcher,
    ):
        created = tick_schedules(database.sessions, dispatcher, plans=plans)
        for run in created:
            dispatcher.wait(run.run_id)
            click.echo(f"run {run.run_id}: {run.planned_cells} cells")
        if not created:
            click.echo("nothing due")


def _when(item: Schedule) -> str:
    return item.next_fire_at.isoformat() if item.next_fire_at is not None else "never"
