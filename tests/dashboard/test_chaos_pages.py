"""The chaos pages in Debian's Chromium, against a served app (tests.dashboard.server) whose
database holds experiments stored by ``netpol-drift chaos`` (tests.dashboard.chaos_world).

Expected figures are read from the store with plain SQL, or are the delays the
simulator was given, never from the dashboard's own code.
"""

from __future__ import annotations

import csv
import io
import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page
from sqlalchemy import text

from service.chaos.results import Observation
from service.dashboard.chaos.palette import OBSERVATION_PAINT
from service.store import make_engine
from service.store.enums import TokenRole
from tests.dashboard.browser import Console
from tests.dashboard.chaos_world import POD_START_S, XSS_DESCRIPTION, ChaosWorld, add_chaos
from tests.dashboard.conftest import repo_path
from tests.dashboard.server import CHROMIUM, Server, start_server

browser_only = pytest.mark.skipif(
    not Path(CHROMIUM).exists(), reason=f"Chromium is not installed at {CHROMIUM}"
)
RESCHEDULED = "backend-rescheduled"
SVG = "http://www.w3.org/2000/svg"


@dataclass(frozen=True, slots=True)
class Chaos:
    server: Server
    ids: ChaosWorld

    def url(self, path: str) -> str:
        return self.server.base_url + path


@pytest.fixture(scope="module")
def chaos(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Chaos]:
    tmp = tmp_path_factory.mktemp("chaos")
    server = start_server(tmp)
    try:
        yield Chaos(server, add_chaos(server.url, tmp))
    finally:
        server.stop()


@pytest.fixture
def page(browser: Browser, chaos: Chaos) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    opened = context.new_page()
    opened.goto(chaos.url("/dashboard/login"))
    opened.fill("#token", chaos.server.tokens[TokenRole.VIEWER])
    opened.click("button[type=submit]")
    opened.wait_for_url(chaos.url("/dashboard/"))
    try:
        yield opened
    finally:
        context.close()


def _open(page: Page, chaos: Chaos, path: str) -> None:
    response = page.goto(chaos.url(path))
    assert response is not None
    assert response.status == 200, path
    page.wait_for_function("document.documentElement.dataset.ready === '1'")


def _sql(chaos: Chaos, sql: str, **params: object) -> list[Any]:
    engine = make_engine(chaos.server.url)
    try:
        with engine.connect() as connection:
            return list(connection.execute(text(sql), params).all())
    finally:
        engine.dispose()


@dataclass(frozen=True, slots=True)
class StoredPhase:
    started_s: float
    convergence_s: float | None
    fail_open_s: float
    interval_s: float
    # pair key -> its fail-open segments [(start, end)], seconds since the action began
    fail_open: dict[str, list[tuple[float, float]]]


def _phase(chaos: Chaos, experiment: int, step: str, phase: str) -> StoredPhase:
    (row,) = _sql(
        chaos,
        "SELECT p.started_s, p.convergence_s, p.fail_open_s, p.interval_s, p.cells"
        " FROM chaos_phases p JOIN chaos_steps s ON s.experiment_id = p.experiment_id"
        " AND s.step_index = p.step_index"
        " WHERE p.experiment_id = :e AND s.name = :s AND p.phase = :p",
        e=experiment,
        s=step,
        p=phase,
    )
    cells = json.loads(row[4]) if isinstance(row[4], str) else row[4]
    fail_open = {
        c["key"]: [(float(a), float(b)) for state, a, b, _ in c["segments"] if state == "fail-open"]
        for c in cells
    }
    return StoredPhase(
        started_s=float(row[0]),
        convergence_s=row[1],
        fail_open_s=float(row[2]),
        interval_s=float(row[3]),
        fail_open={k: v for k, v in fail_open.items() if v},
    )


def _scenario_id(chaos: Chaos, name: str) -> int:
    (row,) = _sql(chaos, "SELECT id FROM scenarios WHERE name = :n", n=name)
    return int(row[0])


def _overview_bands(page: Page, state: Observation) -> list[dict[str, float]]:
    found: list[dict[str, float]] = page.locator(
        f"#tl-svg rect[data-state='{state}']"
    ).evaluate_all(
        "rects => rects.map(r => ({x: +r.getAttribute('x'), width: +r.getAttribute('width')}))"
    )
    return found


