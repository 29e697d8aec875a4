"""Health, readiness, metrics, the OpenAPI document and its docs page."""

from __future__ import annotations

import functools
import logging
from pathlib import Path
from typing import Final

from alembic.runtime.migration import MigrationContext
from flask import Blueprint, Response
from sqlalchemy import func, select, text

from service.api.caching import CachedBody
from service.api.context import db, services
from service.api.metrics import CONTENT_TYPE, render_metrics
from service.api.models.responses import Check, Health, Readiness
from service.api.problems import not_found
from service.api.registry import PREFIX, Reply, json_response, operation
from service.api.routes.common import json_body
from service.queries.metrics import metrics_snapshot
from service.store.enums import RunStatus, TokenRole
from service.store.migrate import head_revision
from service.store.models import Run

__all__ = ["QUEUE", "blueprint"]

log = logging.getLogger(__name__)

blueprint = Blueprint("system", __name__)

TAG: Final = "system"
# The Celery queue shards are sent to (workers.config: task_default_queue).
QUEUE: Final = "netpol-drift"
# Kombu keeps a queue's messages of priority p > 0 in "<queue>\x06\x16<p>".
_PRIORITY_KEYS: Final = tuple(f"{QUEUE}\x06\x16{p}" for p in (1, 2, 3, 4, 5, 6, 7, 8, 9))
_STATIC: Final = Path(__file__).resolve().parents[1] / "static"
_DOCS_CSP: Final = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self';"
    " img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)


@operation(
    blueprint,
    "GET",
    f"{PREFIX}/health",
    id="health",
    summary="Liveness: the process answers",
    tag=TAG,
    role=None,
    replies=(Reply(200, "Alive.", Health),),
)
def health_view() -> Response:
    return json_response(Health(status="ok"))


def _database_check() -> Check:
    try:
        with services().engine.connect() as connection:
            connection.execute(text("SELECT 1"))
            current = MigrationContext.configure(connection).get_current_revision()
    except Exception as err:  # any failure to reach it means: not ready
        return Check(ok=False, detail=f"unreachable: {type(err).__name__}")
    head = head_revision()
    if current != head:
        return Check(ok=False, detail=f"schema at {current or 'nothing'}, expected {head}")
    return Check(ok=True, detail=f"reachable, schema {head}")


def _broker_check() -> Check | None:
    broker = services().broker
    if broker is None:
        return None
    try:
        broker.ping()
    except Exception as err:  # any failure to reach it means: not ready
        return Check(ok=False, detail=f"unreachable: {type(err).__name__}")
    return Check(ok=True, detail="reachable")


@operation(
    blueprint,
    "GET",
    f"{PREFIX}/ready",
    id="ready",
    summary="Readiness: the database (and the broker, when configured) are reachable",
    tag=TAG,
    role=None,
    replies=(
        Reply(200, "Ready.", Readiness),
        Reply(503, "Not ready; checks say what is missing.", Readiness),
    ),
)
def ready_view() -> Response:
    checks = {"database": _database_check()}
    broker = _broker_check()
    if broker is not None:
        checks["broker"] = broker
    ok = all(c["ok"] for c in checks.values())
    body = Readiness(status="ready" if ok else "unavailable", checks=checks)
    return json_response(body, 200 if ok else 503)


def _queue_depth() -> tuple[int | None, str]:
    broker = services().broker
    if broker is None:
        queued = db().scalar(select(func.count()).where(Run.status == RunStatus.QUEUED)) or 0
        return int(queued), "runs queued; no broker is configured"
    try:
        pipe = broker.pipeline()
        for key in (QUEUE, *_PRIORITY_KEYS):
            pipe.llen(key)
        return sum(int(n) for n in pipe.execute()), f"shard tasks in the broker queue {QUEUE}"
    except Exception as err:  # the rest of the metrics are still worth serving
        log.warning("cannot read the broker queue length: %s", err)
        return None, ""


@operation(
    blueprint,
    "GET",
    "/metrics",
    id="metrics",
    summary="Metrics in the Prometheus text format",
    tag=TAG,
    role=TokenRole.VIEWER,
    replies=(
        Reply(
            200,
            "Prometheus text exposition format 0.0.4.",
            {"type": "string"},
            "text/plain",
        ),
    ),
)
def metrics_view() -> Response:
    snapshot = metrics_snapshot(db(), drift_cache=services().drift_counts)
    depth, source = _queue_depth()
    return Response(
        render_metrics(snapshot, queue_depth=depth, queue_source=source), content_type=CONTENT_TYPE
    )


@operation(
    blueprint,
    "GET",
    f"{PREFIX}/openapi.json",
    id="openapi",
    summary="This API's OpenAPI 3.1 document",
    tag=TAG,
    role=None,
    replies=(Reply(200, "The OpenAPI document.", {"type": "object"}),),
)
def openapi_view() -> Response:
    body = _openapi_body(services().config.anonymous_read)
    return Response(body.body, mimetype=body.mimetype)


@functools.cache
def _openapi_body(anonymous_read: bool) -> CachedBody:
    # The document never changes while the process runs: serialised once per setting.
    from service.api.openapi import openapi_document

    return json_body(openapi_document(anonymous_read=anonymous_read))


_MEDIA: Final = {".html": "text/html", ".js": "text/javascript", ".css": "text/css"}


@functools.cache
def _asset(name: str) -> bytes | None:
    # A few small files, read once; only names the route's converter allows get here.
    path = _STATIC / name
    return path.read_bytes() if path.is_file() else None


def _docs_response(name: str) -> Response:
    body = _asset(name)
    if body is None:
        raise not_found(f"no asset {name}")
    response = Response(body, mimetype=_MEDIA[Path(name).suffix])
    response.headers["Content-Security-Policy"] = _DOCS_CSP
    response.headers["Cache-Control"] = "public, max-age=300"
    return response


@operation(
    blueprint,
    "GET",
    f"{PREFIX}/docs",
    id="docs",
    summary="The API's documentation page (local assets only)",
    tag=TAG,
    role=None,
    replies=(Reply(200, "HTML.", {"type": "string"}, "text/html"),),
    in_schema=False,
)
def docs_view() -> Response:
    return _docs_response("docs.html")


@operation(
    blueprint,
    "GET",
    f"{PREFIX}/docs/<asset:name>",
    id="docsAsset",
    summary="An asset of the documentation page",
    tag=TAG,
    role=None,
    replies=(Reply(200, "The asset.", {"type": "string"}, "text/plain"),),
    in_schema=False,
)
def docs_asset_view(name: str) -> Response:
    return _docs_response(name)
