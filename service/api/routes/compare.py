"""Comparisons: a run against an earlier run of its scenario (drift), and two policy
versions against each other (of a stored run, or as the engine plans a scenario)."""

from __future__ import annotations

from typing import Final

from flask import Blueprint, Response

from service.api.caching import CachedBody
from service.api.context import db
from service.api.models.requests import CompareRunsQuery, CompareVersionsQuery
from service.api.problems import bad_request, not_found, unprocessable
from service.api.registry import PREFIX, Reply, operation
from service.api.routes.common import (
    json_body,
    require_run,
    require_scenario,
    run_answer,
    state_answer,
)
from service.errors import FieldPath, InvalidInput, Problem
from service.queries.compare import (
    DriftView,
    VersionDiffView,
    revision_version_diff_view,
    run_drift,
    run_version_diff_view,
)
from service.queries.runs import previous_run_id
from service.queries.scenarios import newest_revision
from service.runs.revisions import load_revision
from service.store.enums import TokenRole
from service.store.models import ScenarioRevision

__all__ = ["blueprint"]

blueprint = Blueprint("compare", __name__)

TAG: Final = "compare"


@operation(
    blueprint,
    "GET",
    f"{PREFIX}/compare/runs",
    id="compareRuns",
    summary="Drift: the cells whose verdict changed from run base to run head",
    description=(
        "Changes are grouped (newly-allowed, newly-blocked, became-error, recovered, ...)"
        " and marked alarm (the version's policy content did not change) or expected."
        " 422 when the runs are of different scenarios or base is not the earlier one."
    ),
    tag=TAG,
    role=TokenRole.VIEWER,
    query=CompareRunsQuery,
    replies=(Reply(200, "The drift.", DriftView, headers=("ETag",)),),
    errors=(404, 422),
    etag=True,
)
def runs_view(query: CompareRunsQuery) -> Response:
    head = require_run(query.head)
    base_id = query.base
    if base_id is None:
        base_id = previous_run_id(db(), query.head)
        if base_id is None:
            raise not_found(f"run {query.head} has no earlier finished run to compare with")
    base = require_run(base_id)

    def make() -> CachedBody:
        try:
            view = run_drift(
                db(),
                base_id=base_id,
                head_id=query.head,
                marks=tuple(query.mark or ()),
                groups=tuple(query.group or ()),
                cursor=query.cursor,
                limit=query.limit,
            )
        except InvalidInput as err:
            if any(p.path.parts[:1] == ("cursor",) for p in err.problems):
                raise
            raise unprocessable(err.problems) from err
        if view is None:
            raise not_found(f"no run {query.head} or {base_id}")
        return json_body(view)

    # Two finished runs compare the same way for as long as they are kept.
    finished = head.status.finished and base.status.finished
    return state_answer(f"{head.token}|{base.token}", make, keep=finished)


@operation(
    blueprint,
    "GET",
    f"{PREFIX}/compare/versions",
    id="compareVersions",
    summary="Connections added, removed and changed between two policy versions",
    description=(
        "With run_id: from the run's cells (side=expected: the engine's verdicts; observed:"
        " what was probed). With scenario_id: as the engine plans the scenario's newest (or"
        " the given) revision, over the probed cells or, with all_ports, every port."
        " 422 for a version the run or scenario does not have."
    ),
    tag=TAG,
    role=TokenRole.VIEWER,
    query=CompareVersionsQuery,
    replies=(Reply(200, "The diff.", VersionDiffView, headers=("ETag",)),),
    errors=(404, 422),
    etag=True,
)
def versions_view(query: CompareVersionsQuery) -> Response:
    if (query.run_id is None) == (query.scenario_id is None):
        raise bad_request(
            [Problem("give either run_id or scenario_id", path=FieldPath(("run_id",)))]
        )
    if query.run_id is not None:
        if query.revision_id is not None or query.all_ports:
            raise bad_request([Problem("only with scenario_id", path=FieldPath(("revision_id",)))])
        run_id = query.run_id
        state = require_run(run_id)

        def make_run_diff() -> object:
            try:
                view = run_version_diff_view(db(), run_id, query.ref1, query.ref2, side=query.side)
            except InvalidInput as err:
                raise unprocessable(err.problems) from err
            if view is None:
                raise not_found(f"no run {run_id}")
            return view

        return run_answer(state, lambda: json_body(make_run_diff()))
    assert query.scenario_id is not None
    require_scenario(query.scenario_id)
    session = db()
    if query.revision_id is not None:
        revision = session.get(ScenarioRevision, query.revision_id)
        if revision is None or revision.scenario_id != query.scenario_id:
            raise not_found(f"no revision {query.revision_id} of scenario {query.scenario_id}")
    else:
        revision = newest_revision(session, query.scenario_id)
        if revision is None:
            raise not_found(f"scenario {query.scenario_id} has no revision")

    def make_revision_diff() -> CachedBody:
        try:
            diff = revision_version_diff_view(
                load_revision(revision), query.ref1, query.ref2, all_ports=query.all_ports
            )
        except InvalidInput as err:
            raise unprocessable(err.problems) from err
        return json_body(diff)

    # A revision never changes: its id and the request say everything.
    revision_state = f"revision:{revision.id}:{revision.content_hash}"
    return state_answer(revision_state, make_revision_diff, keep=False)
