"""`netpol-drift token ...` and `netpol-drift serve` on the embedded default (SQLite)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from click.testing import CliRunner

from service.cli.token import token
from service.store import DATABASE_URL_ENV
from tests.api.world import tiny


@pytest.fixture
def embedded(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'embedded.db'}"
    monkeypatch.setenv(DATABASE_URL_ENV, url)
    monkeypatch.delenv("NETPOL_DRIFT_BROKER_URL", raising=False)
    return url


def test_token_create_prints_the_token_once_alone_on_stdout(embedded: str) -> None:
    runner = CliRunner()
    created = runner.invoke(token, ["create", "--role", "operator", "--name", "ci"])
    assert created.exit_code == 0, created.output
    secret = created.stdout.strip()
    assert re.fullmatch(r"npd_[A-Za-z0-9_-]{43}", secret)
    assert "shown once" in created.stderr
    listed = runner.invoke(token, ["list"])
    assert listed.exit_code == 0
    assert "ci\toperator" in listed.stdout
    assert secret not in listed.stdout
    assert secret[:12] in listed.stdout, "the prefix tells tokens apart"


def test_token_names_are_unique_and_roles_known(embedded: str) -> None:
    runner = CliRunner()
    assert runner.invoke(token, ["create", "--role", "viewer", "--name", "x"]).exit_code == 0
    again = runner.invoke(token, ["create", "--role", "viewer", "--name", "x"])
    assert again.exit_code != 0
    unknown = runner.invoke(token, ["create", "--role", "root", "--name", "y"])
    assert unknown.exit_code != 0


def test_token_revoke_by_name(embedded: str) -> None:
    runner = CliRunner()
    runner.invoke(token, ["create", "--role", "admin", "--name", "ops"])
    revoked = runner.invoke(token, ["revoke", "ops"])
    assert revoked.exit_code == 0, revoked.output
    assert "revoked" in runner.invoke(token, ["list"]).stdout
    assert runner.invoke(token, ["revoke", "nobody"]).exit_code != 0


def _get(url: str, token_value: str) -> tuple[int, bytes]:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token_value}"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


def test_serve_answers_on_the_embedded_default_and_runs_in_process(embedded: str) -> None:
    secret = CliRunner().invoke(token, ["create", "--role", "admin", "--name", "me"]).stdout.strip()
    code = "from service.cli.serve import serve_command; serve_command()"
    env = {**os.environ, DATABASE_URL_ENV: embedded}
    server = subprocess.Popen(
        [sys.executable, "-c", code, "--port", "0"],
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert server.stderr is not None
        line = server.stderr.readline()
        match = re.search(r"http://127\.0\.0\.1:(\d+)/api/v1", line)
        assert match, line
        base = f"http://127.0.0.1:{match.group(1)}"
        status, body = _get(f"{base}/api/v1/health", secret)
        assert status == 200
        created = urllib.request.Request(
            f"{base}/api/v1/runs",
            data=json.dumps({"scenario": tiny()}).encode(),
            headers={"Authorization": f"Bearer {secret}", "Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(created, timeout=30) as response:
            run = json.loads(response.read())
        deadline = time.monotonic() + 60
        while True:
            status, body = _get(f"{base}/api/v1/runs/{run['id']}", secret)
            state = json.loads(body)["status"]
            if state not in ("queued", "running") or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        assert state == "succeeded"
    finally:
        server.terminate()
        server.wait(timeout=30)
        if server.stderr is not None:
            server.stderr.close()
