"""Errors of dashboard pages are HTML pages; the API's, and those asked for as JSON, stay
problem documents (``application/problem+json``), in the one app create_app makes.

The app is the API's with the dashboard registered, on an empty SQLite store with
a viewer and an operator token: errors need no runs.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import text
from werkzeug.test import TestResponse

from service.api import create_app
from service.api.context import services
from service.auth import issue_token
from service.dashboard import register_dashboard
from service.runs.transactions import writing
from service.store import make_engine, make_session_factory, upgrade
from service.store.enums import TokenRole
from tests.dashboard.conftest import csrf_of, login

PAGE: Final = "text/html"
PROBLEM: Final = "application/problem+json"
BROWSER: Final = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
MISSING_RUN: Final = 2_000_000


@dataclass(frozen=True, slots=True)
class Served:
    app: Flask
    tokens: dict[TokenRole, str]


def _serve(url: str) -> Served:
    app = create_app({"database_url": url, "broker_url": ""})
    register_dashboard(app, notifications=False)
    app.config["TESTING"] = True
    with writing(services(app).sessions) as session:
        tokens = {
            role: issue_token(session, name=f"{role.value}-token", role=role).token
            for role in (TokenRole.VIEWER, TokenRole.OPERATOR)
        }
    return Served(app, tokens)


def _store(tmp: Path) -> str:
    url = f"sqlite:///{tmp / 'netpol-drift.db'}"
    upgrade(url)
    return url


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    found = _serve(_store(tmp_path_factory.mktemp("errors")))
    try:
        yield found
    finally:
        services(found.app).close()


@pytest.fixture
def viewer(served: Served) -> FlaskClient:
    client = served.app.test_client()
    login(client, served.tokens[TokenRole.VIEWER])
    return client


def _is_page(response: TestResponse, status: int) -> str:
    assert (response.status_code, response.mimetype) == (status, PAGE), response.get_data()
    html = response.get_data(as_text=True)
    # The dashboard's page, with its header and its security headers.
    assert f"<h1>{status} · " in html
    assert 'class="topbar"' in html
    assert "default-src 'none'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Frame-Options"] == "DENY"
    return html


def _is_problem(response: TestResponse, status: int) -> dict[str, object]:
    assert (response.status_code, response.mimetype) == (status, PROBLEM), response.get_data()
    body = json.loads(response.get_data(as_text=True))
    assert body["status"] == status
    assert isinstance(body["detail"], str)
    return dict(body)


@pytest.mark.parametrize(
    ("path", "accept", "status", "answer"),
    [
        # Unknown dashboard paths match no blueprint route, yet are the dashboard's.
        ("/dashboard/no-such-page", BROWSER, 404, PAGE),
        ("/dashboard/no-such-page", None, 404, PAGE),
        ("/dashboard/no-such-page", "*/*", 404, PAGE),
        ("/dashboard/no-such-page", PROBLEM, 404, PROBLEM),
        ("/dashboard/no-such-page", "application/json", 404, PROBLEM),
        (f"/dashboard/runs/{MISSING_RUN}", BROWSER, 404, PAGE),
        (f"/dashboard/runs/{MISSING_RUN}", PROBLEM, 404, PROBLEM),
        (f"/dashboard/scenarios/{MISSING_RUN}", BROWSER, 404, PAGE),
        # What the run page's cell panel fetches.
        (
            f"/dashboard/runs/{MISSING_RUN}/cell.json?key=0123456789abcdef",
            "application/json",
            404,
            PROBLEM,
        ),
        ("/dashboard/compare?base=abc", BROWSER, 400, PAGE),
        ("/dashboard/compare?base=abc", PROBLEM, 400, PROBLEM),
        # The API answers problem documents whatever the client prefers.
        ("/api/v1/no-such-thing", BROWSER, 404, PROBLEM),
        (f"/api/v1/runs/{MISSING_RUN}", BROWSER, 404, PROBLEM),
        ("/no-such-thing", BROWSER, 404, PROBLEM),
    ],
)
def test_errors_are_pages_for_dashboard_pages_and_problems_for_the_api_and_json_clients(
    viewer: FlaskClient,
    served: Served,
    path: str,
    accept: str | None,
    status: int,
    answer: str,
) -> None:
    headers = {"Authorization": f"Bearer {served.tokens[TokenRole.VIEWER]}"}
    if accept is not None:
        headers["Accept"] = accept
    response = viewer.get(path, headers=headers)
    if answer == PAGE:
        html = _is_page(response, status)
        assert "Back to the scenarios" in html
    else:
        _is_problem(response, status)


def test_a_page_for_a_missing_run_says_which_and_who_is_looking(viewer: FlaskClient) -> None:
    html = _is_page(viewer.get(f"/dashboard/runs/{MISSING_RUN}"), 404)
    assert f"there is no run {MISSING_RUN}" in html
    assert "viewer-token" in html


def test_a_wrong_method_on_a_dashboard_path_is_a_page_that_keeps_allow(
    viewer: FlaskClient,
) -> None:
    response = viewer.delete("/dashboard/login")
    _is_page(response, 405)
    assert set(response.headers["Allow"].replace(" ", "").split(",")) >= {"GET", "POST"}
    api = viewer.delete("/api/v1/health")
    _is_problem(api, 405)
    assert "GET" in api.headers["Allow"]


def _schedule_switch(client: FlaskClient, accept: str) -> TestResponse:
    csrf = csrf_of(client.get("/dashboard/schedules").get_data(as_text=True))
    return client.post(
        "/dashboard/schedules/1/disable", data={"csrf": csrf}, headers={"Accept": accept}
    )


def test_a_viewer_switching_a_schedule_gets_a_forbidden_page(viewer: FlaskClient) -> None:
    html = _is_page(_schedule_switch(viewer, BROWSER), 403)
    assert "this needs the operator role" in html


def test_a_viewer_asking_for_problem_json_gets_a_forbidden_problem(viewer: FlaskClient) -> None:
    body = _is_problem(_schedule_switch(viewer, PROBLEM), 403)
    assert body["detail"] == "this needs the operator role"


def test_a_form_without_its_csrf_token_is_a_bad_request_page(viewer: FlaskClient) -> None:
    response = viewer.post("/dashboard/schedules/1/disable", data={}, headers={"Accept": BROWSER})
    assert "reload it" in _is_page(response, 400)


def test_a_missing_static_file_is_not_dressed_as_a_page(viewer: FlaskClient) -> None:
    response = viewer.get("/dashboard/static/no-such-file.js", headers={"Accept": "*/*"})
    assert response.status_code == 404
    assert response.mimetype != PAGE


def test_an_unexpected_error_is_a_500_page_on_the_dashboard_and_a_problem_on_the_api(
    tmp_path: Path,
) -> None:
    found = _serve(_store(tmp_path))
    app = found.app

    def fails() -> str:
        raise RuntimeError("a bug")

    app.add_url_rule("/dashboard/fails", "fails_page", fails)
    app.add_url_rule("/api/v1/fails", "fails_api", fails)
    try:
        client = app.test_client()
        html = _is_page(client.get("/dashboard/fails", headers={"Accept": BROWSER}), 500)
        assert "a bug" not in html, "the exception's text is logged, not shown"
        assert "an unexpected error occurred" in html
        _is_problem(client.get("/dashboard/fails", headers={"Accept": PROBLEM}), 500)
        _is_problem(client.get("/api/v1/fails", headers={"Accept": BROWSER}), 500)
    finally:
        services(app).close()


def test_a_failing_database_is_a_503_page_that_says_to_retry(tmp_path: Path) -> None:
    found = _serve(_store(tmp_path))
    app = found.app
    try:
        client = app.test_client()
        login(client, found.tokens[TokenRole.VIEWER])
        # The store fails under the page: its tokens table is gone.
        with services(app).engine.begin() as connection:
            connection.execute(text("ALTER TABLE api_tokens RENAME TO api_tokens_gone"))
        response = client.get("/dashboard/", headers={"Accept": BROWSER})
        html = _is_page(response, 503)
        assert response.headers["Retry-After"] == "5"
        assert "the database is not reachable" in html
        # Nobody could be looked up: the page is shown as to an anonymous visitor.
        assert "viewer-token" not in html
        api = client.get(
            "/api/v1/runs",
            headers={"Authorization": f"Bearer {found.tokens[TokenRole.VIEWER]}"},
        )
        _is_problem(api, 503)
    finally:
        services(app).close()


def test_a_dashboard_without_the_api_still_answers_its_errors_with_pages(tmp_path: Path) -> None:
    engine = make_engine(_store(tmp_path))
    try:
        app = Flask("bare")
        register_dashboard(app, sessions=make_session_factory(engine), notifications=False)
        client = app.test_client()
        html = _is_page(client.get("/dashboard/no-such-page", headers={"Accept": BROWSER}), 404)
        assert "Back to the scenarios" in html
        _is_page(client.delete("/dashboard/login", headers={"Accept": BROWSER}), 405)
        # No problem documents without the API: a JSON client gets Flask's own answer.
        plain = client.get("/dashboard/no-such-page", headers={"Accept": "application/json"})
        assert plain.status_code == 404
        assert "topbar" not in plain.get_data(as_text=True)
    finally:
        engine.dispose()
