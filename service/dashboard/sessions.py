"""The dashboard's session: Flask's signed cookie, opened only where the cookie can be.

The cookie's path is the dashboard's (``SESSION_COOKIE_PATH``), so a browser
never sends it to the REST API, whose clients carry bearer tokens. Flask would
still open a session for every API request: a signing serializer made and a
cookie looked for, 7% of an API worker's time under the 200-client load
(``bench/api_load.py``, sampled with py-spy). Outside the dashboard's path the
request gets Flask's null session instead, which is what it would find anyway.
"""

from __future__ import annotations

from flask import Flask, Request
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface

from service.dashboard.blueprint import under_dashboard

__all__ = ["DashboardSessions"]


class DashboardSessions(SecureCookieSessionInterface):
    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        if not under_dashboard(request.path):
            return None  # Flask makes it its null session
        return super().open_session(app, request)
