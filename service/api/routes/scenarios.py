"""Scenarios: create and update from YAML or JSON, list, get with revisions, validate,
delete; a scenario's revisions, a cell's history, flakes, and mutation analysis."""

from __future__ import annotations

from typing import Any, Final

from flask import Blueprint, Response
from sqlalchemy import delete, func, select

from service.api.context import commit, db, services
from service.api.intake import scenario_from_text
from service.api.models.common import Page
from service.api.models.requests import (
    DeleteScenarioQuery,
    FlakesQuery,
    MutationRequest,
    PageQuery,
    ScenarioListQuery,
)
from service.api.models.responses import MutationReportView, ScenarioWritten, Validation
from service.api.parsing import JSON_TYPES, YAML_TYPES, read_text_body
from service.api.problems import conflict, not_found, unprocessable
from service.api.registry import PREFIX, BodySpec, Reply, json_response, operation
from service.api.routes.common import CREATED, NO_CONTENT, page_json, require_scenario
from service.errors import FieldPath, Problem
from service.mutate import mutate_scenario
from service.mutate.render import report_document
from service.queries.cells import CellHistoryPoint, cell_history
from service.queries.compare import FlakesView, scenario_flakes
from service.queries.scenarios import (
    RevisionDetail,
    RevisionSummary,
    ScenarioDetail,
    ScenarioSummary,
    get_revision,
    get_scenario,
    list_revisions,
    list_scenarios,
    newest_revision,
)
from service.runs.revisions import load_revision, store_revision
from service.scenario.plan import plan_matrix
from service.scenario.schema import ScenarioModel
from service.store.base import utc_now
from service.store.enums import RunStatus, TokenRole
from service.store.models import Run, Scenario, ScenarioRevision

__all__ = ["blueprint"]

blueprint = Blueprint("scenarios", __name__)

TAG: Final = "scenarios"
_SCENARIO_BODY: Final = BodySpec(
    raw=True,
    schemas={
        "application/yaml": {"type": "string", "description": "The scenario as YAML."},
        "application/json": ScenarioModel,
    },
    description="A scenario as written in a file (docs/scenarios.md), policies inline.",
)
_TEXT_TYPES: Final = (*YAML_TYPES, *JSON_TYPES)


def _written(scenario_id: int, revision_id: int, new: bool) -> ScenarioWritten:
    detail = get_scenario(db(), scenario_id)
    assert detail is not None  # written in this transaction
    return ScenarioWritten(**detail, revision_id=revision_id, new_revision=new)


@operation(
    blueprint,
    "GET",
    f"{PREFIX}/scenarios",
    id="listScenarios",
    summary="List scenarios by name, with their newest revision and run",
    tag=TAG,
    role=TokenRole.VIEWER,
    query=ScenarioListQuery,
    replies=(Reply(200, "A page of scenarios.", Page[ScenarioSummary]),),
)
def list_view(query: ScenarioListQuery) -> Response:
    page = list_scenarios(db(), name_contains=query.name, cursor=query.cursor, limit=query.limit)
    return json_response(page_json(page))


@operation(
    blueprint,
    "POST",
    f"{PREFIX}/scenarios",
    id="createScenario",
    summary="Create a scenario from YAML or JSON",
    description="409 when a scenario of that name exists: update it with PUT.",
    tag=TAG,
    role=TokenRole.OPERATOR,
    body=_SCENARIO_BODY,
    replies=(Reply(201, "Created.", ScenarioWritten, headers=CREATED),),
    errors=(409,),
    writes=True,
)
def create_view() -> Response:
    text, _ = read_text_body(_TEXT_TYPES)
    scenario = scenario_from_text(text)
    session = db()
    existing = session.scalar(select(Scenario.id).where(Scenario.name == scenario.name))
    if existing is not None:
        raise conflict(
            f"a scenario named {scenario.name!r} exists (id {existing});"
            f" update it with PUT {PREFIX}/scenarios/{existing}"
        )
    revision = store_revision(session, scenario, source_text=text)
    body = _written(revision.scenario_id, revision.id, True)
    commit()
    return json_response(
        body, 201, headers={"Location": f"{PREFIX}/scenarios/{revision.scenario_id}"}
    )


