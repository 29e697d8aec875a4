"""The dashboard in a real browser: Debian's Chromium driven by Playwright against a served app
(``netpol-drift serve``, see tests.dashboard.server) on a database of real runs.

Every page loads without a console error; known cells show their colours (computed
styles, and the canvas's pixels); the injected drift is on the timeline; names with
HTML are text, never run; a webhook on localhost hears each alarming run once.
"""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page
from sqlalchemy import text

from service.export.palette import ALARM, REGRESSION, VERDICT_COLOURS
from service.store import make_engine
from service.store.enums import TokenRole
from tests.dashboard.browser import Console
from tests.dashboard.server import CHROMIUM, Server, start_server
from tests.notify.receiver import Receiver

pytestmark = pytest.mark.skipif(
    not Path(CHROMIUM).exists(), reason=f"Chromium is not installed at {CHROMIUM}"
)


def _rgb(colour: str) -> str:
    value = colour.removeprefix("#")
    r, g, b = (int(value[i : i + 2], 16) for i in (0, 2, 4))
    return f"rgb({r}, {g}, {b})"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    running = start_server(tmp_path_factory.mktemp("served"))
    try:
        yield running
    finally:
        running.stop()


def _login(page: Page, server: Server, role: TokenRole) -> None:
    page.goto(f"{server.base_url}/dashboard/login")
    page.fill("#token", server.tokens[role])
    page.click("button[type=submit]")
    page.wait_for_url(f"{server.base_url}/dashboard/")


@pytest.fixture
def page(browser: Browser, server: Server) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    opened = context.new_page()
    _login(opened, server, TokenRole.OPERATOR)
    try:
        yield opened
    finally:
        context.close()


def _stored(server: Server, sql: str, **params: object) -> list[Any]:
    engine = make_engine(server.url)
    try:
        with engine.connect() as connection:
            return list(connection.execute(text(sql), params).all())
    finally:
        engine.dispose()


def _pages(server: Server) -> list[str]:
    world = server.world
    drifted = world.drifted_run
    cell = _stored(server, "SELECT cell_key FROM cell_results WHERE run_id = :r LIMIT 1", r=drifted)
    return [
        "/dashboard/",
        f"/dashboard/runs/{drifted}",
        f"/dashboard/runs/{world.runs['microservices'][-1]}",
        f"/dashboard/runs/{drifted}?show=regressions",
        f"/dashboard/runs/{drifted}/cells/{cell[0][0]}",
        f"/dashboard/scenarios/{world.scenarios['calico-workshop']}",
        f"/dashboard/scenarios/{world.scenarios['microservices']}",
        f"/dashboard/scenarios/{world.scenarios['xss-demo']}",
        f"/dashboard/compare?head={drifted}",
        "/dashboard/schedules",
        "/dashboard/webhooks",
    ]


def test_every_page_loads_without_a_console_error(page: Page, server: Server) -> None:
    console = Console(page)
    for path in _pages(server):
        response = page.goto(server.base_url + path)
        assert response is not None
        assert response.status == 200, path
        page.wait_for_function("document.documentElement.dataset.ready === '1'")
        assert console.errors == [], path


def test_the_login_page_loads_without_a_console_error(browser: Browser, server: Server) -> None:
    context = browser.new_context()
    fresh = context.new_page()
    console = Console(fresh)
    fresh.goto(f"{server.base_url}/dashboard/")
    assert "/dashboard/login" in fresh.url
    fresh.wait_for_function("document.documentElement.dataset.ready === '1'")
    assert console.errors == []
    context.close()


def test_known_cells_show_their_verdicts_colours_and_regressions_their_outline(
    page: Page, server: Server
) -> None:
    run_id = server.world.drifted_run
    stored = {
        key: (observed, bool(regression))
        for key, observed, regression in _stored(
            server,
            "SELECT cell_key, observed, regression FROM cell_results WHERE run_id = :r",
            r=run_id,
        )
    }
    page.goto(f"{server.base_url}/dashboard/runs/{run_id}")
    shown = page.eval_on_selector_all(
        "td.c[data-key]",
        """cells => cells.map(c => {
            const style = getComputedStyle(c);
            return [c.dataset.key, style.backgroundColor, style.outlineColor, style.outlineStyle];
        })""",
    )
    assert {key for key, *_ in shown} == set(stored)
    for key, background, outline, outline_style in shown:
        observed, regression = stored[key]
        assert background == _rgb(VERDICT_COLOURS[observed]), key
        if regression:
            assert (outline, outline_style) == (_rgb(REGRESSION), "solid"), key
        else:
            assert outline_style == "none", key


