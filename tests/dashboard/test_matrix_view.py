"""A version's matrix as the run page draws it: filters, tables, canvases and groups."""

from __future__ import annotations

from service.dashboard.grid import GridCell, GridColumn, GridCounts, GridRow, VersionGrid
from service.dashboard.matrix_view import MatrixFilter, Show, version_panel

# Rows: dev/web, dev/db, prod/web; columns: api/a 80, api/b 80, ops/m 9100.
# Letters: A allowed, B blocked, E error, I invalid; lower case is a regression; . no cell.
LAYOUT = ("AbA", "BBE", "aI.")
VERDICT = {"a": "allowed", "b": "blocked", "e": "error", "i": "invalid"}


def _grid() -> VersionGrid:
    rows = (GridRow("dev", "web"), GridRow("dev", "db"), GridRow("prod", "web"))
    columns = (
        GridColumn("api", "a", 80, 80, "TCP"),
        GridColumn("api", "b", 80, 80, "TCP"),
        GridColumn("ops", "m", 9100, 9100, "TCP"),
    )
    cells = []
    for i, line in enumerate(LAYOUT):
        out: list[GridCell | None] = []
        for j, letter in enumerate(line):
            if letter == ".":
                out.append(None)
                continue
            observed = VERDICT[letter.lower()]
            regression = letter.islower()
            expected = (
                ("blocked" if observed == "allowed" else "allowed") if regression else observed
            )
            out.append(GridCell(f"{i:08x}{j:08x}", expected, observed, regression, False, False))
        cells.append(tuple(out))
    return VersionGrid(1, "v1", "h" * 64, rows, columns, tuple(cells), GridCounts(cells=8))


def test_a_small_matrix_is_a_table_of_every_cell() -> None:
    panel = version_panel(_grid(), title="t")
    assert panel.mode == "table"
    assert [[c.observed if c else None for c in line] for line in panel.table] == [
        ["allowed", "blocked", "allowed"],
        ["blocked", "blocked", "error"],
        ["allowed", "invalid", None],
    ]
    assert panel.heatmap.codes == ("aBa", "bbe", "Ai.")


def test_showing_regressions_keeps_the_rows_and_columns_that_have_one() -> None:
    panel = version_panel(_grid(), title="t", matrix_filter=MatrixFilter(show=Show.REGRESSIONS))
    assert panel.heatmap.rows == ("dev/web", "prod/web")
    assert panel.heatmap.columns == ("api/a 80/TCP", "api/b 80/TCP")
    dims = [[c.dim for c in line if c] for line in panel.table]
    assert dims == [[True, False], [False, True]]
    assert panel.hidden == (1, 1)


def test_showing_problems_keeps_errors_and_invalid_cells() -> None:
    panel = version_panel(_grid(), title="t", matrix_filter=MatrixFilter(show=Show.PROBLEMS))
    assert panel.heatmap.rows == ("dev/db", "prod/web")
    assert panel.heatmap.columns == ("api/b 80/TCP", "ops/m 9100/TCP")


def test_text_narrows_each_dimension_it_matches() -> None:
    by_row = version_panel(_grid(), title="t", matrix_filter=MatrixFilter(text="PROD"))
    assert by_row.heatmap.rows == ("prod/web",)
    assert len(by_row.heatmap.columns) == 3
    by_column = version_panel(_grid(), title="t", matrix_filter=MatrixFilter(text="ops/"))
    assert len(by_column.heatmap.rows) == 3
    assert by_column.heatmap.columns == ("ops/m 9100/TCP",)


def test_text_that_matches_nothing_leaves_an_empty_panel() -> None:
    panel = version_panel(_grid(), title="t", matrix_filter=MatrixFilter(text="nowhere"))
    assert panel.mode == "empty"
    assert panel.hidden == (3, 3)


def test_over_the_table_budget_a_matrix_is_a_canvas_with_namespace_groups() -> None:
    panel = version_panel(_grid(), title="t", table_cells=4)
    assert panel.mode == "canvas"
    assert panel.table == ()
    assert panel.group_rows == ("dev", "prod")
    assert panel.group_columns == ("api", "ops")
    dev_api = panel.groups[0][0]
    assert dev_api is not None
    assert dict(dev_api.counts) == {"allowed": 1, "blocked": 3, "error": 0, "invalid": 0}
    assert dev_api.regressions == 1
    prod_ops = panel.groups[1][1]
    assert prod_ops is None
    data = panel.canvas_data
    assert data["codes"] == ["aBa", "bbe", "Ai."]
    assert data["rowIndex"] == [0, 1, 2]


def test_a_canvas_dims_what_the_filter_does_not_show() -> None:
    panel = version_panel(
        _grid(), title="t", matrix_filter=MatrixFilter(show=Show.REGRESSIONS), table_cells=1
    )
    assert panel.mode == "canvas"
    assert panel.dim == ("10", "01")
    assert panel.canvas_data["rowIndex"] == [0, 2]
