"""A run's results: its cells with filters, one cell, the matrix of one version, and
downloads (JUnit XML, JSON, CSV). Every answer carries an ETag (304 on If-None-Match)."""

from __future__ import annotations

from typing import Final

from flask import Blueprint, Response

from service.api.caching import CachedBody
from service.api.context import db
from service.api.models.common import Page
from service.api.models.requests import CellFilters, CellListQuery, MatrixQuery
from service.api.problems import not_found
from service.api.registry import PREFIX, Reply, operation
from service.api.routes.common import json_body, page_json, require_run, run_answer
from service.queries.cells import (
    CellDetail,
    CellFilter,
    CellView,
    all_cells,
    get_cell,
    list_cells,
)
from service.queries.exports import RunExport, render_csv, render_json, render_junit
from service.queries.matrix import VersionMatrix, version_matrix
from service.queries.runs import get_run
from service.store.enums import TokenRole

__all__ = ["blueprint"]

blueprint = Blueprint("results", __name__)

TAG: Final = "results"
_ETAG: Final = ("ETag",)


def _filter(query: CellFilters) -> CellFilter:
    return CellFilter(
        observed=tuple(query.verdict or ()),
        expected=tuple(query.expected or ()),
        regression=query.regression,
        flaky=query.flaky,
        loopback=query.loopback,
        versions=tuple(query.version or ()),
        sources=tuple(query.source or ()),
        source_namespaces=tuple(query.source_namespace or ()),
        targets=tuple(query.target or ()),
        target_namespaces=tuple(query.target_namespace or ()),
        protocols=tuple(query.protocol or ()),
    )


@operation(
    blueprint,
    "GET",
    f"{PREFIX}/runs/<id:run_id>/cells",
    id="listCells",
    summary="A run's cells in plan order, filtered by verdict, regression, version, source, target",
    tag=TAG,
    role=TokenRole.VIEWER,
    query=CellListQuery,
    replies=(Reply(200, "A page of cells.", Page[CellView], headers=_ETAG),),
    etag=True,
)
def cells_view(run_id: int, query: CellListQuery) -> Response:
    state = require_run(run_id)

    def make() -> CachedBody:
        page = list_cells(
            db(),
            run_id,
            state.revision_id,
            _filter(query),
            cursor=query.cursor,
            limit=query.limit,
        )
        return json_body(page_json(page))

    return run_answer(state, make)


@operation(
    blueprint,
    "GET",
    f"{PREFIX}/runs/<id:run_id>/cells/<cellkey:cell_key>",
    id="getCell",
    summary="One cell of a run, with every attempt and the engine's explanation",
    tag=TAG,
    role=TokenRole.VIEWER,
    replies=(Reply(200, "The cell.", CellDetail, headers=_ETAG),),
    etag=True,
)
def cell_view(run_id: int, cell_key: str) -> Response:
    state = require_run(run_id)
    cell = get_cell(db(), run_id, state.revision_id, cell_key)
    if cell is None:
        raise not_found(f"run {run_id} has no cell {cell_key}")
    return run_answer(state, lambda: json_body(cell))


@operation(
    blueprint,
    "GET",
    f"{PREFIX}/runs/<id:run_id>/matrix",
    id="versionMatrix",
    summary="The matrix of one policy version: sources down, target ports across",
    description=(
        "Verdicts as a string per row, a symbol per column: A allowed, B blocked, E error,"
        " I invalid, . no cell; regressions, flaky and loopback cells as [row, column]."
    ),
    tag=TAG,
    role=TokenRole.VIEWER,
    query=MatrixQuery,
    replies=(Reply(200, "The matrix.", VersionMatrix, headers=_ETAG),),
    etag=True,
)
def matrix_view(run_id: int, query: MatrixQuery) -> Response:
    state = require_run(run_id)

    def make() -> CachedBody:
        matrix = version_matrix(db(), run_id, state.revision_id, query.version, keys=query.keys)
        if matrix is None:
            raise not_found(f"run {run_id} has no policy version {query.version!r}")
        return json_body(matrix)

    return run_answer(state, make)


def _download(run_id: int, query: CellFilters, kind: str) -> Response:
    state = require_run(run_id)

    def make() -> CachedBody:
        session = db()
        run = get_run(session, run_id)
        if run is None:
            raise not_found(f"no run {run_id}")
        cells = all_cells(session, run_id, state.revision_id, _filter(query))
        if kind == "junit":
            text, media, suffix = render_junit(run, cells), "application/xml", "xml"
        elif kind == "csv":
            text, media, suffix = render_csv(cells), "text/csv", "csv"
        else:
            text, media, suffix = render_json(run, cells), "application/json", "json"
        disposition = f'attachment; filename="netpol-drift-run-{run_id}.{suffix}"'
        return CachedBody(text.encode(), media, (("Content-Disposition", disposition),))

    return run_answer(state, make)


_XML_SCHEMA: Final = {"type": "string", "description": "JUnit XML: a testsuite per version."}
_CSV_SCHEMA: Final = {"type": "string", "description": "CSV with a header row, one cell a row."}


@operation(
    blueprint,
    "GET",
    f"{PREFIX}/runs/<id:run_id>/export/junit",
    id="exportJunit",
    summary="The run's cells as JUnit XML (a testsuite per version, a testcase per cell)",
    tag=TAG,
    role=TokenRole.VIEWER,
    query=CellFilters,
    replies=(Reply(200, "JUnit XML.", _XML_SCHEMA, "application/xml", headers=_ETAG),),
    etag=True,
)
def junit_view(run_id: int, query: CellFilters) -> Response:
    return _download(run_id, query, "junit")


@operation(
    blueprint,
    "GET",
    f"{PREFIX}/runs/<id:run_id>/export/json",
    id="exportJson",
    summary="The run and all its cells as one JSON document",
    tag=TAG,
    role=TokenRole.VIEWER,
    query=CellFilters,
    replies=(Reply(200, "The run and its cells.", RunExport, headers=_ETAG),),
    etag=True,
)
def json_view(run_id: int, query: CellFilters) -> Response:
    return _download(run_id, query, "json")


@operation(
    blueprint,
    "GET",
    f"{PREFIX}/runs/<id:run_id>/export/csv",
    id="exportCsv",
    summary="The run's cells as CSV",
    tag=TAG,
    role=TokenRole.VIEWER,
    query=CellFilters,
    replies=(Reply(200, "CSV.", _CSV_SCHEMA, "text/csv", headers=_ETAG),),
    etag=True,
)
def csv_view(run_id: int, query: CellFilters) -> Response:
    return _download(run_id, query, "csv")