def _axis(page: Page) -> tuple[float, float]:
    """Pixels per second and the x of 0 s, from the overview's tick labels."""
    ticks: list[dict[str, Any]] = page.locator("#tl-svg text[text-anchor='middle']").evaluate_all(
        "ts => ts.map(t => ({x: +t.getAttribute('x'), label: t.textContent}))"
    )
    points = [
        (float(m.group(1)), t["x"])
        for t in ticks
        if (m := re.fullmatch(r"(\d+(?:\.\d+)?) s", t["label"]))
    ]
    assert len(points) >= 2, ticks
    (t0, x0), (t1, x1) = points[0], points[-1]
    scale = (x1 - x0) / (t1 - t0)
    return scale, x0 - t0 * scale


# --- in the browser -------------------------------------------------------------------------


@browser_only
def test_every_chaos_page_loads_without_a_console_error(page: Page, chaos: Chaos) -> None:
    console = Console(page)
    workshop = _scenario_id(chaos, "chaos-workshop")
    for path in (
        "/dashboard/chaos",
        "/dashboard/chaos?scenario=chaos-workshop",
        f"/dashboard/chaos/{chaos.ids.delayed}",
        f"/dashboard/chaos/{chaos.ids.quiet}",
        f"/dashboard/chaos/{chaos.ids.xss}",
        f"/dashboard/chaos/{chaos.ids.broken}",
        "/dashboard/",
        f"/dashboard/scenarios/{workshop}",
    ):
        _open(page, chaos, path)
        assert console.errors == [], path


@browser_only
def test_the_fail_open_window_of_the_rescheduled_backend_is_drawn_where_it_was_measured(
    page: Page, chaos: Chaos
) -> None:
    stored = _phase(chaos, chaos.ids.delayed, RESCHEDULED, "action")
    assert stored.fail_open, "the injected isolation delay opened no window"
    _open(page, chaos, f"/dashboard/chaos/{chaos.ids.delayed}")
    bands = _overview_bands(page, Observation.FAIL_OPEN)
    assert len(bands) == sum(len(v) for v in stored.fail_open.values())
    scale, zero = _axis(page)
    drawn = sorted((b["x"] - zero) / scale - stored.started_s for b in bands)
    measured = sorted(a for spans in stored.fail_open.values() for a, _ in spans)
    for at, expected in zip(drawn, measured, strict=True):
        assert at == pytest.approx(expected, abs=1 / scale + 0.01)
    # The truth injected: nothing is probed until the pod is Ready (the pod start), and
    # the first round after it sees the pod open.
    assert POD_START_S - 0.01 <= min(drawn) <= POD_START_S + stored.interval_s
    colours = page.locator("#tl-svg rect[data-state='fail-open']").evaluate_all(
        "rs => rs.map(r => r.getAttribute('fill'))"
    )
    assert set(colours) == {OBSERVATION_PAINT[Observation.FAIL_OPEN].colour}


@browser_only
def test_a_quiet_experiment_draws_no_fail_open_window_and_every_step_held(
    page: Page, chaos: Chaos
) -> None:
    _open(page, chaos, f"/dashboard/chaos/{chaos.ids.quiet}")
    assert _overview_bands(page, Observation.FAIL_OPEN) == []
    steps = _sql(
        chaos, "SELECT count(*) FROM chaos_steps WHERE experiment_id = :e", e=chaos.ids.quiet
    )
    assert page.inner_text("[data-testid=held]") == f"{steps[0][0]} / {steps[0][0]}"
    assert page.inner_text("[data-testid=verdict]") == "held"


@browser_only
def test_the_steps_table_shows_each_steps_status_convergence_and_windows_as_stored(
    page: Page, chaos: Chaos
) -> None:
    _open(page, chaos, f"/dashboard/chaos/{chaos.ids.delayed}")
    rows = _sql(
        chaos,
        "SELECT name, status, ok FROM chaos_steps WHERE experiment_id = :e ORDER BY step_index",
        e=chaos.ids.delayed,
    )
    shown = page.locator("#steps tbody tr").evaluate_all(
        "rs => rs.map(r => [r.dataset.step, r.dataset.status])"
    )
    assert shown == [[name, "held" if ok else "not held"] for name, _, ok in rows]
    stored = _phase(chaos, chaos.ids.delayed, RESCHEDULED, "action")
    row = page.locator(f"#steps tr[data-step='{RESCHEDULED}']")
    fail_open = row.locator("[data-testid=fail-open]").inner_text()
    assert f"{stored.fail_open_s:.2f} s" in fail_open
    assert f"{len(stored.fail_open)} cells" in fail_open
    assert stored.convergence_s is not None
    assert f"{stored.convergence_s:.2f} s" in row.locator("[data-testid=converged]").inner_text()
    card = page.locator("#step-4")
    assert "did not hold" in card.inner_text().lower()
    window = card.locator("table.windows tr[data-state='fail-open'][data-phase='action']")
    assert window.locator("ul.cells li").count() == len(stored.fail_open)


