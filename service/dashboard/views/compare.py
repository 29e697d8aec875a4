"""Two runs side by side, showing only what differs (:func:`service.queries.compare.run_drift`)."""

from __future__ import annotations

from typing import Final

from flask import abort, render_template, request
from werkzeug.wrappers import Response

from service.dashboard.auth import needs
from service.dashboard.blueprint import bp
from service.dashboard.context import db
from service.dashboard.views.common import csv_download, int_arg, run_or_404
from service.errors import InvalidInput
from service.export.tables import Table
from service.queries.compare import DriftView, run_drift
from service.queries.runs import RunFilter, RunSummary, list_runs, previous_run_id
from service.store.enums import RunStatus, TokenRole

__all__: list[str] = []

# Changes per page; the CSV has every one.
PAGE: Final = 500
_ALL: Final = 10**9
_FINISHED: Final = (RunStatus.SUCCEEDED, RunStatus.FAILED)


def _pair() -> tuple[int | None, int | None]:
    head = int_arg("head")
    base = int_arg("base")
    if head is not None and base is None:
        base = previous_run_id(db(), head)
    return base, head


def _drift(base: int, head: int, *, cursor: str | None, limit: int) -> DriftView:
    try:
        view = run_drift(db(), base_id=base, head_id=head, cursor=cursor, limit=limit)
    except InvalidInput as err:
        abort(400, description="; ".join(str(p) for p in err.problems))
    if view is None:
        abort(404, description=f"there is no run {base} or {head}")
    return view


@bp.get("/compare")
@needs(TokenRole.VIEWER)
def compare_page() -> str:
    base, head = _pair()
    choices: list[RunSummary] = []
    view = None
    base_run = head_run = None
    if head is not None:
        head_run = run_or_404(head)
        choices = list_runs(
            db(), RunFilter(scenario_id=head_run["scenario_id"], status=_FINISHED), limit=100
        ).items
    if base is not None and head is not None:
        base_run = run_or_404(base)
        view = _drift(base, head, cursor=request.args.get("cursor") or None, limit=PAGE)
    return render_template(
        "dashboard/compare.html",
        base=base,
        head=head,
        base_run=base_run,
        head_run=head_run,
        choices=choices,
        view=view,
    )


@bp.get("/compare.csv")
@needs(TokenRole.VIEWER)
def compare_csv() -> Response:
    base, head = _pair()
    if base is None or head is None:
        abort(400, description="expected base and head run ids")
    view = _drift(base, head, cursor=None, limit=_ALL)
    return csv_download(
        Table(
            (
                "group",
                "mark",
                "version",
                "source",
                "target",
                "port",
                "protocol",
                f"run_{base}_observed",
                f"run_{head}_observed",
                f"run_{base}_expected",
                f"run_{head}_expected",
                "key",
            ),
            [
                (
                    c["group"],
                    c["mark"],
                    c["version"],
                    f"{c['source_namespace']}/{c['source']}",
                    f"{c['target_namespace']}/{c['target']}",
                    str(c["port"]),
                    c["protocol"],
                    c["before"]["observed"],
                    c["after"]["observed"],
                    c["before"]["expected"],
                    c["after"]["expected"],
                    c["key"],
                )
                for c in view["changes"]
            ],
        ),
        "compare",
        base,
        head,
    )
