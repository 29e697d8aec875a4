"""A served dashboard for the browser tests and the screenshots: ``netpol-drift serve`` in a
subprocess on 127.0.0.1, on a SQLite file filled by real runs (tests.dashboard.world).

When the ``serve`` command does not serve the dashboard (the app factory does not
register it), the same app is served from a thread of this process instead, made
the way the factory would make it: ``create_app`` then ``register_dashboard``.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from werkzeug.serving import make_server

from service.api import create_app
from service.api.context import services
from service.auth import issue_token
from service.dashboard import DashboardSettings, close_dashboard, register_dashboard
from service.notify.settings import NotifySettings
from service.runs.transactions import writing
from service.store import make_engine, make_session_factory, upgrade
from service.store.enums import TokenRole
from tests.dashboard.showcase import build_showcase
from tests.dashboard.world import ROOT, World, build_world

__all__ = ["BROWSER_ARGS", "CHROMIUM", "Server", "start_server"]

CHROMIUM: Final = "/usr/bin/chromium"
BROWSER_ARGS: Final = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# Small enough that the microservices runs (880 cells) are drawn on canvases.
TABLE_CELLS: Final = 200
SECRET_KEY: Final = "tests-only-secret-key"
_LISTENING: Final = re.compile(r"on http://127\.0\.0\.1:(\d+)/")


@dataclass
class Server:
    base_url: str
    url: str
    world: World
    tokens: dict[TokenRole, str]
    mode: str
    log: list[str] = field(default_factory=list)
    _stop: Callable[[], None] = field(default=lambda: None, repr=False)

    def stop(self) -> None:
        self._stop()


def _tokens(url: str) -> dict[TokenRole, str]:
    engine = make_engine(url)
    try:
        with writing(make_session_factory(engine)) as session:
            return {
                role: issue_token(session, name=f"browser-{role.value}", role=role).token
                for role in TokenRole
            }
    finally:
        engine.dispose()


def _fill(tmp: Path, *, showcase: bool) -> tuple[str, World]:
    url = f"sqlite:///{tmp / 'netpol-drift.db'}"
    upgrade(url)
    engine = make_engine(url)
    try:
        sessions = make_session_factory(engine)
        world = build_showcase(sessions, tmp) if showcase else build_world(sessions, tmp)
    finally:
        engine.dispose()
    return url, world


def _serves_dashboard(base_url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{base_url}/dashboard/login", timeout=10) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def _environment(url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NETPOL_DRIFT_")}
    env.update(
        {
            "NETPOL_DRIFT_DATABASE_URL": url,
            "NETPOL_DRIFT_SECRET_KEY": SECRET_KEY,
            "NETPOL_DRIFT_DASHBOARD_TABLE_CELLS": str(TABLE_CELLS),
            "NETPOL_DRIFT_WEBHOOK_BACKOFF_S": "0.1",
            "NETPOL_DRIFT_BASE_URL": "http://dashboard.example",
        }
    )
    return env


def _subprocess(url: str, log: list[str]) -> tuple[str, Callable[[], None]] | None:
    command = [str(ROOT / ".venv" / "bin" / "netpol-drift"), "serve", "--port", "0"]
    if not Path(command[0]).exists():
        command = [sys.executable, "-m", "service.cli", "serve", "--port", "0"]
    process = subprocess.Popen(
        command,
        cwd=ROOT,
        env=_environment(url),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stderr is not None
    port = None
    deadline = time.monotonic() + 90
    while port is None and time.monotonic() < deadline:
        line = process.stderr.readline()
        if not line:
            break
        log.append(line.rstrip())
        found = _LISTENING.search(line)
        if found:
            port = int(found.group(1))
    if port is None:
        process.kill()
        process.wait(timeout=10)
        process.stderr.close()
        return None
    stream = process.stderr
    # Keep reading: a full pipe would block the server's logging.
    drain = threading.Thread(
        target=lambda: log.extend(line.rstrip() for line in stream), daemon=True
    )
    drain.start()

    def stop() -> None:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
        drain.join(timeout=10)
        stream.close()

    return f"http://127.0.0.1:{port}", stop


def _thread(url: str) -> tuple[str, Callable[[], None]]:
    app = create_app({"database_url": url})
    register_dashboard(
        app,
        settings=DashboardSettings(secret_key=SECRET_KEY, table_cells=TABLE_CELLS),
        notify=NotifySettings(base_url="http://dashboard.example", backoff_s=0.1),
    )
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()

    def stop() -> None:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
        close_dashboard(app)
        services(app).close()

    return f"http://127.0.0.1:{server.server_port}", stop


def start_server(tmp: Path, *, showcase: bool = False) -> Server:
    """Serve a database of real runs: tests.dashboard.world's, or with ``showcase``
    tests.dashboard.showcase's (for screenshots)."""
    url, world = _fill(tmp, showcase=showcase)
    tokens = _tokens(url)
    log: list[str] = []
    started = _subprocess(url, log)
    mode = "serve"
    if started is not None and not _serves_dashboard(started[0]):
        started[1]()
        started = None
    if started is None:
        mode = "thread"
        started = _thread(url)
    base_url, stop = started
    return Server(base_url, url, world, tokens, mode, log, stop)