@browser_only
def test_hovering_a_window_tells_its_cell_and_times(page: Page, chaos: Chaos) -> None:
    _open(page, chaos, f"/dashboard/chaos/{chaos.ids.delayed}")
    page.wait_for_function("document.documentElement.dataset.chaosReady === '1'")
    band = page.locator("#tl-svg rect[data-state='fail-open']").first
    band.hover()
    tip = page.locator(".chaos-tip")
    tip.wait_for(state="visible")
    words = tip.inner_text()
    assert "fail-open for" in words
    assert RESCHEDULED in words
    assert "→ development/backend" in words


@browser_only
def test_a_step_title_on_the_timeline_leads_to_the_steps_close_up(page: Page, chaos: Chaos) -> None:
    _open(page, chaos, f"/dashboard/chaos/{chaos.ids.delayed}")
    page.locator("#tl-svg a[href='#step-4']").click()
    page.wait_for_url(re.compile(r"#step-4$"))
    assert page.locator("#step-4").get_attribute("data-step") == RESCHEDULED
    assert page.locator("#step-4 svg.closeup rect[data-state='fail-open']").count() >= 1


@browser_only
def test_the_timeline_fits_1280_pixels_at_its_drawn_size(page: Page, chaos: Chaos) -> None:
    _open(page, chaos, f"/dashboard/chaos/{chaos.ids.delayed}")
    sizes = page.evaluate(
        """() => {
        const svg = document.querySelector('#tl-svg');
        const box = svg.closest('.chaos-scroll');
        return {drawn: svg.getBoundingClientRect().width, viewBox: svg.viewBox.baseVal.width,
                scroll: box.scrollWidth, client: box.clientWidth,
                page: document.documentElement.scrollWidth};
        }"""
    )
    assert sizes["page"] <= 1280
    assert sizes["scroll"] <= sizes["client"]
    # Text is drawn at (nearly) its own size: 11 px labels stay 11 px.
    assert sizes["drawn"] / sizes["viewBox"] >= 0.95


@browser_only
def test_html_in_a_step_description_is_shown_as_text_and_never_runs(
    page: Page, chaos: Chaos
) -> None:
    _open(page, chaos, f"/dashboard/chaos/{chaos.ids.xss}")
    assert page.evaluate("document.documentElement.dataset.pwned") is None
    assert XSS_DESCRIPTION in page.locator("#step-1 .prose").inner_text()


@browser_only
def test_a_failed_step_says_what_failed_and_the_steps_after_it_are_skipped(
    page: Page, chaos: Chaos
) -> None:
    rows = _sql(
        chaos,
        "SELECT step_index, status, error, rollback_error FROM chaos_steps"
        " WHERE experiment_id = :e ORDER BY step_index",
        e=chaos.ids.broken,
    )
    _open(page, chaos, f"/dashboard/chaos/{chaos.ids.broken}")
    shown = page.locator("#steps tbody tr").evaluate_all("rs => rs.map(r => r.dataset.status)")
    assert shown == [status for _, status, _, _ in rows]
    assert shown[0] == "failed"
    assert set(shown[1:]) == {"skipped"}
    first = page.locator("#step-1").inner_text()
    assert rows[0][3]
    assert rows[0][3] in first
    for index, _, error, _ in rows[1:]:
        card = page.locator(f"#step-{index + 1}")
        assert card.locator("svg.closeup").count() == 0
        assert error in card.inner_text()
    assert page.inner_text("[data-testid=verdict]") == "not held"


@browser_only
def test_the_overview_the_scenario_page_and_the_nav_lead_to_the_experiments(
    page: Page, chaos: Chaos
) -> None:
    _open(page, chaos, "/dashboard/")
    latest = page.locator("tr[data-scenario='chaos-workshop'] td[data-chaos] a")
    assert latest.get_attribute("href") == f"/dashboard/chaos/{chaos.ids.delayed}"
    assert "not held" in latest.inner_text()
    _open(page, chaos, f"/dashboard/scenarios/{_scenario_id(chaos, 'chaos-workshop')}")
    listed = page.locator("#chaos tr[data-experiment-id]").evaluate_all(
        "rs => rs.map(r => +r.dataset.experimentId)"
    )
    assert listed == [chaos.ids.delayed, chaos.ids.quiet]
    page.locator("nav.nav a", has_text="Chaos").click()
    page.wait_for_url(chaos.url("/dashboard/chaos"))
    (stored,) = _sql(chaos, "SELECT count(*) FROM chaos_experiments")
    assert page.locator("#experiments tr[data-experiment-id]").count() == stored[0]


