"""Screenshots of every dashboard page for docs/dashboard.md, taken in Debian's Chromium.

    .venv/bin/python -m tests.dashboard.screenshots [--out docs/screenshots]

Serves a showcase database (tests.dashboard.showcase: two weeks of nightly runs
with an injected drift, its recovery, a policy edit and lossy probes) the way
the browser tests do, logs in as an operator and saves one PNG per page at
1280 pixels wide. Then chaos experiments of the workshop are stored
(tests.dashboard.chaos_world: a quiet one and one with the delays docs/chaos.md
rehearses) for docs/chaos.md: the experiment's page and its failing step.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from playwright.sync_api import Page, sync_playwright

from service.store.enums import TokenRole
from tests.dashboard.chaos_world import add_chaos
from tests.dashboard.server import BROWSER_ARGS, CHROMIUM, Server, start_server
from tests.dashboard.world import ROOT

WIDTH = 1280


def _shots(server: Server) -> list[tuple[str, str]]:
    world = server.world
    workshop = world.runs["calico-workshop"]
    drifted = workshop[5]
    return [
        ("overview", "/dashboard/"),
        ("run", f"/dashboard/runs/{drifted}"),
        ("run-large", f"/dashboard/runs/{world.runs['platform-large'][-1]}"),
        ("scenario-history", f"/dashboard/scenarios/{world.scenarios['calico-workshop']}"),
        ("compare", f"/dashboard/compare?base={workshop[4]}&head={drifted}"),
        ("schedules", "/dashboard/schedules"),
        ("webhooks", "/dashboard/webhooks"),
    ]


def _ready(page: Page) -> None:
    page.wait_for_function("document.documentElement.dataset.ready === '1'")
    page.wait_for_load_state("networkidle")


def _page_shot(page: Page, target: Path) -> None:
    # Long pages are cut at a screenful and a half: what people see first.
    height = min(1400, page.evaluate("document.documentElement.scrollHeight"))
    page.screenshot(
        path=str(target), full_page=True, clip={"x": 0, "y": 0, "width": WIDTH, "height": height}
    )


def _chaos_shots(page: Page, server: Server, tmp: Path, out: Path) -> list[Path]:
    """Stored after the other pages are taken, so that those stay as they were."""
    chaos = add_chaos(server.url, tmp, odd=False)
    page.goto(f"{server.base_url}/dashboard/chaos/{chaos.delayed}")
    _ready(page)
    whole = out / "chaos.png"
    # Down to the steps table: the timeline and every step's figures.
    bottom = page.evaluate(
        "document.querySelector('#steps-card').getBoundingClientRect().bottom + window.scrollY"
    )
    page.screenshot(
        path=str(whole),
        full_page=True,
        clip={"x": 0, "y": 0, "width": WIDTH, "height": int(bottom) + 12},
    )
    # The step that did not hold, close up: its windows and the cells in them.
    step = out / "chaos-step.png"
    page.locator(".chaos-step.tone-not-held").first.screenshot(path=str(step))
    return [whole, step]


def take(out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    written = []
    with tempfile.TemporaryDirectory() as tmp:
        server = start_server(Path(tmp), showcase=True)
        try:
            with sync_playwright() as driver:
                browser = driver.chromium.launch(executable_path=CHROMIUM, args=BROWSER_ARGS)
                page = browser.new_page(viewport={"width": WIDTH, "height": 900})
                page.goto(f"{server.base_url}/dashboard/login")
                _ready(page)
                page.screenshot(path=str(out / "login.png"))
                written.append(out / "login.png")
                page.fill("#token", server.tokens[TokenRole.OPERATOR])
                page.click("button[type=submit]")
                page.wait_for_url(f"{server.base_url}/dashboard/")
                for name, path in _shots(server):
                    page.goto(server.base_url + path)
                    _ready(page)
                    target = out / f"{name}.png"
                    _page_shot(page, target)
                    written.append(target)
                # The explanation of a regression, opened from the heatmap.
                page.goto(f"{server.base_url}{_shots(server)[1][1]}?version=deny-all")
                _ready(page)
                page.locator("td.c.reg").first.click()
                page.locator("#cell-panel").wait_for(state="visible")
                target = out / "run-explanation.png"
                page.screenshot(path=str(target))
                written.append(target)
                written.extend(_chaos_shots(page, server, Path(tmp), out))
                browser.close()
        finally:
            server.stop()
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    args = parser.parse_args()
    for path in take(args.out):
        print(path)


if __name__ == "__main__":
    main()
