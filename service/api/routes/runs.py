"""Runs: start one (of a stored scenario or an inline one, narrowed if asked), list them
with filters, get one with its progress, cancel one."""

from __future__ import annotations

import json
import logging
from typing import Final

from flask import Blueprint, Response

from service.api.caching import CachedBody
from service.api.context import db, services
from service.api.intake import scenario_from_json_value, scenario_from_text
from service.api.models.common import Page
from service.api.models.requests import RunCreate, RunListQuery
from service.api.problems import conflict, not_found, unprocessable
from service.api.registry import PREFIX, BodySpec, Reply, json_response, operation
from service.api.routes.common import (
    CREATED,
    as_body_problems,
    json_body,
    page_json,
    require_run,
    run_answer,
    run_settings,
)
from service.errors import FieldPath, InvalidInput, Problem
from service.queries.runs import RunDetail, RunFilter, RunSummary, get_run, list_runs
from service.queries.scenarios import newest_revision
from service.runs.create import RunRequest, create_run
from service.runs.lifecycle import cancel_run
from service.runs.revisions import load_revision
from service.scenario.model import Scenario as ScenarioValue
from service.store.enums import TokenRole, Trigger
from service.store.models import Scenario, ScenarioRevision

__all__ = ["blueprint"]

log = logging.getLogger(__name__)

blueprint = Blueprint("runs", __name__)

TAG: Final = "runs"


def _problem(field: str, message: str) -> Problem:
    return Problem(message, path=FieldPath((field,)))


def _fresh_detail(run_id: int) -> RunDetail:
    # A new session: on SQLite the request's read transaction predates the run.
    with services().sessions() as session:
        detail = get_run(session, run_id)
    if detail is None:
        raise not_found(f"no run {run_id}")
    return detail


@operation(
    blueprint,
    "GET",
    f"{PREFIX}/runs",
    id="listRuns",
    summary="List runs, newest first, by scenario, status, trigger, backend and time",
    tag=TAG,
    role=TokenRole.VIEWER,
    query=RunListQuery,
    replies=(Reply(200, "A page of runs.", Page[RunSummary]),),
)
def list_view(query: RunListQuery) -> Response:
    run_filter = RunFilter(
        scenario_id=query.scenario_id,
        scenario=query.scenario,
        status=tuple(query.status or ()),
        trigger=tuple(query.trigger or ()),
        backend=tuple(query.backend or ()),
        schedule_id=query.schedule_id,
        created_after=query.created_after,
        created_before=query.created_before,
    )
    page = list_runs(db(), run_filter, cursor=query.cursor, limit=query.limit)
    return json_response(page_json(page))


def _stored_scenario(body: RunCreate) -> tuple[ScenarioValue, str]:
    assert body.scenario_id is not None
    session = db()
    if session.get(Scenario, body.scenario_id) is None:
        raise unprocessable([_problem("scenario_id", f"no scenario {body.scenario_id}")])
    if body.revision_id is not None:
        revision = session.get(ScenarioRevision, body.revision_id)
        if revision is None or revision.scenario_id != body.scenario_id:
            raise unprocessable(
                [
                    _problem(
                        "revision_id",
                        f"no revision {body.revision_id} of scenario {body.scenario_id}",
                    )
                ]
            )
    else:
        revision = newest_revision(session, body.scenario_id)
        if revision is None:
            raise unprocessable(
                [_problem("scenario_id", f"scenario {body.scenario_id} has no revision")]
            )
    return load_revision(revision), revision.source_text


def _inline_scenario(body: RunCreate) -> tuple[ScenarioValue, str]:
    given = body.scenario
    where = FieldPath(("scenario",))
    if isinstance(given, str):
        return scenario_from_text(given, prefix=where), given
    assert given is not None
    return scenario_from_json_value(given, prefix=where), json.dumps(given, indent=2)


@operation(
    blueprint,
    "POST",
    f"{PREFIX}/runs",
    id="startRun",
    summary="Start a run of a stored scenario or of an inline one",
    description=(
        "Give scenario_id (and optionally revision_id; default the newest revision) or"
        " scenario (YAML text or a JSON object). versions, sources and targets narrow the"
        " run. The run is queued and executed by the workers (or in this process when no"
        " broker is configured); poll GET /runs/{run_id} until it is finished."
    ),
    tag=TAG,
    role=TokenRole.OPERATOR,
    body=BodySpec(model=RunCreate),
    replies=(Reply(202, "Queued.", RunDetail, headers=CREATED),),
)
def start_view(body: RunCreate) -> Response:
    problems = []
    if (body.scenario_id is None) == (body.scenario is None):
        problems.append(_problem("scenario_id", "give either scenario_id or scenario"))
    if body.revision_id is not None and body.scenario_id is None:
        problems.append(_problem("revision_id", "only with scenario_id"))
    if problems:
        raise unprocessable(problems)
    settings = run_settings(
        versions=body.versions, sources=body.sources, targets=body.targets, options=body.options
    )
    if body.scenario_id is not None:
        scenario, source_text = _stored_scenario(body)
    else:
        scenario, source_text = _inline_scenario(body)
    app = services()
    request = RunRequest(
        scenario=scenario,
        trigger=Trigger.API,
        backend=body.backend,
        settings=settings,
        source_text=source_text,
    )
    try:
        created = create_run(app.sessions, request, plans=app.plans)
    except InvalidInput as err:
        raise as_body_problems(err) from err
    try:
        app.dispatcher.dispatch(created.run_id, created.shard_keys)
    except Exception:
        # The run is stored and queued: the stalled-run sweep sends its shards later.
        log.exception("could not dispatch run %s; it stays queued", created.run_id)
    return json_response(
        _fresh_detail(created.run_id),
        202,
        headers={"Location": f"{PREFIX}/runs/{created.run_id}"},
    )


@operation(
    blueprint,
    "GET",
    f"{PREFIX}/runs/<id:run_id>",
    id="getRun",
    summary="A run: status, progress (stored of planned cells), counts per version",
    tag=TAG,
    role=TokenRole.VIEWER,
    replies=(Reply(200, "The run.", RunDetail, headers=("ETag",)),),
    etag=True,
)
def get_view(run_id: int) -> Response:
    state = require_run(run_id)

    def make() -> CachedBody:
        detail = get_run(db(), run_id)
        if detail is None:
            raise not_found(f"no run {run_id}")
        return json_body(detail)

    return run_answer(state, make)


@operation(
    blueprint,
    "POST",
    f"{PREFIX}/runs/<id:run_id>/cancel",
    id="cancelRun",
    summary="Cancel a queued or running run (409 when it is finished)",
    description="Shards not started are skipped; cells already stored are kept.",
    tag=TAG,
    role=TokenRole.OPERATOR,
    replies=(Reply(200, "Cancelled.", RunDetail),),
    errors=(409,),
)
def cancel_view(run_id: int) -> Response:
    state = require_run(run_id)
    if state.status.finished or not cancel_run(services().sessions, run_id):
        raise conflict(f"run {run_id} is finished already ({_fresh_detail(run_id)['status']})")
    return json_response(_fresh_detail(run_id))
