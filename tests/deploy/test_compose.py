"""docker-compose.yml and the Dockerfile, checked by reading them (no Docker engine here)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
COMPOSE: dict[str, Any] = yaml.safe_load((REPO / "docker-compose.yml").read_text(encoding="utf-8"))
SERVICES: dict[str, Any] = COMPOSE["services"]
DOCKERFILE = (REPO / "Dockerfile").read_text(encoding="utf-8")


def test_the_stack_has_api_worker_beat_redis_and_postgres() -> None:
    assert {"api", "worker", "beat", "redis", "postgres"} <= set(SERVICES)


@pytest.mark.parametrize("name", ["api", "worker", "beat", "redis", "postgres"])
def test_every_long_running_service_has_a_health_check(name: str) -> None:
    check = SERVICES[name]["healthcheck"]
    assert check["test"][0] in ("CMD", "CMD-SHELL")
    assert len(check["test"]) > 1


def test_the_database_lives_in_a_named_volume() -> None:
    assert "pgdata" in COMPOSE["volumes"]
    assert "pgdata:/var/lib/postgresql/data" in SERVICES["postgres"]["volumes"]


def test_the_workers_get_the_kubeconfig_read_only() -> None:
    (mount,) = SERVICES["worker"]["volumes"]
    assert mount["read_only"] is True
    assert mount["target"] == SERVICES["worker"]["environment"]["NETPOL_DRIFT_KUBECONFIG"]


def test_the_worker_can_be_scaled() -> None:
    worker = SERVICES["worker"]
    # A fixed name or host port would make a second replica collide with the first.
    assert "container_name" not in worker
    assert "ports" not in worker
    assert worker["command"][:4] == ["celery", "-A", "workers.worker", "worker"]


@pytest.mark.parametrize("name", ["api", "worker", "beat", "migrate"])
def test_the_app_services_point_at_the_compose_broker_and_database(name: str) -> None:
    env = SERVICES[name]["environment"]
    assert env["NETPOL_DRIFT_BROKER_URL"].startswith("redis://redis:6379/")
    assert re.match(
        r"postgresql\+psycopg://netpol:.*@postgres:5432/netpol$", env["NETPOL_DRIFT_DATABASE_URL"]
    )


@pytest.mark.parametrize("name", ["api", "worker", "beat"])
def test_the_app_services_wait_for_their_dependencies_and_the_migration(name: str) -> None:
    depends = SERVICES[name]["depends_on"]
    assert depends["postgres"]["condition"] == "service_healthy"
    assert depends["redis"]["condition"] == "service_healthy"
    assert depends["migrate"]["condition"] == "service_completed_successfully"
    assert SERVICES["migrate"]["command"] == ["netpol-drift", "db", "upgrade"]


def test_the_api_runs_the_app_factory_in_gunicorn_unless_told_otherwise() -> None:
    command = SERVICES["api"]["command"]
    assert command.startswith("${NETPOL_DRIFT_API_COMMAND:-gunicorn ")
    assert "service.api:create_app()" in command


def test_beat_runs_the_beat_entry_point() -> None:
    assert SERVICES["beat"]["command"][:4] == ["celery", "-A", "workers.worker", "beat"]


def test_the_image_is_slim_unprivileged_and_carries_the_migrations() -> None:
    assert re.search(r"^FROM python:3\.11-slim$", DOCKERFILE, re.MULTILINE)
    users = re.findall(r"^USER (\S+)$", DOCKERFILE, re.MULTILINE)
    assert users
    assert users[-1] not in ("root", "0")
    assert re.search(r"^COPY migrations ", DOCKERFILE, re.MULTILINE)
    assert "pip install" in DOCKERFILE