@browser_only
def test_the_list_of_one_scenario_shows_each_steps_trend_oldest_first(
    page: Page, chaos: Chaos
) -> None:
    _open(page, chaos, "/dashboard/chaos?scenario=chaos-workshop")
    trend = page.locator(f"#trends tr[data-step='{RESCHEDULED}'] .trend a")
    assert trend.evaluate_all("as => as.map(a => a.getAttribute('href'))") == [
        f"/dashboard/chaos/{chaos.ids.quiet}",
        f"/dashboard/chaos/{chaos.ids.delayed}",
    ]
    assert trend.evaluate_all("as => as.map(a => a.classList.contains('c-held'))") == [
        True,
        False,
    ]


# --- over HTTP, as the browser's session ----------------------------------------------------


@browser_only
def test_chaos_pages_forbid_inline_scripts_and_styles(page: Page, chaos: Chaos) -> None:
    for path in (f"/dashboard/chaos/{chaos.ids.delayed}", "/dashboard/chaos"):
        response = page.request.get(chaos.url(path))
        assert response.status == 200
        assert "script-src 'self'" in response.headers["content-security-policy"]
        html = response.text()
        assert not re.search(r"<script(?![^>]*\bsrc=)", html), path
        assert not re.search(r"\sstyle=", html), path
        assert not re.search(r"\son[a-z]+=", html), path


@browser_only
def test_the_downloads_hold_the_steps_the_windows_and_the_drawing(page: Page, chaos: Chaos) -> None:
    base = f"/dashboard/chaos/{chaos.ids.delayed}"
    steps = list(
        csv.DictReader(io.StringIO(page.request.get(chaos.url(f"{base}/steps.csv")).text()))
    )
    names = _sql(
        chaos,
        "SELECT name FROM chaos_steps WHERE experiment_id = :e ORDER BY step_index",
        e=chaos.ids.delayed,
    )
    assert [r["name"] for r in steps] == [n for (n,) in names]
    windows = list(
        csv.DictReader(io.StringIO(page.request.get(chaos.url(f"{base}/windows.csv")).text()))
    )
    stored = _phase(chaos, chaos.ids.delayed, RESCHEDULED, "action")
    opened = {
        r["cell_key"] for r in windows if r["name"] == RESCHEDULED and r["state"] == "fail-open"
    }
    assert opened == set(stored.fail_open)
    drawing = page.request.get(chaos.url(f"{base}/timeline.svg"))
    assert drawing.headers["content-type"].startswith("image/svg+xml")
    root = ET.fromstring(drawing.body())
    rects = root.findall(f".//{{{SVG}}}rect[@data-state='fail-open']")
    assert len(rects) == sum(len(v) for v in stored.fail_open.values())


@browser_only
def test_unknown_experiments_and_bad_paging_are_errors(page: Page, chaos: Chaos) -> None:
    assert page.request.get(chaos.url("/dashboard/chaos/99999")).status == 404
    assert page.request.get(chaos.url("/dashboard/chaos?before=abc")).status == 400
    older = page.request.get(chaos.url(f"/dashboard/chaos?before={chaos.ids.delayed}")).text()
    assert re.findall(r'data-experiment-id="(\d+)"', older) == [str(chaos.ids.quiet)]


# --- without a browser ----------------------------------------------------------------------


def _css_variables() -> dict[str, str]:
    css = repo_path("service", "dashboard", "static", "chaos.css").read_text(encoding="utf-8")
    return dict(re.findall(r"--([a-z-]+):\s*(#[0-9a-fA-F]{6})\s*;", css))


@pytest.mark.parametrize("state", [o for o in Observation if o is not Observation.MATCH])
def test_the_legend_swatches_colour_each_state_as_the_timeline_does(state: Observation) -> None:
    paint = OBSERVATION_PAINT[state]
    variables = _css_variables()
    assert variables[str(state)].lower() == paint.colour.lower()
    if paint.striped:
        assert variables[f"{state}-ground"].lower() == paint.ground.lower()


def test_the_chaos_script_writes_data_as_text_only() -> None:
    script = repo_path("service", "dashboard", "static", "chaos.js").read_text(encoding="utf-8")
    for unsafe in ("innerHTML", "outerHTML", "insertAdjacentHTML", "eval(", "document.write"):
        assert unsafe not in script
