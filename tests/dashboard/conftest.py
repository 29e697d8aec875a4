"""The dashboard as it is served: the API's app with the dashboard registered, on a world of
real runs (tests.dashboard.world), built once per test module."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from playwright.sync_api import Browser, Playwright, sync_playwright
from sqlalchemy.orm import Session, sessionmaker

from service.api import create_app
from service.api.context import services
from service.auth import issue_token
from service.dashboard import register_dashboard
from service.runs.transactions import writing
from service.store import make_engine, make_session_factory, upgrade
from service.store.enums import TokenRole
from tests.dashboard.server import BROWSER_ARGS, CHROMIUM
from tests.dashboard.world import World, build_world
from tests.notify.receiver import Receiver, serve_receiver


@dataclass(frozen=True, slots=True)
class Served:
    app: Flask
    sessions: sessionmaker[Session]
    world: World
    tokens: dict[TokenRole, str]


def _tokens(sessions: sessionmaker[Session]) -> dict[TokenRole, str]:
    out = {}
    with writing(sessions) as session:
        for role in TokenRole:
            out[role] = issue_token(session, name=f"{role.value}-token", role=role).token
    return out


Stored = tuple[str, World, dict[TokenRole, str]]


@pytest.fixture(scope="module")
def world_url(tmp_path_factory: pytest.TempPathFactory) -> Stored:
    tmp = tmp_path_factory.mktemp("world")
    url = f"sqlite:///{tmp / 'netpol-drift.db'}"
    upgrade(url)
    engine = make_engine(url)
    try:
        sessions = make_session_factory(engine)
        world = build_world(sessions, tmp)
        tokens = _tokens(sessions)
    finally:
        engine.dispose()
    return url, world, tokens


def _served(
    url: str, world: World, tokens: dict[TokenRole, str], *, anonymous: bool
) -> Iterator[Served]:
    app = create_app({"database_url": url, "anonymous_read": anonymous})
    register_dashboard(app, notifications=False)
    app.config["TESTING"] = True
    try:
        yield Served(app, services(app).sessions, world, tokens)
    finally:
        services(app).close()


@pytest.fixture(scope="module")
def served(world_url: Stored) -> Iterator[Served]:
    """Anonymous reading off (the default): pages need a login."""
    yield from _served(*world_url, anonymous=False)


@pytest.fixture(scope="module")
def open_served(world_url: Stored) -> Iterator[Served]:
    """Anonymous reading on."""
    yield from _served(*world_url, anonymous=True)


def login(client: FlaskClient, token: str) -> None:
    page = client.get("/dashboard/login")
    csrf = csrf_of(page.get_data(as_text=True))
    response = client.post("/dashboard/login", data={"token": token, "csrf": csrf, "next": ""})
    assert response.status_code == 302, response.get_data(as_text=True)


def csrf_of(html: str) -> str:
    marker = 'name="csrf" value="'
    start = html.index(marker) + len(marker)
    return html[start : html.index('"', start)]


@pytest.fixture
def viewer(served: Served) -> FlaskClient:
    client = served.app.test_client()
    login(client, served.tokens[TokenRole.VIEWER])
    return client


@pytest.fixture
def operator(served: Served) -> FlaskClient:
    client = served.app.test_client()
    login(client, served.tokens[TokenRole.OPERATOR])
    return client


@pytest.fixture
def anonymous(open_served: Served) -> FlaskClient:
    return open_served.app.test_client()


def repo_path(*parts: str) -> Path:
    return Path(__file__).resolve().parents[2].joinpath(*parts)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with serve_receiver() as state:
        yield state


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=BROWSER_ARGS)
    try:
        yield chromium
    finally:
        chromium.close()
