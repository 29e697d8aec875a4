"""Schedules: the list with next fire times; enabling and disabling for operators."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, url_for
from werkzeug.wrappers import Response

from service.dashboard.auth import needs
from service.dashboard.blueprint import bp
from service.dashboard.context import db, state
from service.dashboard.views.common import csv_download
from service.errors import InvalidInput
from service.export.tables import Table
from service.queries.paging import MAX_LIMIT
from service.queries.schedules import ScheduleView, list_schedules
from service.runs.schedules import set_schedule_enabled
from service.runs.transactions import writing
from service.store.enums import TokenRole

__all__: list[str] = []


def _schedules() -> list[ScheduleView]:
    return list_schedules(db(), limit=MAX_LIMIT).items


@bp.get("/schedules")
@needs(TokenRole.VIEWER)
def schedules_page() -> str:
    return render_template("dashboard/schedules.html", schedules=_schedules())


@bp.get("/schedules.csv")
@needs(TokenRole.VIEWER)
def schedules_csv() -> Response:
    return csv_download(
        Table(
            (
                "id",
                "scenario",
                "name",
                "cron",
                "timezone",
                "enabled",
                "backend",
                "next_fire_at",
                "upcoming",
                "last_fired_at",
            ),
            [
                (
                    s["id"],
                    s["scenario"],
                    s["name"],
                    s["cron"],
                    s["timezone"],
                    s["enabled"],
                    s["backend"],
                    s["next_fire_at"],
                    " ".join(s["upcoming"]),
                    s["last_fired_at"],
                )
                for s in _schedules()
            ],
        ),
        "schedules",
    )


def _switch(schedule_id: int, enabled: bool) -> Response:
    if not 0 < schedule_id < 2**31:
        abort(404)
    try:
        with writing(state().sessions()) as session:
            schedule = set_schedule_enabled(session, schedule_id, enabled)
            name = schedule.name
    except InvalidInput as err:
        abort(404, description=str(err))
    flash(f"Schedule {name!r} {'enabled' if enabled else 'disabled'}.", "ok")
    return redirect(url_for("dashboard.schedules_page"))


@bp.post("/schedules/<int:schedule_id>/enable")
@needs(TokenRole.OPERATOR)
def enable_schedule(schedule_id: int) -> Response:
    return _switch(schedule_id, True)


@bp.post("/schedules/<int:schedule_id>/disable")
@needs(TokenRole.OPERATOR)
def disable_schedule(schedule_id: int) -> Response:
    return _switch(schedule_id, False)
