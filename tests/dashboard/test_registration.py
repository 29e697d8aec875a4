"""The dashboard as create_app registers it: where it answers, and how long it notifies."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import IO

import pytest

from service.api import create_app
from service.api.context import services
from service.dashboard.context import state
from service.store import upgrade
from tests.dashboard.world import ROOT


def _url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'netpol-drift.db'}"
    upgrade(url)
    return url


def test_the_root_redirects_to_the_dashboard_and_the_api_keeps_its_paths(
    tmp_path: Path,
) -> None:
    app = create_app({"database_url": _url(tmp_path), "broker_url": ""})
    try:
        client = app.test_client()
        root = client.get("/")
        assert root.status_code == 302
        assert root.headers["Location"].endswith("/dashboard/")
        assert client.get("/api/v1/health").status_code == 200
        login = client.get("/dashboard/login")
        assert (login.status_code, login.mimetype) == (200, "text/html")
        assert "script-src 'self'" in login.headers["Content-Security-Policy"]
        with client.get("/dashboard/static/dashboard.js") as script:
            assert script.status_code == 200
            assert "javascript" in script.mimetype
    finally:
        services(app).close()


def test_notifications_stop_when_the_api_releases_its_database(tmp_path: Path) -> None:
    app = create_app({"database_url": _url(tmp_path), "broker_url": ""})
    notifications = state(app).notifications
    assert notifications is not None, "no broker: this process notifies"
    services(app).close()
    assert state(app).notifications is None


@pytest.mark.parametrize(("broker_url", "notifies"), [("", True), ("redis://127.0.0.1:1/0", False)])
def test_the_dashboard_notifies_in_process_only_when_the_api_has_no_broker(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, broker_url: str, notifies: bool
) -> None:
    # The API's own setting decides, whatever the environment says.
    monkeypatch.setenv("NETPOL_DRIFT_BROKER_URL", "" if broker_url else "redis://127.0.0.1:1/0")
    app = create_app({"database_url": _url(tmp_path), "broker_url": broker_url})
    try:
        assert (state(app).notifications is not None) is notifies
    finally:
        services(app).close()


def test_the_serve_command_serves_the_dashboard_and_its_error_pages(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NETPOL_DRIFT_")}
    env["NETPOL_DRIFT_DATABASE_URL"] = _url(tmp_path)
    command = [sys.executable, "-m", "service.cli", "serve", "--port", "0"]
    with subprocess.Popen(
        command,
        cwd=ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    ) as process:
        assert process.stderr is not None
        try:
            base = _listening(process.stderr)
            assert _get(f"{base}/dashboard/login")[:2] == (200, "text/html")
            assert _get(f"{base}/dashboard/no-such-page")[:2] == (404, "text/html")
            assert _get(f"{base}/api/v1/no-such-thing")[:2] == (404, "application/problem+json")
        finally:
            process.send_signal(signal.SIGINT)
            process.wait(timeout=30)
    # Interrupted, it stops as it should: the dashboard closed, the services released.
    assert process.returncode == 0


def _listening(stream: IO[str]) -> str:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = stream.readline()
        if not line:
            break
        found = re.search(r"on (http://127\.0\.0\.1:\d+)/", line)
        if found:
            return found.group(1)
    pytest.fail("netpol-drift serve did not say where it listens")


def _get(url: str) -> tuple[int, str, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.headers.get_content_type(), response.read().decode()
    except urllib.error.HTTPError as err:
        with err:
            return err.code, err.headers.get_content_type(), err.read().decode()
