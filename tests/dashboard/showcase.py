"""A richer world for the screenshots: two weeks of nightly runs with a story in them.

- ``calico-workshop``: nightly runs; one night the dataplane fails open under
  ``deny-all`` (alarm drift and regressions) and recovers the night after (alarm
  drift again); later the ``allow-pod`` policy is edited (expected drift); a
  night of lossy probes leaves flaky cells;
- ``microservices``: three nights, the last with lossy probes;
- ``platform-large``: a generated scenario of 2,880 cells per version (drawn on
  canvases), two nights;
- ``xss-demo``: as in tests.dashboard.world, with its schedule and webhook.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from bench.scenarios import synthetic_scenario
from service.cluster.faults import FaultConfig
from service.runs.dispatch import InProcessDispatcher
from service.scenario.hashing import scenario_hash
from service.scenario.load import load_scenario
from service.scenario.model import Scenario
from service.store.enums import Trigger
from tests.dashboard.world import SCENARIOS, World, add_extras, fail_open, stored_run

__all__ = ["build_showcase"]


def _edited(scenario: Scenario) -> Scenario:
    """``allow-pod`` given ``allow-pod-namespace``'s policies: a new revision, same cells."""
    source = scenario.version("allow-pod-namespace")
    versions = tuple(
        replace(v, policies=source.policies, content_hash=source.content_hash)
        if v.name == "allow-pod"
        else v
        for v in scenario.versions
    )
    edited = replace(scenario, versions=versions)
    return replace(edited, content_hash=scenario_hash(edited))


def build_showcase(sessions: sessionmaker[Session], tmp: Path) -> World:
    today = datetime.now(UTC).replace(hour=2, minute=0, second=0, microsecond=0)
    nights = [today - timedelta(days=14 - i) for i in range(14)]
    workshop = load_scenario(SCENARIOS / "calico-workshop.yaml")
    edited = _edited(workshop)
    micro = load_scenario(SCENARIOS / "microservices.yaml")
    generated = synthetic_scenario(namespaces=4, sources=12, targets=30, versions=2)
    large = replace(generated, name="platform-large", description="Generated: 4 teams.")
    large = replace(large, content_hash=scenario_hash(large))
    lossy = FaultConfig(seed=11, probe_loss_rate=0.3)
    runs: dict[str, list[int]] = {}
    with InProcessDispatcher(sessions) as dispatcher:
        story = runs.setdefault("calico-workshop", [])
        for night, at in enumerate(nights):
            scenario = edited if night >= 9 else workshop
            faults = fail_open("deny-all") if night == 5 else lossy if night == 11 else None
            story.append(
                stored_run(
                    sessions,
                    dispatcher,
                    scenario,
                    faults=faults,
                    attempts=3,
                    trigger=Trigger.SCHEDULE,
                    at=at,
                )
            )
        for night, at in enumerate(nights[-3:]):
            runs.setdefault("microservices", []).append(
                stored_run(
                    sessions,
                    dispatcher,
                    micro,
                    faults=lossy if night == 2 else None,
                    attempts=3,
                    trigger=Trigger.SCHEDULE,
                    at=at + timedelta(minutes=20),
                )
            )
        for night, at in enumerate(nights[-2:]):
            runs.setdefault("platform-large", []).append(
                stored_run(
                    sessions,
                    dispatcher,
                    large,
                    faults=fail_open("v01") if night == 1 else None,
                    trigger=Trigger.SCHEDULE,
                    at=at + timedelta(minutes=40),
                )
            )
    world = World(runs=runs)
    add_extras(sessions, tmp, world)
    return world
