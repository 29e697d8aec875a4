"""A run: its heatmaps per policy version, its regressions, a cell; their downloads."""

from __future__ import annotations

from typing import Any, Final

from flask import abort, jsonify, render_template, request, url_for
from werkzeug.wrappers import Response

from service.dashboard.auth import needs
from service.dashboard.blueprint import bp
from service.dashboard.context import db, state
from service.dashboard.grid import GridCell, VersionGrid
from service.dashboard.matrix_view import MatrixFilter, Show, VersionPanel, version_panel
from service.dashboard.queries import Story, revision_story
from service.dashboard.views.common import csv_download, run_or_404, text_arg
from service.export.heatmap_png import heatmap_png
from service.export.svg import heatmap_svg
from service.export.tables import Table
from service.queries.cells import (
    CellDetail,
    CellFilter,
    all_cells,
    cell_history,
    get_cell,
    list_cells,
)
from service.queries.exports import render_csv
from service.queries.runs import RunDetail, previous_run_id
from service.store.enums import RunStatus, TokenRole

__all__: list[str] = []

# Regressions listed on the page (with explanations); the CSV has them all.
REGRESSIONS_SHOWN: Final = 50
# Runs in a cell's history strip.
CELL_HISTORY: Final = 30
_KEY_CHARS: Final = frozenset("0123456789abcdef")


def _story(revision_id: int) -> Story | None:
    # A revision never changes: its story is parsed once per process.
    cache = state().stories
    if revision_id not in cache:
        if len(cache) > 256:
            cache.clear()
        cache[revision_id] = revision_story(db(), revision_id)
    found = cache[revision_id]
    return found if isinstance(found, Story) else None


def _matrices(run: RunDetail) -> dict[str, VersionGrid]:
    finished = RunStatus(run["status"]) in (RunStatus.SUCCEEDED, RunStatus.FAILED)
    return state().matrices.get(db(), run["id"], run["revision_id"], finished=finished)


def _matrix(run: RunDetail, version: str) -> VersionGrid:
    found = _matrices(run).get(version)
    if found is None:
        abort(404, description=f"run {run['id']} has no version {version!r}")
    return found


def _filter() -> MatrixFilter:
    try:
        show = Show(request.args.get("show", "all") or "all")
    except ValueError:
        abort(400, description=f"show: expected one of {', '.join(s.value for s in Show)}")
    return MatrixFilter(show=show, text=text_arg("q", limit=100), version=text_arg("version"))


@bp.get("/runs/<int:run_id>")
@needs(TokenRole.VIEWER)
def run_page(run_id: int) -> str:
    run = run_or_404(run_id)
    session = db()
    settings = state().settings
    matrix_filter = _filter()
    story = _story(run["revision_id"])
    descriptions = {v.name: v.description for v in story.versions} if story else {}
    names = [v["name"] for v in run["versions"]]
    if matrix_filter.version and matrix_filter.version not in names:
        abort(404, description=f"run {run_id} has no version {matrix_filter.version!r}")
    matrices = _matrices(run)
    shown = [
        matrices[name]
        for name in names
        if name in matrices and (not matrix_filter.version or name == matrix_filter.version)
    ]
    # One drawing for the whole page: tables while every cell shown fits the budget, else
    # canvases (a page of ten 1,000-cell tables would be as slow as one of 10,000).
    as_tables = sum(m.counts.cells for m in shown) <= settings.table_cells
    panels: list[VersionPanel] = [
        version_panel(
            matrix,
            title=f"{run['scenario']} · run {run_id} · {matrix.version}",
            description=descriptions.get(matrix.version, ""),
            matrix_filter=matrix_filter,
            table_cells=settings.table_cells if as_tables else 0,
        )
        for matrix in shown
    ]
    finished = RunStatus(run["status"]) in (RunStatus.SUCCEEDED, RunStatus.FAILED)
    previous = previous_run_id(session, run_id) if finished else None
    drift = state().columns.drift(session, run_id, previous) if previous is not None else None
    regressions = list_cells(
        session,
        run_id,
        run["revision_id"],
        CellFilter(regression=True),
        limit=REGRESSIONS_SHOWN,
    )
    return render_template(
        "dashboard/run.html",
        run=run,
        story=story,
        panels=panels,
        matrix_filter=matrix_filter,
        shows=list(Show),
        version_names=names,
        previous=previous,
        drift=drift,
        regressions=regressions.items,
        more_regressions=regressions.next_cursor is not None,
        open_run=not RunStatus(run["status"]).finished,
    )


def _cell_json(run_id: int, cell: CellDetail) -> dict[str, Any]:
    return {
        "key": cell["key"],
        "version": cell["version"],
        "source": f"{cell['source_namespace']}/{cell['source']}",
        "source_labels": cell["source_labels"],
        "target": f"{cell['target_namespace']}/{cell['target']}",
        "port": cell["port"],
        "port_number": cell["port_number"],
        "protocol": cell["protocol"],
        "expected": cell["expected"],
        "observed": cell["observed"],
        "raw_outcome": cell["raw_outcome"],
        "latency_ms": cell["latency_ms"],
        "attempts": cell["attempts"],
        "regression": cell["regression"],
        "flaky": cell["flaky"],
        "loopback": cell["loopback"],
        "explanation": cell["explanation"] or "",
        "url": url_for("dashboard.cell_page", run_id=run_id, key=cell["key"]),
    }


