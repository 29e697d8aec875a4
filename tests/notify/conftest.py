"""Notification tests run real runs of the ready scenarios into a SQLite file of their own,
and deliver to a webhook receiver on localhost (a tiny http.server in a thread)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from service.cluster.faults import FaultConfig
from service.runs.create import RunRequest, create_run
from service.runs.dispatch import InProcessDispatcher
from service.runs.settings import RunSettings, SimulatorSettings
from service.scenario.load import load_scenario
from service.scenario.model import Scenario
from service.store import make_engine, make_session_factory, upgrade
from service.store.enums import Trigger
from tests.dashboard.world import SCENARIOS
from tests.notify.receiver import Receiver, serve_receiver

__all__ = ["Receiver", "receiver", "run_once", "workshop"]


@pytest.fixture
def sessions(tmp_path: Path) -> Iterator[sessionmaker[Session]]:
    url = f"sqlite:///{tmp_path / 'netpol-drift.db'}"
    upgrade(url)
    engine = make_engine(url)
    try:
        yield make_session_factory(engine)
    finally:
        engine.dispose()


def workshop() -> Scenario:
    return load_scenario(SCENARIOS / "calico-workshop.yaml")


def run_once(
    sessions: sessionmaker[Session],
    scenario: Scenario,
    *,
    faults: FaultConfig | None = None,
    attempts: int = 1,
    schedule_id: int | None = None,
) -> int:
    """Create a run and execute it in this process; its id once it is closed."""
    settings = RunSettings(
        attempts=attempts,
        retry_interval_s=0.5,
        simulator=SimulatorSettings(faults=faults if faults is not None else FaultConfig()),
    )
    created = create_run(
        sessions,
        RunRequest(
            scenario=scenario, trigger=Trigger.CLI, settings=settings, schedule_id=schedule_id
        ),
    )
    with InProcessDispatcher(sessions) as dispatcher:
        dispatcher.run(created.run_id, created.shard_keys)
    return created.run_id


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with serve_receiver() as state:
        yield state
