"""Errors on dashboard pages as HTML pages; everywhere else as the app already answers them.

The API's error handlers (:mod:`service.api.problems`) are app-wide: they turn
every error, a 404 for an unknown path or a 405 as much as the API's own, into
``application/problem+json``. A person who mistypes a dashboard address, or
whose page hits a database that is down, should see a page of the dashboard
instead, with its header and a way back.

So :func:`install_error_pages` wraps each error handler the app has when the
dashboard is registered (and adds fallbacks for errors it has none for). A
wrapped handler answers as before, and then, for a request of a dashboard
page, the problem document it made becomes a page with the same status, title,
detail and protocol headers (Allow, Retry-After). The API keeps its problem
documents; so does a client asking for JSON under /dashboard (the run page's
cell panel fetches ``cell.json`` with ``Accept: application/json``, and a
monitor may ask for ``application/problem+json``).

Errors of routing (an unknown path, a wrong method) belong to no blueprint, so
this is done app-wide rather than with a blueprint's ``errorhandler``, and the
page is rendered with the dashboard's template helpers passed explicitly.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from http import HTTPStatus
from typing import Any, Final

from flask import Flask, g, render_template, request
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response

from service.dashboard.auth import Viewer, current_viewer
from service.dashboard.blueprint import (
    HEADERS,
    STATIC_PREFIX,
    template_helpers,
    under_dashboard,
)
from service.dashboard.context import close_db

__all__ = ["PROBLEM_JSON", "error_page", "install_error_pages", "wants_page"]

log = logging.getLogger(__name__)

PROBLEM_JSON: Final = "application/problem+json"
_PAGE: Final = "text/html"
# Order matters for */*: best_match prefers the first, so a browser gets the page.
_OFFERED: Final = (_PAGE, PROBLEM_JSON, "application/json")
# What an error page keeps from the response it replaces: what the protocol needs.
_KEPT_HEADERS: Final = ("Allow", "Retry-After", "WWW-Authenticate")
_WRAPPED: Final = "_netpol_drift_error_page"

Handler = Callable[[Any], Any]


def wants_page() -> bool:
    """Whether this request's error is answered with an HTML page: a dashboard path (not a
    static file) from a client that does not prefer JSON. No Accept header means a page."""
    path = request.path
    if not under_dashboard(path):
        return False
    if path.startswith(STATIC_PREFIX):
        return False
    best = request.accept_mimetypes.best_match(_OFFERED)
    return best is None or best == _PAGE


def install_error_pages(app: Flask) -> None:
    """Make the app's errors on dashboard pages HTML pages (once per app)."""
    handlers = app.error_handler_spec[None]
    existing = [(cls, h) for by_class in handlers.values() for cls, h in by_class.items()]
    for cls, handler in existing:
        if not getattr(handler, _WRAPPED, False):
            app.register_error_handler(cls, _page_or(handler))
    covered = {cls for cls, _ in existing}
    for cls in (HTTPException, Exception):
        if cls not in covered:
            app.register_error_handler(cls, _page_or(None))
    # An error page may open the request's session (who is logged in) on a request
    # that matched no dashboard route, whose blueprint teardown then does not run.
    app.teardown_request(close_db)


def _page_or(handler: Handler | None) -> Handler:
    def answer(error: Exception) -> Any:
        if handler is not None:
            answered = handler(error)
        elif isinstance(error, HTTPException):
            answered = error
        else:
            # No handler of the app's: let Flask treat it as unhandled (a 500, logged).
            raise error
        if not wants_page():
            return answered
        if handler is None:
            # Only an HTTPException gets here: werkzeug's own page, made the dashboard's.
            return _page_for_http(answered)
        return _page_for(error, answered)

    setattr(answer, _WRAPPED, True)
    return answer


def _page_for(error: Exception, answered: Any) -> Any:
    if isinstance(answered, HTTPException):
        answered = answered.get_response()
    if not isinstance(answered, Response):
        return answered
    if answered.mimetype != PROBLEM_JSON:
        # The app's handler made a page of its own (or a redirect): keep it.
        return answered
    status = answered.status_code
    title, detail = _title_and_detail(answered, error, status)
    return error_page(status, title, detail, {k: answered.headers[k] for k in _present(answered)})


def _page_for_http(error: HTTPException) -> Response:
    original = error.get_response()
    return error_page(
        error.code or 500,
        error.name,
        error.description or "",
        {k: original.headers[k] for k in _present(original)},
    )


def _present(response: Response) -> list[str]:
    return [name for name in _KEPT_HEADERS if name in response.headers]


def _title_and_detail(response: Response, error: Exception, status: int) -> tuple[str, str]:
    try:
        body = json.loads(response.get_data(as_text=True))
    except ValueError:
        body = {}
    if not isinstance(body, dict):
        body = {}
    title = body.get("title")
    detail = body.get("detail")
    if not isinstance(title, str):
        title = error.name if isinstance(error, HTTPException) else HTTPStatus(status).phrase
    if not isinstance(detail, str):
        detail = ""
    return title, detail


def error_page(
    status: int, title: str, detail: str, headers: dict[str, str] | None = None
) -> Response:
    """The dashboard's error page, with its security headers."""
    context = template_helpers()
    context["viewer"] = _viewer()
    page = render_template(
        "dashboard/error.html", status=status, title=title, detail=detail, **context
    )
    response = Response(page, status=status, mimetype=_PAGE)
    for name, value in (headers or {}).items():
        response.headers[name] = value
    for name, value in HEADERS.items():
        response.headers.setdefault(name, value)
    response.headers.setdefault("Cache-Control", "no-store")
    return response


def _viewer() -> Viewer:
    # Who is logged in needs the database: the error may be that it is down.
    try:
        return current_viewer()
    except Exception as err:  # whatever failed, the page is still shown
        log.info("error page shown without its viewer: %s", err)
        viewer = Viewer(None)
        # The blueprint's context processor asks again when the page renders.
        g.dashboard_viewer = viewer
        return viewer
