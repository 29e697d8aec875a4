"""Schedules: create, list (with next fire times), get, update, enable, disable, delete."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

from flask import Blueprint, Response
from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from service.api.context import commit, db
from service.api.models.common import Page
from service.api.models.requests import ScheduleCreate, ScheduleListQuery, ScheduleUpdate
from service.api.problems import conflict, not_found, unprocessable
from service.api.registry import PREFIX, BodySpec, Reply, json_response, operation
from service.api.routes.common import CREATED, NO_CONTENT, as_body_problems, page_json, run_settings
from service.errors import FieldPath, InvalidInput, Problem
from service.queries.scenarios import newest_revision
from service.queries.schedules import ScheduleView, get_schedule, list_schedules
from service.runs.cron import CronSchedule
from service.runs.revisions import load_revision
from service.runs.schedules import ScheduleSpec, create_schedule, set_schedule_enabled
from service.runs.settings import RunSettings
from service.scenario.syntax import did_you_mean
from service.store.base import utc_now
from service.store.enums import TokenRole
from service.store.models import Schedule

__all__ = ["blueprint"]

blueprint = Blueprint("schedules", __name__)

TAG: Final = "schedules"


def _view(schedule_id: int) -> ScheduleView:
    found = get_schedule(db(), schedule_id)
    if found is None:
        raise not_found(f"no schedule {schedule_id}")
    return found


def _check_names(session: Session, scenario_id: int, settings: RunSettings) -> None:
    """The narrowing must name what the scenario's newest revision has (as runs will check)."""
    revision = newest_revision(session, scenario_id)
    if revision is None:
        return
    scenario = load_revision(revision)
    known = {
        "versions": [v.name for v in scenario.versions],
        "sources": [s.name for s in scenario.matrix.sources],
        "targets": list(scenario.matrix.targets),
    }
    given: dict[str, Sequence[str]] = {
        "versions": settings.versions,
        "sources": settings.sources,
        "targets": settings.targets,
    }
    problems = [
        Problem(
            f"{name!r} is not in the scenario; expected one of: {', '.join(known[field])}"
            f"{did_you_mean(name, known[field])}",
            path=FieldPath((field, i)),
        )
        for field, names in given.items()
        for i, name in enumerate(names)
        if name not in known[field]
    ]
    if problems:
        raise unprocessable(problems)


def _flush(session: Session, name: str) -> None:
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError as err:
        raise conflict(f"the scenario has a schedule named {name!r} already") from err


@operation(
    blueprint,
    "GET",
    f"{PREFIX}/schedules",
    id="listSchedules",
    summary="List schedules with their next fire times",
    tag=TAG,
    role=TokenRole.VIEWER,
    query=ScheduleListQuery,
    replies=(Reply(200, "A page of schedules.", Page[ScheduleView]),),
)
def list_view(query: ScheduleListQuery) -> Response:
    page = list_schedules(
        db(),
        scenario_id=query.scenario_id,
        enabled=query.enabled,
        cursor=query.cursor,
        limit=query.limit,
    )
    return json_response(page_json(page))


@operation(
    blueprint,
    "POST",
    f"{PREFIX}/schedules",
    id="createSchedule",
    summary="Schedule runs of a scenario (cron in a time zone); each runs its newest revision",
    tag=TAG,
    role=TokenRole.OPERATOR,
    body=BodySpec(model=ScheduleCreate),
    replies=(Reply(201, "Created.", ScheduleView, headers=CREATED),),
    errors=(409,),
    writes=True,
)
def create_view(body: ScheduleCreate) -> Response:
    settings = run_settings(
        versions=body.versions, sources=body.sources, targets=body.targets, options=body.options
    )
    session = db()
    spec = ScheduleSpec(
        scenario_id=body.scenario_id,
        name=body.name.strip(),
        cron=body.cron,
        timezone=body.timezone,
        enabled=body.enabled,
        backend=body.backend,
        settings=settings,
    )
    try:
        with session.begin_nested():
            schedule = create_schedule(session, spec)
    except IntegrityError as err:
        raise conflict(f"the scenario has a schedule named {spec.name!r} already") from err
    _check_names(session, body.scenario_id, settings)
    view = _view(schedule.id)
    commit()
    return json_response(view, 201, headers={"Location": f"{PREFIX}/schedules/{schedule.id}"})