def _checked_key(key: str) -> str:
    if len(key) != 16 or not set(key) <= _KEY_CHARS:
        abort(404, description="not a cell key")
    return key


@bp.get("/runs/<int:run_id>/cell.json")
@needs(TokenRole.VIEWER)
def cell_json(run_id: int) -> Response:
    """One cell by key, or by its place in a version's matrix (``version``, ``row``, ``col``)."""
    run = run_or_404(run_id)
    key = request.args.get("key", "")
    if not key:
        version = request.args.get("version", "")
        try:
            row = int(request.args.get("row", ""))
            column = int(request.args.get("col", ""))
        except ValueError:
            abort(400, description="expected key, or version with row and col")
        grid = _matrix(run, version).cells
        if not (0 <= row < len(grid) and 0 <= column < len(grid[row])):
            abort(404, description="no such position in the matrix")
        found = grid[row][column]
        if found is None:
            abort(404, description="the run has no cell at this position")
        key = found.key
    cell = get_cell(db(), run_id, run["revision_id"], _checked_key(key))
    if cell is None:
        abort(404, description=f"run {run_id} has no cell {key}")
    return jsonify(_cell_json(run_id, cell))


@bp.get("/runs/<int:run_id>/cells/<key>")
@needs(TokenRole.VIEWER)
def cell_page(run_id: int, key: str) -> str:
    run = run_or_404(run_id)
    cell = get_cell(db(), run_id, run["revision_id"], _checked_key(key))
    if cell is None:
        abort(404, description=f"run {run_id} has no cell {key}")
    history = cell_history(db(), run["scenario_id"], key, limit=CELL_HISTORY).items
    return render_template(
        "dashboard/cell.html", run=run, cell=cell, history=list(reversed(history))
    )


@bp.get("/runs/<int:run_id>/versions/<version>/heatmap.svg")
@needs(TokenRole.VIEWER)
def heatmap_svg_download(run_id: int, version: str) -> Response:
    run = run_or_404(run_id)
    heatmap = _matrix(run, version).heatmap(
        title=f"{run['scenario']} · run {run_id} · {version}",
        subtitle=f"{run['status']} · {run['created_at']}",
    )
    response = Response(heatmap_svg(heatmap), mimetype="image/svg+xml")
    response.headers["Content-Disposition"] = (
        f'inline; filename="run-{run_id}-{_file_part(version)}.svg"'
    )
    return response


@bp.get("/runs/<int:run_id>/versions/<version>/heatmap.png")
@needs(TokenRole.VIEWER)
def heatmap_png_download(run_id: int, version: str) -> Response:
    run = run_or_404(run_id)
    heatmap = _matrix(run, version).heatmap(
        title=f"{run['scenario']} - run {run_id} - {version}",
        subtitle=f"{run['status']} - {run['created_at']}",
    )
    response = Response(heatmap_png(heatmap), mimetype="image/png")
    response.headers["Content-Disposition"] = (
        f'inline; filename="run-{run_id}-{_file_part(version)}.png"'
    )
    return response


def _file_part(text: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-." else "_" for ch in text)[:80]


@bp.get("/runs/<int:run_id>/versions/<version>/matrix.csv")
@needs(TokenRole.VIEWER)
def matrix_csv(run_id: int, version: str) -> Response:
    matrix = _matrix(run_or_404(run_id), version)
    columns = [c.label for c in matrix.columns]
    rows = []
    for row, line in zip(matrix.rows, matrix.cells, strict=True):
        rows.append(
            (
                row.label,
                *(
                    ""
                    if cell is None
                    else cell.observed + (" (regression)" if cell.regression else "")
                    for cell in line
                ),
            )
        )
    return csv_download(Table(("source", *columns), rows), "run", run_id, version, "matrix")


def _matrix_value(cell: GridCell | None) -> str:
    if cell is None:
        return ""
    return f"{cell.observed} (regression)" if cell.regression else cell.observed


@bp.get("/runs/<int:run_id>/cells.csv")
@needs(TokenRole.VIEWER)
def cells_csv(run_id: int) -> Response:
    run = run_or_404(run_id)
    cells = all_cells(db(), run_id, run["revision_id"])
    response = Response(render_csv(cells), mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="run-{run_id}-cells.csv"'
    return response


@bp.get("/runs/<int:run_id>/regressions.csv")
@needs(TokenRole.VIEWER)
def regressions_csv(run_id: int) -> Response:
    run = run_or_404(run_id)
    cells = all_cells(db(), run_id, run["revision_id"], CellFilter(regression=True))
    return csv_download(
        Table(
            (
                "version",
                "source",
                "target",
                "port",
                "protocol",
                "expected",
                "observed",
                "raw_outcome",
                "attempts",
                "explanation",
                "key",
            ),
            [
                (
                    c["version"],
                    f"{c['source_namespace']}/{c['source']}",
                    f"{c['target_namespace']}/{c['target']}",
                    str(c["port"]),
                    c["protocol"],
                    c["expected"],
                    c["observed"],
                    c["raw_outcome"],
                    c["attempts"],
                    c["explanation"],
                    c["key"],
                )
                for c in cells
            ],
        ),
        "run",
        run_id,
        "regressions",
    )
