"""What the dashboard holds per app and per request: database sessions, settings, caches.

The app factory (:mod:`service.api`) keeps the database in
``app.extensions["netpol_drift"]``; the dashboard reads it from there when a
request comes (so it may be registered before or after the API sets it up),
unless it was given its own session factory (tests, tools).

Finished runs never change, so their columns (what history pages compare)
are kept in a bounded cache, and so are the matrices of finished runs.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Final

from flask import Flask, current_app, g
from sqlalchemy.orm import Session, sessionmaker

from service.compare import DriftCounts, RunColumns, drift_counts
from service.dashboard.grid import VersionGrid
from service.dashboard.queries import run_matrices
from service.dashboard.settings import DashboardSettings
from service.notify.settings import NotifySettings
from service.queries.records import run_columns

__all__ = [
    "EXTENSION",
    "ColumnsCache",
    "DashboardState",
    "MatrixCache",
    "close_db",
    "db",
    "state",
]

EXTENSION: Final = "netpol_drift_dashboard"
# Where the API keeps its services (service.api.context.EXTENSION).
_API_EXTENSION: Final = "netpol_drift"


class ColumnsCache:
    """RunColumns of finished runs by run id, least recently used dropped first.

    Bounded by cells, not runs: a year of 10,000-cell runs must not fill memory.
    Only finished runs may be put here (their cells are final).
    """

    def __init__(self, max_cells: int = 2_000_000) -> None:
        self._max = max_cells
        self._cells = 0
        self._runs: OrderedDict[int, RunColumns] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, session: Session, run_id: int, *, finished: bool) -> RunColumns | None:
        with self._lock:
            found = self._runs.get(run_id)
            if found is not None:
                self._runs.move_to_end(run_id)
                return found
        columns = run_columns(session, run_id)
        if columns is None or not finished or len(columns) > self._max:
            return columns
        with self._lock:
            if run_id not in self._runs:
                self._runs[run_id] = columns
                self._cells += len(columns)
            while self._cells > self._max and self._runs:
                _, dropped = self._runs.popitem(last=False)
                self._cells -= len(dropped)
        return columns

    def drift(self, session: Session, run_id: int, previous_id: int) -> DriftCounts | None:
        """Drift counts of a finished run since an earlier finished one (both cached)."""
        current = self.get(session, run_id, finished=True)
        previous = self.get(session, previous_id, finished=True)
        if current is None or previous is None:
            return None
        return drift_counts(current, previous)

    def clear(self) -> None:
        with self._lock:
            self._runs.clear()
            self._cells = 0


class MatrixCache:
    """Every version matrix of finished runs, by run, bounded by cells.

    A run page filtered again, or a cell looked up by its position, then costs
    no query: the matrices of a finished run are final.
    """

    def __init__(self, max_cells: int = 200_000) -> None:
        self._max = max_cells
        self._cells = 0
        self._runs: OrderedDict[int, dict[str, VersionGrid]] = OrderedDict()
        self._lock = threading.Lock()

    def get(
        self, session: Session, run_id: int, revision_id: int, *, finished: bool
    ) -> dict[str, VersionGrid]:
        with self._lock:
            found = self._runs.get(run_id)
            if found is not None:
                self._runs.move_to_end(run_id)
                return found
        matrices = run_matrices(session, run_id, revision_id)
        size = _cells(matrices)
        if not finished or size > self._max:
            return matrices
        with self._lock:
            if run_id not in self._runs:
                self._runs[run_id] = matrices
                self._cells += size
            while self._cells > self._max and self._runs:
                _, dropped = self._runs.popitem(last=False)
                self._cells -= _cells(dropped)
        return matrices

    def clear(self) -> None:
        with self._lock:
            self._runs.clear()
            self._cells = 0


def _cells(matrices: dict[str, VersionGrid]) -> int:
    return sum(m.counts.cells for m in matrices.values())


@dataclass(eq=False)
class DashboardState:
    app: Flask
    settings: DashboardSettings
    notify: NotifySettings
    given_sessions: sessionmaker[Session] | None = None
    columns: ColumnsCache = field(default_factory=ColumnsCache)
    matrices: MatrixCache = field(default_factory=MatrixCache)
    # Revision id -> its parsed story (revisions never change).
    stories: dict[int, Any] = field(default_factory=dict)
    # Static file name -> a short hash of its content, for cache-busting URLs.
    static_versions: dict[str, str] = field(default_factory=dict)
    # Set by register_dashboard when it installs in-process notifications.
    notifications: Any = None

    def sessions(self) -> sessionmaker[Session]:
        if self.given_sessions is not None:
            return self.given_sessions
        services = self.app.extensions.get(_API_EXTENSION)
        found = getattr(services, "sessions", None)
        if not isinstance(found, sessionmaker):
            raise RuntimeError(
                "the dashboard has no database: register it with sessions=..., or from the"
                " API's create_app (which keeps its services in app.extensions)"
            )
        return found


def state(app: Flask | None = None) -> DashboardState:
    found = (app if app is not None else current_app).extensions[EXTENSION]
    assert isinstance(found, DashboardState)
    return found


def db() -> Session:
    """This request's session (reads; writes use their own transaction)."""
    session: Session | None = g.get("dashboard_db")
    if session is None:
        session = state().sessions()()
        g.dashboard_db = session
    return session


def close_db(_exc: BaseException | None = None) -> None:
    session: Session | None = g.pop("dashboard_db", None)
    if session is not None:
        session.close()
