"""What the app holds for its requests: the database, the dispatcher, caches.

One :class:`Services` per app, made by the factory and kept in
``app.extensions``; one database session per request, made on first use and
closed when the request ends. A request commits at most once, at its end
(:func:`commit`): anything it wrote before an error is rolled back with the
session.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final

from flask import Flask, current_app, g
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from service.api.caching import ResponseCache, TtlCache
from service.api.config import ApiConfig
from service.auth import TokenInfo
from service.queries.metrics import DriftCountCache
from service.queries.runs import RunState
from service.runs.dispatch import Dispatcher, InProcessDispatcher
from service.runs.planning import PlanCache
from service.store.engine import SQLITE_BEGIN

__all__ = ["EXTENSION", "Services", "commit", "db", "services"]

EXTENSION: Final = "netpol_drift"
RUN_STATE_S: Final = 2.0


@dataclass(eq=False)
class Services:
    config: ApiConfig
    engine: Engine
    sessions: sessionmaker[Session]
    dispatcher: Dispatcher
    plans: PlanCache
    cache: ResponseCache
    # Tokens by hash, while trusted without a query (config.auth_cache_s).
    tokens: TtlCache[str, TokenInfo] = field(default_factory=lambda: TtlCache(0))
    # The state of finished runs, for a moment: a finished run changes only if it is
    # deleted, or cells of a shard still running when it was cancelled arrive late.
    run_states: TtlCache[int, RunState] = field(default_factory=lambda: TtlCache(RUN_STATE_S))
    drift_counts: DriftCountCache = field(default_factory=DriftCountCache)
    # A redis.Redis client when a broker is configured (readiness, queue depth).
    broker: Any = None

    def close(self) -> None:
        """Wait for in-process runs, close the broker client, release connections."""
        if isinstance(self.dispatcher, InProcessDispatcher):
            self.dispatcher.close()
        if self.broker is not None:
            self.broker.close()
        self.engine.dispose()


def services(app: Flask | None = None) -> Services:
    found = (app if app is not None else current_app).extensions[EXTENSION]
    assert isinstance(found, Services)
    return found


def db(*, write: bool = False) -> Session:
    """This request's session. ``write``: the request will write, so on SQLite its
    transaction takes the write lock at once (a read transaction that later writes
    fails when another writer committed meanwhile). Ask for it before the first query.
    """
    session: Session | None = g.get("db_session")
    if session is None:
        session = services().sessions()
        g.db_session = session
        if write:
            session.connection(execution_options={SQLITE_BEGIN: "IMMEDIATE"})
    return session


def commit() -> None:
    """Commit the request's session: its one commit."""
    session: Session | None = g.get("db_session")
    if session is not None:
        session.commit()


def close_session(_exc: BaseException | None = None) -> None:
    session: Session | None = g.pop("db_session", None)
    if session is not None:
        session.close()