def test_a_large_matrix_is_painted_on_a_canvas_cell_by_cell(page: Page, server: Server) -> None:
    run_id = server.world.runs["microservices"][-1]
    page.goto(f"{server.base_url}/dashboard/runs/{run_id}?version=refactor")
    page.wait_for_function("document.documentElement.dataset.ready === '1'")
    canvas = page.locator(".canvas-heatmap canvas").first
    data = json.loads(
        page.locator(".canvas-heatmap script.heatmap-data").first.text_content() or ""
    )
    stored = _stored(
        server,
        "SELECT count(*), sum(CASE WHEN c.regression THEN 1 ELSE 0 END) FROM cell_results c"
        " JOIN runs r ON r.id = c.run_id JOIN revision_cells rc ON rc.revision_id ="
        " r.revision_id AND rc.cell_key = c.cell_key WHERE c.run_id = :r"
        " AND rc.version = 'refactor'",
        r=run_id,
    )
    assert canvas.get_attribute("data-cells") == str(stored[0][0])
    assert canvas.get_attribute("data-regressions") == str(stored[0][1])
    colours = {"a": "allowed", "b": "blocked", "e": "error", "i": "invalid"}
    # Sample one cell of each verdict the matrix has, inside its square.
    samples: dict[str, tuple[int, int]] = {}
    for r, line in enumerate(data["codes"]):
        for c, code in enumerate(line):
            if code in colours and code not in samples:
                samples[code] = (r, c)
    assert samples
    for code, (r, c) in samples.items():
        pixel = canvas.evaluate(
            """(canvas, at) => {
                const ratio = window.devicePixelRatio || 1;
                const left = Number(canvas.dataset.left), top = Number(canvas.dataset.top);
                const cell = Number(canvas.dataset.cell);
                const x = Math.floor((left + at[1] * cell + cell / 2) * ratio);
                const y = Math.floor((top + at[0] * cell + cell / 2) * ratio);
                const pixel = canvas.getContext('2d').getImageData(x, y, 1, 1).data;
                return Array.from(pixel.slice(0, 3));
            }""",
            [r, c],
        )
        assert f"rgb({pixel[0]}, {pixel[1]}, {pixel[2]})" == _rgb(VERDICT_COLOURS[colours[code]])


def test_clicking_a_cell_shows_the_engines_explanation(page: Page, server: Server) -> None:
    page.goto(f"{server.base_url}/dashboard/runs/{server.world.drifted_run}?version=deny-all")
    page.locator("td.c.reg").first.click()
    panel = page.locator("#cell-panel")
    panel.wait_for(state="visible")
    assert "Why the engine expects blocked" in (panel.text_content() or "")
    assert "allowed" in (panel.text_content() or "")
    page.keyboard.press("Escape")
    panel.wait_for(state="hidden")


def test_the_injected_drift_appears_on_the_timeline_as_an_alarm(page: Page, server: Server) -> None:
    world = server.world
    page.goto(f"{server.base_url}/dashboard/scenarios/{world.scenarios['calico-workshop']}")
    marker = page.locator(f'li.tl-run[data-run-id="{world.drifted_run}"]')
    assert int(marker.get_attribute("data-alarm") or "0") > 0
    bar = marker.locator("rect.alarm")
    assert bar.evaluate("el => getComputedStyle(el).fill") == _rgb(ALARM)
    assert bar.evaluate("el => el.getBoundingClientRect().height") > 0
    for quiet in world.runs["calico-workshop"][:-1]:
        assert page.locator(f'li.tl-run[data-run-id="{quiet}"] rect').count() == 0
    alarm = int(marker.get_attribute("data-alarm") or "0")
    event = page.locator(f'li.event.alarm[data-run-id="{world.drifted_run}"]')
    event.get_by_text("compare with run").click()
    page.wait_for_url("**/dashboard/compare?*")
    assert page.locator('tr[data-mark="alarm"]').count() == alarm


