"""The compose file's API command: gunicorn with threaded workers, read as gunicorn reads it,
and run as it is written (bound to loopback, on a SQLite file) to serve the API and dashboard."""

from __future__ import annotations

import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final

import pytest
import yaml
from gunicorn.config import Config

REPO: Final = Path(__file__).resolve().parents[2]
API: Final[dict[str, Any]] = yaml.safe_load(
    (REPO / "docker-compose.yml").read_text(encoding="utf-8")
)["services"]["api"]
# ${NETPOL_DRIFT_API_COMMAND:-<default>}: the default is what runs unless overridden.
_OVERRIDABLE: Final = re.compile(r"^\$\{NETPOL_DRIFT_API_COMMAND:-(?P<default>.+)\}$")


def _default_command() -> list[str]:
    found = _OVERRIDABLE.match(API["command"])
    assert found is not None, API["command"]
    return shlex.split(found.group("default"))


def _gunicorn_settings(argv: list[str]) -> tuple[Config, list[str]]:
    """The settings gunicorn itself makes of a command line, and the app it names."""
    config = Config()
    parsed = config.parser().parse_args(argv[1:])
    for name, value in vars(parsed).items():
        if name != "args" and value is not None:
            config.set(name.lower(), value)
    return config, list(parsed.args)


def test_the_api_runs_the_app_factory_in_threaded_gunicorn_workers() -> None:
    argv = _default_command()
    config, apps = _gunicorn_settings(argv)
    assert argv[0] == "gunicorn"
    # Sync workers serve one request each: measured p99 2.4 s under the API's load test.
    assert config.worker_class_str == "gthread"
    assert config.threads == 8
    assert config.workers >= 2
    assert config.bind == ["0.0.0.0:8000"]
    assert apps == ["service.api:create_app()"]
    assert config.config == "python:service.api.gunicorn_config"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _get(url: str) -> tuple[int, str, dict[str, str], str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            body = response.read().decode("utf-8")
            return (
                response.status,
                response.headers.get_content_type(),
                dict(response.headers),
                body,
            )
    except urllib.error.HTTPError as err:
        body = err.read().decode("utf-8")
        return err.code, err.headers.get_content_type(), dict(err.headers), body


@pytest.fixture(scope="module")
def gunicorn(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, list[str]]]:
    """The compose command, bound to a loopback port, on a fresh SQLite file, no broker."""
    tmp = tmp_path_factory.mktemp("gunicorn")
    port = _free_port()
    argv = [f"127.0.0.1:{port}" if arg == "0.0.0.0:8000" else arg for arg in _default_command()]
    gunicorn_bin = Path(sys.executable).with_name("gunicorn")
    argv[0] = str(gunicorn_bin)
    env = {k: v for k, v in os.environ.items() if not k.startswith("NETPOL_DRIFT_")}
    env["NETPOL_DRIFT_DATABASE_URL"] = f"sqlite:///{tmp / 'netpol-drift.db'}"
    env["NETPOL_DRIFT_SECRET_KEY"] = "tests-only-secret-key"
    log_path = tmp / "gunicorn.log"
    with log_path.open("w", encoding="utf-8") as log_file:
        process = subprocess.Popen(
            argv,
            cwd=REPO,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=log_file,
        )
        try:
            yield _wait_until_serving(process, f"http://127.0.0.1:{port}", log_path)
        finally:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)


def _wait_until_serving(
    process: subprocess.Popen[bytes], base: str, log_path: Path
) -> tuple[str, list[str]]:
    deadline = time.monotonic() + 60
    while True:
        if process.poll() is not None:
            pytest.fail(log_path.read_text(encoding="utf-8"))
        try:
            if _get(f"{base}/api/v1/health")[0] == 200:
                return base, log_path.read_text(encoding="utf-8").splitlines()
        except OSError:
            pass
        if time.monotonic() > deadline:
            pytest.fail("gunicorn did not answer within 60 s")
        time.sleep(0.2)


def test_gunicorn_starts_the_threaded_workers_it_was_told_to(
    gunicorn: tuple[str, list[str]],
) -> None:
    _, log = gunicorn
    assert any("Using worker: gthread" in line for line in log), log


def test_a_worker_freezes_its_start_up_objects_once_it_has_loaded_the_app(
    gunicorn: tuple[str, list[str]],
) -> None:
    _, log = gunicorn
    froze = [line for line in log if "start-up objects out of the garbage collector" in line]
    assert froze, log
    # Modules, the app and its machinery: far more than a bare interpreter holds.
    counts = [int(line.split("froze ")[1].split()[0]) for line in froze]
    assert min(counts) > 50_000, froze


@pytest.mark.parametrize(
    ("path", "status", "media_type"),
    [
        ("/api/v1/health", 200, "application/json"),
        ("/dashboard/login", 200, "text/html"),
        # The API's errors stay problem documents; the dashboard's are pages.
        ("/api/v1/no-such-thing", 404, "application/problem+json"),
        ("/dashboard/no-such-page", 404, "text/html"),
    ],
)
def test_the_compose_command_serves_the_api_and_the_dashboard(
    gunicorn: tuple[str, list[str]], path: str, status: int, media_type: str
) -> None:
    base, _ = gunicorn
    got_status, got_type, headers, _ = _get(base + path)
    assert (got_status, got_type) == (status, media_type)
    if path.startswith("/dashboard/"):
        assert "default-src 'none'" in headers["Content-Security-Policy"]
