"""The dashboard's session cookie opens a session under the dashboard's path only: the API,
where a browser never sends it, gets Flask's null session and pays nothing for it."""

from __future__ import annotations

import pytest
from flask import session
from flask.testing import FlaskClient

from service.dashboard.blueprint import under_dashboard
from tests.dashboard.conftest import Served

COOKIE = "netpol_drift_session"


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/dashboard", True),
        ("/dashboard/", True),
        ("/dashboard/runs/1", True),
        ("/dashboards", False),
        ("/dashboardx/runs/1", False),
        ("/api/v1/runs", False),
        ("/", False),
    ],
)
def test_the_cookie_path_is_the_dashboards(path: str, expected: bool) -> None:
    assert under_dashboard(path) is expected


def test_a_logged_in_cookie_opens_a_session_on_the_dashboard_only(
    served: Served, viewer: FlaskClient
) -> None:
    cookie = viewer.get_cookie(COOKIE, path="/dashboard")
    assert cookie is not None
    assert cookie.path == "/dashboard"
    app = served.app
    header = {"Cookie": f"{COOKIE}={cookie.value}"}
    with app.test_request_context("/dashboard/", headers=header):
        assert not app.session_interface.is_null_session(session)
        assert dict(session)  # the login: its token and CSRF token
    with app.test_request_context("/api/v1/runs", headers=header):
        assert app.session_interface.is_null_session(session)
        assert dict(session) == {}