def test_html_in_names_and_descriptions_is_shown_as_text_and_never_run(
    page: Page, server: Server
) -> None:
    world = server.world
    for path in (
        f"/dashboard/scenarios/{world.scenarios['xss-demo']}",
        f"/dashboard/runs/{world.runs['xss-demo'][0]}",
        "/dashboard/schedules",
        "/dashboard/webhooks",
    ):
        page.goto(server.base_url + path)
        page.wait_for_function("document.documentElement.dataset.ready === '1'")
        assert page.evaluate("document.documentElement.dataset.pwned") is None, path
        assert page.locator("img[src='x']").count() == 0, path
        assert page.locator("main b").count() == 0, path
    page.goto(f"{server.base_url}/dashboard/scenarios/{world.scenarios['xss-demo']}")
    description = page.locator("#scenario-description").text_content() or ""
    assert "<script>document.documentElement.dataset.pwned='script'</script>" in description
    assert "<b>bold</b> & co" in (page.locator("main").text_content() or "")


def test_an_operator_disables_and_enables_a_schedule(page: Page, server: Server) -> None:
    schedule_id = server.world.schedules["nightly"]
    page.goto(f"{server.base_url}/dashboard/schedules")
    row = page.locator(f'tr[data-schedule-id="{schedule_id}"]')
    row.get_by_role("button", name="Disable").click()
    page.wait_for_load_state()
    assert "disabled" in (row.text_content() or "")
    row.get_by_role("button", name="Enable").click()
    page.wait_for_load_state()
    assert "enabled" in (row.text_content() or "")


def test_a_viewer_sees_schedules_without_switches(browser: Browser, server: Server) -> None:
    context = browser.new_context()
    viewer = context.new_page()
    _login(viewer, server, TokenRole.VIEWER)
    viewer.goto(f"{server.base_url}/dashboard/schedules")
    assert viewer.get_by_role("button", name="Disable").count() == 0
    context.close()


def _api(server: Server, method: str, path: str, body: object | None = None) -> Any:
    request = urllib.request.Request(
        f"{server.base_url}{path}",
        method=method,
        data=json.dumps(body).encode() if body is not None else None,
        headers={
            "Authorization": f"Bearer {server.tokens[TokenRole.ADMIN]}",
            "Content-Type": "application/json",
        },
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read() or b"null")


def _run_through_the_api(server: Server, scenario_id: int, windows: list[dict[str, str]]) -> int:
    faults = {"windows": windows}
    started = _api(
        server,
        "POST",
        "/api/v1/runs",
        {"scenario_id": scenario_id, "options": {"attempts": 1, "simulator": {"faults": faults}}},
    )
    run_id = int(started["id"])
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if _api(server, "GET", f"/api/v1/runs/{run_id}")["status"] in ("succeeded", "failed"):
            return run_id
        time.sleep(0.2)
    raise AssertionError(f"run {run_id} did not finish")


def test_a_webhook_on_localhost_hears_each_alarming_run_once(
    page: Page, server: Server, receiver: Receiver
) -> None:
    scenario_id = server.world.scenarios["calico-workshop"]
    # The world's last run failed open: a clean run now recovers (alarm drift). Let it,
    # before anyone listens.
    _run_through_the_api(server, scenario_id, [])
    page.goto(f"{server.base_url}/dashboard/webhooks")
    form = page.locator("#add-webhook form")
    form.locator("input[name=name]").fill("local receiver")
    form.locator("select[name=scope]").select_option(f"scenario:{scenario_id}")
    form.locator("input[name=url]").fill(receiver.url("/hook/Secret0Token1"))
    form.get_by_role("button", name="Add webhook").click()
    page.wait_for_load_state()
    assert "Secret0Token1" not in page.content()
    receiver.statuses = [500]

    clean = _run_through_the_api(server, scenario_id, [])
    alarming = _run_through_the_api(
        server, scenario_id, [{"version": "allow-pod", "mode": "fail-open"}]
    )
    again = _run_through_the_api(server, scenario_id, [])
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and len(receiver.delivered()) < 2:
        time.sleep(0.2)
    time.sleep(1.0)
    delivered = [body["run"]["id"] for body in receiver.delivered()]  # type: ignore[index]
    # The fail-open run regressed; the run after it recovered, which is alarm drift too.
    assert delivered == [alarming, again]
    assert clean not in delivered
    assert [status for _, status, _ in receiver.received] == [500, 200, 200]
    page.goto(f"{server.base_url}/dashboard/webhooks")
    assert page.locator('tr[data-status="delivered"]').count() >= 2
