"""The dashboard: server-rendered pages under /dashboard, with a little local JavaScript.

- overview: every scenario with its last run, regressions, drift, a sparkline
  of its last 30 runs and its next scheduled run;
- run: per policy version a heatmap (sources x target ports) coloured by
  verdict, regressions outlined, explanations on click, a filter;
- scenario: the timeline of drift events, per-cell history strips, flakes;
- compare: two runs side by side, only the differences;
- chaos: stored chaos experiments, and each one's timeline: per step its
  phases, per watched cell its fail-open and fail-closed windows;
- schedules and webhooks: lists, and switches for operators.

Every table downloads as CSV and every heatmap as SVG and PNG
(:mod:`service.export`). Reading needs a token pasted once into the login
form, or anonymous reading switched on; changing anything needs an operator.

:func:`register_dashboard` adds it to an app, normally the API's
(``service.api.create_app``), whose database it then reads.
"""

from __future__ import annotations

import logging
import os
import secrets
from typing import Any, Final

from flask import Flask, redirect, url_for
from sqlalchemy import Engine, event
from sqlalchemy.orm import Session, sessionmaker
from werkzeug.wrappers import Response

from service.dashboard.blueprint import PREFIX, bp
from service.dashboard.context import EXTENSION, DashboardState
from service.dashboard.error_pages import install_error_pages
from service.dashboard.sessions import DashboardSessions
from service.dashboard.settings import DashboardSettings
from service.notify.hooks import Notifications, install_notifications
from service.notify.senders import InProcessSender
from service.notify.settings import NotifySettings

# The views register their routes on the blueprint when imported.
from service.dashboard.views import (  # noqa: F401  isort: skip
    chaos,
    compare,
    history,
    overview,
    runs,
    schedules,
    webhooks,
)

__all__ = ["PREFIX", "DashboardSettings", "close_dashboard", "register_dashboard"]

log = logging.getLogger(__name__)

_BROKER_ENV: Final = "NETPOL_DRIFT_BROKER_URL"


def _api_services(app: Flask) -> Any:
    return app.extensions.get("netpol_drift")


def register_dashboard(
    app: Flask,
    *,
    sessions: sessionmaker[Session] | None = None,
    settings: DashboardSettings | None = None,
    notify: NotifySettings | None = None,
    notifications: bool | None = None,
) -> DashboardState:
    """Serve the dashboard from ``app`` under /dashboard (and redirect / there if free).

    ``sessions``: the database; by default the API's (``app.extensions``).
    ``settings`` and ``notify``: by default from the environment, with the API's
    anonymous-read setting when the API made the app. ``notifications``: install
    the in-process webhook sender for runs this process closes; by default when no
    broker is configured (with one, the Celery workers notify: service.notify.tasks),
    until the database's engine is disposed or :func:`close_dashboard` is called.

    Registering again returns the app's dashboard, with ``settings`` and ``notify``
    replaced when given and notifications switched off when ``notifications`` is False.
    """
    existing = app.extensions.get(EXTENSION)
    if isinstance(existing, DashboardState):
        return _again(app, existing, settings, notify, notifications)
    services = _api_services(app)
    if settings is None:
        config = getattr(services, "config", None)
        anonymous = getattr(config, "anonymous_read", None)
        settings = DashboardSettings.from_env(
            anonymous_read=anonymous if isinstance(anonymous, bool) else None
        )
    state = DashboardState(
        app=app,
        settings=settings,
        notify=notify if notify is not None else NotifySettings.from_env(),
        given_sessions=sessions,
    )
    app.extensions[EXTENSION] = state
    _configure_sessions(app, settings)
    app.register_blueprint(bp)
    install_error_pages(app)
    if not any(rule.rule == "/" for rule in app.url_map.iter_rules()):
        app.add_url_rule("/", "dashboard_root", _to_dashboard)
    if notifications is None:
        notifications = not _broker_url(services)
    if notifications:
        state.notifications = _notifications(state)
    return state


def _broker_url(services: Any) -> str:
    """The broker runs go to: the API's when the API made the app (its config may name one
    the environment does not), else the environment's."""
    config = getattr(services, "config", None)
    if config is not None and hasattr(config, "broker_url"):
        # None there means none, even when the environment names one.
        configured = config.broker_url
        return configured.strip() if isinstance(configured, str) else ""
    return os.environ.get(_BROKER_ENV, "").strip()


def _again(
    app: Flask,
    state: DashboardState,
    settings: DashboardSettings | None,
    notify: NotifySettings | None,
    notifications: bool | None,
) -> DashboardState:
    if settings is not None:
        state.settings = settings
    if notify is not None:
        state.notify = notify
    if notifications is False:
        close_dashboard(app)
    elif notifications and state.notifications is None:
        state.notifications = _notifications(state)
    return state


def close_dashboard(app: Flask) -> None:
    """At shutdown: stop notifying from this process (pending deliveries stay stored and
    are sent by the next process that starts)."""
    state = app.extensions.get(EXTENSION)
    if not isinstance(state, DashboardState) or state.notifications is None:
        return
    notifications = state.notifications
    state.notifications = None
    notifications.uninstall()
    if isinstance(notifications.sender, InProcessSender):
        notifications.sender.close()


def _notifications(state: DashboardState) -> Notifications:
    sessions = state.sessions()
    sender = InProcessSender(sessions, state.notify)
    installed = install_notifications(sessions, sender)
    engine = sessions.kw.get("bind")
    if isinstance(engine, Engine):
        _close_with(engine, state.app)
    return installed


def _close_with(engine: Engine, app: Flask) -> None:
    """Stop notifying when the database is released (the API's ``Services.close()``
    disposes its engine).

    The hook is process-wide and answers for every run closed in the same database,
    so a notifier left behind by an app that was closed would keep opening
    connections on a disposed engine whenever a later app of this process closes a
    run there (the API's tests make an app per test), and nobody would close them.
    """
    # dispose() closes the idle connections of the pool it replaces; one the sender's
    # thread holds at that moment goes back to that pool when its job ends, so that
    # pool is closed again once the thread has stopped.
    before = engine.pool

    def disposed(_engine: Engine) -> None:
        close_dashboard(app)
        before.dispose()
        engine.pool.dispose()

    event.listen(engine, "engine_disposed", disposed)


def _to_dashboard() -> Response:
    return redirect(url_for("dashboard.overview"))


def _configure_sessions(app: Flask, settings: DashboardSettings) -> None:
    """Flask's signed session cookie, for the dashboard's login and CSRF token."""
    if not app.secret_key:
        if settings.secret_key:
            app.secret_key = settings.secret_key
        else:
            log.info(
                "NETPOL_DRIFT_SECRET_KEY is not set: dashboard logins last until this process stops"
            )
            app.secret_key = secrets.token_bytes(32)
    if app.config.get("SESSION_COOKIE_NAME") == "session":
        app.config["SESSION_COOKIE_NAME"] = "netpol_drift_session"
    app.config["SESSION_COOKIE_HTTPONLY"] = True
    app.config["SESSION_COOKIE_SAMESITE"] = "Lax"
    app.config["SESSION_COOKIE_PATH"] = PREFIX
    app.session_interface = DashboardSessions()
    if settings.secure_cookies:
        app.config["SESSION_COOKIE_SECURE"] = True
