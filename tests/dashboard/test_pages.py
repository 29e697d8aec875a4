"""The dashboard's pages through the app, on a database of real runs (tests.dashboard.world).

Expected numbers are read from the store with plain SQL or from the world's
record of what was injected, never from the dashboard's own code.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
from flask.testing import FlaskClient
from sqlalchemy import text

from service.auth import issue_token, revoke_token
from service.notify.settings import RUN_PAGE_PATH
from service.runs.transactions import writing
from service.store.enums import TokenRole
from tests.dashboard.conftest import Served, csrf_of, login


class Cells(HTMLParser):
    """Every heatmap cell (td.c) of a page: its data attributes and classes."""

    def __init__(self) -> None:
        super().__init__()
        self.cells: list[dict[str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = {k: v or "" for k, v in attrs}
        if tag == "td" and "c" in found.get("class", "").split() and "data-key" in found:
            self.cells.append(found)


def _cells(html: str) -> list[dict[str, str]]:
    parser = Cells()
    parser.feed(html)
    return parser.cells


def _stored(served: Served, run_id: int) -> dict[str, tuple[str, bool]]:
    with served.sessions() as session:
        rows = session.execute(
            text("SELECT cell_key, observed, regression FROM cell_results WHERE run_id = :r"),
            {"r": run_id},
        ).all()
    return {key: (observed, bool(regression)) for key, observed, regression in rows}


def _deny_all_blocked(served: Served, run_id: int) -> int:
    """Cells of deny-all the engine expects blocked: what failing open turns to allowed."""
    with served.sessions() as session:
        return int(
            session.execute(
                text(
                    "SELECT count(*) FROM revision_cells rc JOIN runs r ON r.revision_id ="
                    " rc.revision_id WHERE r.id = :r AND rc.version = 'deny-all'"
                    " AND rc.expected = 'blocked'"
                ),
                {"r": run_id},
            ).scalar_one()
        )


def test_pages_send_anyone_without_a_token_to_the_login_page(served: Served) -> None:
    response = served.app.test_client().get("/dashboard/")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/dashboard/login")


def test_anonymous_reading_when_configured_shows_pages_without_a_login(
    anonymous: FlaskClient,
) -> None:
    assert anonymous.get("/dashboard/").status_code == 200


def test_a_wrong_token_is_refused_at_the_login_form(served: Served) -> None:
    client = served.app.test_client()
    csrf = csrf_of(client.get("/dashboard/login").get_data(as_text=True))
    response = client.post("/dashboard/login", data={"token": "npd_nope", "csrf": csrf})
    assert response.status_code == 401
    assert client.get("/dashboard/").status_code == 302


def test_a_login_without_the_forms_csrf_token_is_refused(served: Served) -> None:
    client = served.app.test_client()
    client.get("/dashboard/login")
    response = client.post(
        "/dashboard/login", data={"token": served.tokens[TokenRole.VIEWER], "csrf": "forged"}
    )
    assert response.status_code == 400


def test_the_session_cookie_holds_no_token(served: Served) -> None:
    client = served.app.test_client()
    login(client, served.tokens[TokenRole.VIEWER])
    cookie = client.get_cookie("netpol_drift_session", path="/dashboard")
    assert cookie is not None
    assert served.tokens[TokenRole.VIEWER] not in cookie.value
    assert cookie.http_only


def test_revoking_a_token_ends_its_dashboard_session(served: Served) -> None:
    with writing(served.sessions) as session:
        issued = issue_token(session, name="short-lived", role=TokenRole.VIEWER)
    client = served.app.test_client()
    login(client, issued.token)
    assert client.get("/dashboard/").status_code == 200
    with writing(served.sessions) as session:
        revoke_token(session, issued.info.id)
    assert client.get("/dashboard/").status_code == 302


PAGES = [
    "/dashboard/",
    "/dashboard/runs/{drifted}",
    "/dashboard/scenarios/{workshop}",
    "/dashboard/compare?head={drifted}",
    "/dashboard/schedules",
    "/dashboard/webhooks",
    "/dashboard/login",
]


@pytest.mark.parametrize("page", PAGES)
def test_every_page_forbids_inline_scripts_and_framing(served: Served, page: str) -> None:
    client = served.app.test_client()
    if page != "/dashboard/login":
        login(client, served.tokens[TokenRole.VIEWER])
    path = page.format(
        drifted=served.world.drifted_run, workshop=served.world.scenarios["calico-workshop"]
    )
    response = client.get(path)
    assert response.status_code == 200
    policy = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy
    assert "unsafe-inline" not in policy
    assert "frame-ancestors 'none'" in policy
    html = response.get_data(as_text=True)
    # Every script element loads a file, or is inert JSON data.
    for tag in re.findall(r"<script\b[^>]*>", html):
        assert "src=" in tag or 'type="application/json"' in tag
    assert " style=" not in html
    assert " on" + "click=" not in html


def test_the_overview_shows_the_regressions_and_alarm_drift_of_the_injected_drift(
    viewer: FlaskClient, served: Served
) -> None:
    html = viewer.get("/dashboard/").get_data(as_text=True)
    row = html[html.index('data-scenario="calico-workshop"') :]
    row = row[: row.index("</tr>")]
    injected = _deny_all_blocked(served, served.world.drifted_run)
    assert injected > 0
    numbers = [int(n) for n in re.findall(r'<span class="count-bad">(\d+)</span>', row)]
    # The regressions column, then the alarm drift: both are the cells that failed open.
    assert numbers[:2] == [injected, injected]
    assert f"run {served.world.drifted_run}" in row


def test_the_run_page_shows_every_stored_cell_with_its_verdict_and_regression_outline(
    viewer: FlaskClient, served: Served
) -> None:
    run_id = served.world.drifted_run
    shown = _cells(viewer.get(f"/dashboard/runs/{run_id}").get_data(as_text=True))
    stored = _stored(served, run_id)
    assert {c["data-key"] for c in shown} == set(stored)
    for cell in shown:
        observed, regression = stored[cell["data-key"]]
        classes = cell["class"].split()
        assert cell["data-observed"] == observed
        assert f"v-{observed}" in classes
        assert ("reg" in classes) == regression


def test_showing_regressions_keeps_their_rows_and_dims_the_other_cells(
    viewer: FlaskClient, served: Served
) -> None:
    run_id = served.world.drifted_run
    shown = _cells(viewer.get(f"/dashboard/runs/{run_id}?show=regressions").get_data(as_text=True))
    stored = _stored(served, run_id)
    regressions = {k for k, (_, r) in stored.items() if r}
    assert regressions
    assert regressions <= {c["data-key"] for c in shown}
    for cell in shown:
        dimmed = "dim" in cell["class"].split()
        assert dimmed == (cell["data-key"] not in regressions)


def test_the_text_filter_keeps_only_matching_sources(viewer: FlaskClient, served: Served) -> None:
    html = viewer.get(
        f"/dashboard/runs/{served.world.drifted_run}?q=production&version=deny-all"
    ).get_data(as_text=True)
    rows = re.findall(r'<th class="row" scope="row">([^<]*)</th>', html)
    assert rows
    assert all(r.startswith("production/") for r in rows)
    assert 'data-version="none"' not in html


def test_a_cell_answers_with_its_explanation_by_key_and_by_position(
    viewer: FlaskClient, served: Served
) -> None:
    run_id = served.world.drifted_run
    by_position = viewer.get(f"/dashboard/runs/{run_id}/cell.json?version=deny-all&row=0&col=0")
    assert by_position.status_code == 200
    cell = by_position.get_json()
    assert cell["version"] == "deny-all"
    assert cell["explanation"]
    by_key = viewer.get(f"/dashboard/runs/{run_id}/cell.json?key={cell['key']}").get_json()
    assert by_key == cell
    page = viewer.get(cell["url"])
    assert page.status_code == 200
    assert cell["key"] in page.get_data(as_text=True)


@pytest.mark.parametrize(
    "query", ["key=zzzz", "key=0000000000000000", "version=deny-all&row=99&col=0", "row=x"]
)
def test_an_unknown_cell_is_not_found_or_a_bad_request(
    viewer: FlaskClient, served: Served, query: str
) -> None:
    response = viewer.get(f"/dashboard/runs/{served.world.drifted_run}/cell.json?{query}")
    assert response.status_code in (400, 404)


def test_the_compare_page_lists_only_the_cells_that_differ(
    viewer: FlaskClient, served: Served
) -> None:
    runs = served.world.runs["calico-workshop"]
    before, after = runs[-2], runs[-1]
    html = viewer.get(f"/dashboard/compare?base={before}&head={after}").get_data(as_text=True)
    listed = set(re.findall(r'<tr data-key="([0-9a-f]{16})" data-mark="alarm">', html))
    old, new = _stored(served, before), _stored(served, after)
    assert listed == {k for k in new if k in old and old[k][0] != new[k][0]}
    assert listed
    quiet = viewer.get(f"/dashboard/compare?base={runs[0]}&head={runs[1]}").get_data(as_text=True)
    assert "data-mark=" not in quiet


def test_comparing_runs_the_wrong_way_round_is_a_bad_request(
    viewer: FlaskClient, served: Served
) -> None:
    runs = served.world.runs["calico-workshop"]
    assert viewer.get(f"/dashboard/compare?base={runs[-1]}&head={runs[0]}").status_code == 400


def test_the_injected_drift_is_an_alarm_on_the_scenario_timeline(
    viewer: FlaskClient, served: Served
) -> None:
    world = served.world
    html = viewer.get(f"/dashboard/scenarios/{world.scenarios['calico-workshop']}").get_data(
        as_text=True
    )
    marks = dict(re.findall(r'<li class="tl-run" data-run-id="(\d+)" data-alarm="(\d+)"', html))
    runs = world.runs["calico-workshop"]
    assert set(marks) == {str(r) for r in runs}
    assert int(marks[str(world.drifted_run)]) == _deny_all_blocked(served, world.drifted_run)
    assert all(marks[str(r)] == "0" for r in runs[:-1])
    assert f'<li class="event alarm" data-run-id="{world.drifted_run}">' in html


def test_names_and_descriptions_with_html_are_shown_as_text(
    viewer: FlaskClient, served: Served
) -> None:
    pages = [
        f"/dashboard/scenarios/{served.world.scenarios['xss-demo']}",
        f"/dashboard/runs/{served.world.runs['xss-demo'][0]}",
        "/dashboard/schedules",
        "/dashboard/webhooks",
    ]
    for page in pages:
        html = viewer.get(page).get_data(as_text=True)
        assert "<script>document" not in html
        assert "<img src=x" not in html
        assert "<b>bold</b>" not in html
    scenario = viewer.get(pages[0]).get_data(as_text=True)
    assert "&lt;script&gt;document.documentElement.dataset.pwned" in scenario
    assert "&lt;b&gt;bold&lt;/b&gt; &amp; co" in scenario


def test_webhook_urls_are_shown_redacted(viewer: FlaskClient) -> None:
    for page in ("/dashboard/webhooks", "/dashboard/webhooks.csv"):
        body = viewer.get(page).get_data(as_text=True)
        assert "hooks.slack.com/services/***/***/***" in body
        assert "SECRETSECRET" not in body


CSVS = [
    "/dashboard/overview.csv",
    "/dashboard/runs/{drifted}/cells.csv",
    "/dashboard/runs/{drifted}/regressions.csv",
    "/dashboard/runs/{drifted}/versions/deny-all/matrix.csv",
    "/dashboard/scenarios/{workshop}/timeline.csv",
    "/dashboard/scenarios/{workshop}/cells.csv",
    "/dashboard/scenarios/{workshop}/flakes.csv",
    "/dashboard/compare.csv?head={drifted}",
    "/dashboard/schedules.csv",
    "/dashboard/webhooks.csv",
    "/dashboard/deliveries.csv",
]


@pytest.mark.parametrize("path", CSVS)
def test_every_table_downloads_as_csv(viewer: FlaskClient, served: Served, path: str) -> None:
    response = viewer.get(
        path.format(
            drifted=served.world.drifted_run, workshop=served.world.scenarios["calico-workshop"]
        )
    )
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"].startswith("attachment;")
    header = response.get_data(as_text=True).split("\r\n")[0]
    assert "," in header


def test_the_regressions_csv_has_a_row_per_regression(viewer: FlaskClient, served: Served) -> None:
    run_id = served.world.drifted_run
    lines = viewer.get(f"/dashboard/runs/{run_id}/regressions.csv").get_data(as_text=True)
    rows = [line for line in lines.split("\r\n")[1:] if line]
    assert len(rows) == sum(1 for _, r in _stored(served, run_id).values() if r)


def test_a_csv_cell_starting_like_a_formula_is_defused(viewer: FlaskClient) -> None:
    body = viewer.get("/dashboard/schedules.csv").get_data(as_text=True)
    assert "weekly <script>" in body
    assert "\r\n=" not in body
    assert ",=" not in body


def test_schedules_can_be_switched_by_operators_only(
    served: Served, viewer: FlaskClient, operator: FlaskClient
) -> None:
    schedule_id = served.world.schedules["nightly"]
    page = viewer.get("/dashboard/schedules").get_data(as_text=True)
    assert "/disable" not in page
    csrf = csrf_of(page)
    assert (
        viewer.post(f"/dashboard/schedules/{schedule_id}/disable", data={"csrf": csrf}).status_code
        == 403
    )

    operator_page = operator.get("/dashboard/schedules").get_data(as_text=True)
    assert f"/dashboard/schedules/{schedule_id}/disable" in operator_page
    forged = operator.post(f"/dashboard/schedules/{schedule_id}/disable", data={"csrf": "x"})
    assert forged.status_code == 400
    assert _enabled(served, schedule_id)

    csrf = csrf_of(operator_page)
    done = operator.post(f"/dashboard/schedules/{schedule_id}/disable", data={"csrf": csrf})
    assert done.status_code == 302
    assert not _enabled(served, schedule_id)
    operator.post(f"/dashboard/schedules/{schedule_id}/enable", data={"csrf": csrf})
    assert _enabled(served, schedule_id)


def _enabled(served: Served, schedule_id: int) -> bool:
    with served.sessions() as session:
        return bool(
            session.execute(
                text("SELECT enabled FROM schedules WHERE id = :i"), {"i": schedule_id}
            ).scalar_one()
        )


def test_an_operator_adds_a_webhook_and_never_sees_its_secret_again(
    served: Served, operator: FlaskClient
) -> None:
    page = operator.get("/dashboard/webhooks").get_data(as_text=True)
    secret = "https://chat.example.com/hook/Zx81tokenPart?key=TOPSECRET&room=ops"
    response = operator.post(
        "/dashboard/webhooks",
        data={
            "csrf": csrf_of(page),
            "name": "ops room",
            "scope": f"scenario:{served.world.scenarios['microservices']}",
            "format": "generic",
            "url": secret,
            "on_regressions": "on",
        },
        follow_redirects=True,
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "ops room" in html
    assert "https://chat.example.com/hook/***?key=***&amp;room=***" in html
    assert "TOPSECRET" not in html
    assert "Zx81tokenPart" not in html


def test_a_webhook_with_a_bad_url_is_refused_with_the_field_named(
    served: Served, operator: FlaskClient
) -> None:
    page = operator.get("/dashboard/webhooks").get_data(as_text=True)
    response = operator.post(
        "/dashboard/webhooks",
        data={
            "csrf": csrf_of(page),
            "name": "bad",
            "scope": f"scenario:{served.world.scenarios['microservices']}",
            "url": "ftp://example.com/x",
            "on_regressions": "on",
        },
    )
    assert response.status_code == 422
    assert "url: expected an http:// or https:// URL" in response.get_data(as_text=True)


def test_heatmaps_download_as_svg_and_png(viewer: FlaskClient, served: Served) -> None:
    base = f"/dashboard/runs/{served.world.drifted_run}/versions/deny-all"
    svg = viewer.get(f"{base}/heatmap.svg")
    assert svg.mimetype == "image/svg+xml"
    assert svg.get_data(as_text=True).startswith("<svg")
    png = viewer.get(f"{base}/heatmap.png")
    assert png.mimetype == "image/png"
    assert png.data.startswith(b"\x89PNG\r\n\x1a\n")
    assert viewer.get("/dashboard/runs/1/versions/nope/heatmap.png").status_code == 404


def test_the_run_link_of_notifications_is_the_run_page(served: Served) -> None:
    with served.app.test_request_context():
        from flask import url_for

        assert url_for("dashboard.run_page", run_id=42) == RUN_PAGE_PATH.format(run_id=42)


def test_the_root_leads_to_the_dashboard(served: Served) -> None:
    response = served.app.test_client().get("/")
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/dashboard/")


def test_the_api_keeps_its_problem_documents(served: Served) -> None:
    response = served.app.test_client().get("/api/v1/runs/999999")
    assert response.status_code in (401, 404)
    assert response.mimetype == "application/problem+json"


def test_a_missing_run_is_an_html_404_page(viewer: FlaskClient) -> None:
    response = viewer.get("/dashboard/runs/987654")
    assert response.status_code == 404
    assert response.mimetype == "text/html"
    assert "there is no run 987654" in response.get_data(as_text=True)


def test_registering_the_dashboard_again_keeps_one_and_updates_its_settings(
    served: Served,
) -> None:
    from service.dashboard import DashboardSettings, register_dashboard

    first = register_dashboard(served.app, notifications=False)
    kept = first.settings
    try:
        again = register_dashboard(
            served.app, settings=DashboardSettings(table_cells=7), notifications=False
        )
        assert again is first
        assert again.settings.table_cells == 7
        assert sum(1 for name in served.app.blueprints if name == "dashboard") == 1
    finally:
        first.settings = kept
