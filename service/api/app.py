"""The Flask app factory of the REST API: ``create_app(config)``.

    gunicorn 'service.api:create_app()'

The configuration comes from ``config`` over NETPOL_DRIFT_* variables
(:mod:`service.api.config`). With a broker configured, runs are sent to the
Celery workers; without one they execute on a thread pool in this process
(the embedded default of ``netpol-drift serve``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Flask, Response
from sqlalchemy.orm import Session, sessionmaker
from werkzeug.routing import BaseConverter

from service.api.caching import ResponseCache, TtlCache
from service.api.config import ApiConfig
from service.api.context import EXTENSION, Services, close_session
from service.api.models.common import MAX_ID
from service.api.problems import register_error_handlers
from service.api.routes import BLUEPRINTS
from service.api.security import touch_if_used
from service.dashboard import register_dashboard
from service.runs.dispatch import Dispatcher, InProcessDispatcher
from service.runs.planning import PlanCache
from service.store.engine import make_engine, make_session_factory
from service.store.migrate import ensure_schema

__all__ = ["create_app"]


class IdConverter(BaseConverter):
    """A database id: 1 to 2**31-1. A larger number becomes 0, which no row has, so it is
    a 404 (refusing the match instead would make Werkzeug answer 405 for other methods)."""

    regex = r"[1-9][0-9]{0,9}"

    def to_python(self, value: str) -> int:
        number = int(value)
        return number if number <= MAX_ID else 0

    def to_url(self, value: Any) -> str:
        return str(int(value))


class CellKeyConverter(BaseConverter):
    """A cell key: 16 lower-case hex digits (service.scenario.cells)."""

    regex = r"[0-9a-f]{16}"


class AssetConverter(BaseConverter):
    """A file name of the docs page's assets."""

    regex = r"[a-z0-9][a-z0-9-]{0,62}\.(?:js|css)"


def _dispatcher(
    config: ApiConfig, sessions: sessionmaker[Session], plans: PlanCache
) -> tuple[Dispatcher, Any]:
    if not config.broker_url:
        return InProcessDispatcher(sessions, plans=plans, workers=config.run_threads), None
    # Only a deployment with a broker needs Celery and Redis loaded.
    import redis

    from workers.app import celery_init_app
    from workers.config import WorkerSettings, celery_config
    from workers.dispatch import CeleryDispatcher

    celery = celery_init_app(
        celery_config(
            WorkerSettings(broker_url=config.broker_url, database_url=config.database_url)
        )
    )
    broker = redis.Redis.from_url(config.broker_url, socket_timeout=2.0, socket_connect_timeout=2.0)
    return CeleryDispatcher(celery), broker


def _headers(response: Response) -> Response:
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Cache-Control", "no-store")
    return response


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """The API app. ``config`` keys are :class:`~service.api.config.ApiConfig` fields;
    missing ones come from the environment. Raises InvalidInput for a bad setting."""
    settings = ApiConfig.load(config)
    if settings.migrates:
        ensure_schema(settings.database_url)
    engine = make_engine(settings.database_url)
    sessions = make_session_factory(engine)
    plans = PlanCache()
    dispatcher, broker = _dispatcher(settings, sessions, plans)

    app = Flask("service.api", static_folder=None)
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes
    app.url_map.converters.update(id=IdConverter, cellkey=CellKeyConverter, asset=AssetConverter)
    register_error_handlers(app)
    for blueprint in BLUEPRINTS:
        app.register_blueprint(blueprint)
    # Teardowns run last-registered first: the request's session closes, then the
    # token's last use is written in a transaction of its own.
    app.teardown_request(touch_if_used)
    app.teardown_request(close_session)
    app.after_request(_headers)
    app.extensions[EXTENSION] = Services(
        config=settings,
        engine=engine,
        sessions=sessions,
        dispatcher=dispatcher,
        plans=plans,
        cache=ResponseCache(settings.cache_bytes),
        tokens=TtlCache(settings.auth_cache_s),
        broker=broker,
    )
    # The dashboard shares the API's sessions, auth and dispatcher (issue 6).
    register_dashboard(app)
    return app