@operation(
    blueprint,
    "POST",
    f"{PREFIX}/scenarios/validate",
    id="validateScenario",
    summary="Validate a scenario without storing it",
    tag=TAG,
    role=TokenRole.VIEWER,
    body=_SCENARIO_BODY,
    replies=(Reply(200, "The scenario is valid.", Validation),),
)
def validate_view() -> Response:
    text, _ = read_text_body(_TEXT_TYPES)
    scenario = scenario_from_text(text)
    matrix = plan_matrix(scenario)
    return json_response(
        Validation(
            valid=True,
            name=scenario.name,
            content_hash=scenario.content_hash,
            versions=[
                {"name": v.name, "content_hash": v.content_hash, "description": v.description}
                for v in scenario.versions
            ],
            namespaces=[ns.name for ns in scenario.namespaces],
            targets=[t.name for t in scenario.targets],
            sources=[s.name for s in scenario.matrix.sources],
            cells=len(matrix.cells),
        )
    )


@operation(
    blueprint,
    "GET",
    f"{PREFIX}/scenarios/<id:scenario_id>",
    id="getScenario",
    summary="A scenario with its revisions and schedules",
    tag=TAG,
    role=TokenRole.VIEWER,
    replies=(Reply(200, "The scenario.", ScenarioDetail),),
)
def get_view(scenario_id: int) -> Response:
    detail = get_scenario(db(), scenario_id)
    if detail is None:
        raise not_found(f"no scenario {scenario_id}")
    return json_response(detail)


@operation(
    blueprint,
    "PUT",
    f"{PREFIX}/scenarios/<id:scenario_id>",
    id="updateScenario",
    summary="Store a new revision of a scenario (same name) from YAML or JSON",
    description="Content already stored is the same revision (new_revision false).",
    tag=TAG,
    role=TokenRole.OPERATOR,
    body=_SCENARIO_BODY,
    replies=(Reply(200, "The scenario.", ScenarioWritten),),
    writes=True,
)
def update_view(scenario_id: int) -> Response:
    row = require_scenario(scenario_id)
    text, _ = read_text_body(_TEXT_TYPES)
    scenario = scenario_from_text(text)
    if scenario.name != row.name:
        raise unprocessable(
            [
                Problem(
                    f"expected {row.name!r}, the name of scenario {scenario_id}; a scenario"
                    " cannot be renamed (create one under the new name)",
                    path=FieldPath(("name",)),
                )
            ]
        )
    session = db()
    existed = session.scalar(
        select(ScenarioRevision.id).where(
            ScenarioRevision.scenario_id == scenario_id,
            ScenarioRevision.content_hash == scenario.content_hash,
        )
    )
    revision = store_revision(session, scenario, source_text=text)
    if existed is None:
        row.updated_at = utc_now()
        session.flush()
    body = _written(scenario_id, revision.id, existed is None)
    commit()
    return json_response(body)


@operation(
    blueprint,
    "DELETE",
    f"{PREFIX}/scenarios/<id:scenario_id>",
    id="deleteScenario",
    summary="Delete a scenario with its revisions, schedules, runs and results",
    description="409 while runs of it are queued or running, unless force=true.",
    tag=TAG,
    role=TokenRole.ADMIN,
    query=DeleteScenarioQuery,
    replies=(NO_CONTENT,),
    errors=(409,),
    writes=True,
)
def delete_view(scenario_id: int, query: DeleteScenarioQuery) -> Response:
    require_scenario(scenario_id)
    session = db()
    open_runs = session.scalar(
        select(func.count()).where(
            Run.scenario_id == scenario_id,
            Run.status.in_((RunStatus.QUEUED, RunStatus.RUNNING)),
        )
    )
    if open_runs and not query.force:
        raise conflict(
            f"scenario {scenario_id} has {open_runs} open run(s); cancel them or pass force=true"
        )
    # The database cascades to revisions, cells, schedules and runs.
    session.execute(delete(Scenario).where(Scenario.id == scenario_id))
    commit()
    services().run_states.clear()
    return Response(status=204)


