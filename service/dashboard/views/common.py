"""What the dashboard's views share: downloads, looking a run up, reading query arguments."""

from __future__ import annotations

from flask import abort, request
from werkzeug.wrappers import Response

from service.dashboard.context import db
from service.export.tables import Table, csv_filename, table_csv
from service.queries.runs import RunDetail, get_run

__all__ = ["csv_download", "int_arg", "run_or_404", "text_arg"]

# Ids in URLs are database ids (a 32-bit integer column).
_MAX_ID = 2**31 - 1


def csv_download(table: Table, *name: str | int) -> Response:
    response = Response(table_csv(table), mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="{csv_filename(*name)}"'
    return response


def run_or_404(run_id: int) -> RunDetail:
    if not 0 < run_id <= _MAX_ID:
        abort(404)
    found = get_run(db(), run_id)
    if found is None:
        abort(404, description=f"there is no run {run_id}")
    return found


def int_arg(name: str, *, default: int | None = None) -> int | None:
    """An optional id or count from the query string; 400 when it is not one."""
    text = request.args.get(name, "").strip()
    if not text:
        return default
    if not text.isdigit() or not 0 < int(text) <= _MAX_ID:
        abort(400, description=f"{name}: expected a whole number from 1, got {text[:40]!r}")
    return int(text)


def text_arg(name: str, *, limit: int = 200) -> str:
    return request.args.get(name, "").strip()[:limit]