@operation(
    blueprint,
    "GET",
    f"{PREFIX}/schedules/<id:schedule_id>",
    id="getSchedule",
    summary="A schedule with its next fire times",
    tag=TAG,
    role=TokenRole.VIEWER,
    replies=(Reply(200, "The schedule.", ScheduleView),),
)
def get_view(schedule_id: int) -> Response:
    return json_response(_view(schedule_id))


@operation(
    blueprint,
    "PATCH",
    f"{PREFIX}/schedules/<id:schedule_id>",
    id="updateSchedule",
    summary="Change a schedule; fields not given stay as they are",
    tag=TAG,
    role=TokenRole.OPERATOR,
    body=BodySpec(model=ScheduleUpdate),
    replies=(Reply(200, "The schedule.", ScheduleView),),
    errors=(409,),
    writes=True,
)
def update_view(schedule_id: int, body: ScheduleUpdate) -> Response:
    session = db()
    row = session.get(Schedule, schedule_id)
    if row is None:
        raise not_found(f"no schedule {schedule_id}")
    if body.name is not None:
        if not body.name.strip():
            raise unprocessable([Problem("expected a non-empty name", path=FieldPath(("name",)))])
        row.name = body.name.strip()
    retime = body.cron is not None or body.timezone is not None
    if retime:
        try:
            cron = CronSchedule.parse(body.cron or row.cron, body.timezone or row.timezone)
        except InvalidInput as err:
            raise unprocessable(err.problems) from err
        row.cron = cron.expression
        row.timezone = cron.timezone
    if body.backend is not None:
        row.backend = body.backend
    narrowing = (body.versions, body.sources, body.targets, body.options)
    if any(value is not None for value in narrowing):
        data: dict[str, Any] = dict(row.options or {})
        if body.options is not None:
            data.update(body.options.model_dump(mode="json", exclude_unset=True))
        for field in ("versions", "sources", "targets"):
            value = getattr(body, field)
            if value is not None:
                data[field] = list(value)
        try:
            settings = RunSettings.from_json(data)
        except InvalidInput as err:
            raise as_body_problems(err) from err
        _check_names(session, row.scenario_id, settings)
        row.options = settings.to_json()
    enable = body.enabled is True and not row.enabled
    if body.enabled is not None:
        row.enabled = body.enabled
    if row.enabled and (retime or enable):
        row.next_fire_at = CronSchedule.parse(row.cron, row.timezone).next_after(utc_now())
    _flush(session, row.name)
    view = _view(schedule_id)
    commit()
    return json_response(view)


def _set_enabled(schedule_id: int, enabled: bool) -> Response:
    session = db()
    if session.get(Schedule, schedule_id) is None:
        raise not_found(f"no schedule {schedule_id}")
    set_schedule_enabled(session, schedule_id, enabled)
    view = _view(schedule_id)
    commit()
    return json_response(view)


@operation(
    blueprint,
    "POST",
    f"{PREFIX}/schedules/<id:schedule_id>/enable",
    id="enableSchedule",
    summary="Enable a schedule; it next fires at its next due time from now",
    tag=TAG,
    role=TokenRole.OPERATOR,
    replies=(Reply(200, "The schedule.", ScheduleView),),
    writes=True,
)
def enable_view(schedule_id: int) -> Response:
    return _set_enabled(schedule_id, True)


@operation(
    blueprint,
    "POST",
    f"{PREFIX}/schedules/<id:schedule_id>/disable",
    id="disableSchedule",
    summary="Disable a schedule",
    tag=TAG,
    role=TokenRole.OPERATOR,
    replies=(Reply(200, "The schedule.", ScheduleView),),
    writes=True,
)
def disable_view(schedule_id: int) -> Response:
    return _set_enabled(schedule_id, False)


@operation(
    blueprint,
    "DELETE",
    f"{PREFIX}/schedules/<id:schedule_id>",
    id="deleteSchedule",
    summary="Delete a schedule (the runs it started are kept)",
    tag=TAG,
    role=TokenRole.OPERATOR,
    replies=(NO_CONTENT,),
    writes=True,
)
def delete_view(schedule_id: int) -> Response:
    session = db()
    if session.get(Schedule, schedule_id) is None:
        raise not_found(f"no schedule {schedule_id}")
    session.execute(delete(Schedule).where(Schedule.id == schedule_id))
    commit()
    return Response(status=204)