@operation(
    blueprint,
    "GET",
    f"{PREFIX}/scenarios/<id:scenario_id>/revisions",
    id="listRevisions",
    summary="A scenario's revisions, newest first",
    tag=TAG,
    role=TokenRole.VIEWER,
    query=PageQuery,
    replies=(Reply(200, "A page of revisions.", Page[RevisionSummary]),),
)
def revisions_view(scenario_id: int, query: PageQuery) -> Response:
    require_scenario(scenario_id)
    page = list_revisions(db(), scenario_id, cursor=query.cursor, limit=query.limit)
    return json_response(page_json(page))


@operation(
    blueprint,
    "GET",
    f"{PREFIX}/scenarios/<id:scenario_id>/revisions/<id:revision_id>",
    id="getRevision",
    summary="One revision: the text as given, its versions, sources and targets",
    tag=TAG,
    role=TokenRole.VIEWER,
    replies=(Reply(200, "The revision.", RevisionDetail),),
)
def revision_view(scenario_id: int, revision_id: int) -> Response:
    detail = get_revision(db(), scenario_id, revision_id)
    if detail is None:
        raise not_found(f"no revision {revision_id} of scenario {scenario_id}")
    return json_response(detail)


@operation(
    blueprint,
    "GET",
    f"{PREFIX}/scenarios/<id:scenario_id>/cells/<cellkey:cell_key>/history",
    id="cellHistory",
    summary="What each run of the scenario saw of one cell, newest run first",
    tag=TAG,
    role=TokenRole.VIEWER,
    query=PageQuery,
    replies=(Reply(200, "A page of observations.", Page[CellHistoryPoint]),),
)
def history_view(scenario_id: int, cell_key: str, query: PageQuery) -> Response:
    require_scenario(scenario_id)
    page = cell_history(db(), scenario_id, cell_key, cursor=query.cursor, limit=query.limit)
    return json_response(page_json(page))


@operation(
    blueprint,
    "GET",
    f"{PREFIX}/scenarios/<id:scenario_id>/flakes",
    id="scenarioFlakes",
    summary="Cells that flip-flop over the scenario's last finished runs on one cluster",
    description=(
        "Counted within one cluster (cluster, default: that of the newest finished run):"
        " across clusters every cell that differs between them would flip-flop."
    ),
    tag=TAG,
    role=TokenRole.VIEWER,
    query=FlakesQuery,
    replies=(Reply(200, "Flaky cells.", FlakesView),),
)
def flakes_view(scenario_id: int, query: FlakesQuery) -> Response:
    require_scenario(scenario_id)
    report = scenario_flakes(
        db(),
        scenario_id,
        window=query.window,
        min_switches=query.min_switches,
        cluster=query.cluster,
    )
    return json_response(report)


@operation(
    blueprint,
    "POST",
    f"{PREFIX}/scenarios/<id:scenario_id>/mutations",
    id="mutateScenario",
    summary="Mutation analysis: how many single policy mistakes the matrix would catch",
    description="Computed by the engine (nothing is probed); see docs/mutation.md.",
    tag=TAG,
    role=TokenRole.OPERATOR,
    body=BodySpec(model=MutationRequest),
    replies=(Reply(200, "The mutation report.", MutationReportView),),
)
def mutations_view(scenario_id: int, body: MutationRequest) -> Response:
    require_scenario(scenario_id)
    session = db()
    if body.revision_id is not None:
        revision = session.get(ScenarioRevision, body.revision_id)
        if revision is None or revision.scenario_id != scenario_id:
            raise unprocessable(
                [
                    Problem(
                        f"no revision {body.revision_id} of scenario {scenario_id}",
                        path=FieldPath(("revision_id",)),
                    )
                ]
            )
    else:
        revision = newest_revision(session, scenario_id)
        if revision is None:
            raise not_found(f"scenario {scenario_id} has no revision")
    scenario = load_revision(revision)
    report = mutate_scenario(scenario, versions=body.versions or None, suggestions=body.suggestions)
    document: dict[str, Any] = report_document(report)
    return json_response(document)
