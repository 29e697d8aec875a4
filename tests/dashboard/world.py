"""A database filled by real runs of the ready scenarios, for the dashboard's tests and screenshots.

Every run goes the way every run goes (service.runs: a stored revision, a
queued run, shards executed on the simulated cluster, finished by counting).
What is in it, and known before looking at any page:

- ``calico-workshop``: three clean runs, then a run where the dataplane fails
  open while ``deny-all`` is applied (an injected drift: the version's policy
  did not change, so it is alarm drift, and regressions);
- ``microservices``: two runs, the second with lossy probes (retries, flaky cells);
- ``xss-demo`` (written here): a scenario whose description, version
  descriptions, schedule and webhook carry HTML and script, to be shown as text;
- schedules for the workshop (enabled) and xss-demo (disabled), and a webhook.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from service.cluster.faults import EnforcementWindow, FaultConfig, WindowMode
from service.notify.webhooks import WebhookSpec, create_webhook
from service.runs.create import RunRequest, create_run
from service.runs.dispatch import InProcessDispatcher
from service.runs.schedules import ScheduleSpec, create_schedule
from service.runs.settings import RunSettings, SimulatorSettings
from service.runs.transactions import writing
from service.scenario.load import load_scenario
from service.scenario.model import Scenario
from service.store.enums import Trigger
from service.store.models import Scenario as ScenarioRow
from service.store.notify_models import WebhookFormat

ROOT: Final = Path(__file__).resolve().parents[2]
SCENARIOS: Final = ROOT / "scenarios"
# What must show as text, never run: the page's script sets a flag if it ever runs.
SCRIPT: Final = "<script>document.documentElement.dataset.pwned='script'</script>"
IMAGE: Final = "<img src=x onerror=\"document.documentElement.dataset.pwned='img'\">"
BOLD: Final = "<b>bold</b> & co"

XSS_SCENARIO: Final = f"""\
name: xss-demo
description: |
  Names and notes may hold anything: {SCRIPT}
  and {IMAGE}
namespaces:
  dev: {{team: dev}}
targets:
  - name: api
    namespace: dev
    labels: {{app: api}}
    ports: [{{port: 80}}]
matrix:
  sources:
    client: {{app: client}}
versions:
  - name: open
    description: "{BOLD} {IMAGE.replace('"', "'")}"
"""


@dataclass(frozen=True, slots=True)
class World:
    """Ids of what was stored, for tests to look up."""

    scenarios: dict[str, int] = field(default_factory=dict)
    runs: dict[str, list[int]] = field(default_factory=dict)
    schedules: dict[str, int] = field(default_factory=dict)
    webhooks: dict[str, int] = field(default_factory=dict)

    @property
    def drifted_run(self) -> int:
        """The workshop run with the injected drift (fail-open under deny-all)."""
        return self.runs["calico-workshop"][-1]


def stored_run(
    sessions: sessionmaker[Session],
    dispatcher: InProcessDispatcher,
    scenario: Scenario,
    *,
    faults: FaultConfig | None = None,
    attempts: int = 1,
    trigger: Trigger = Trigger.CLI,
    at: datetime | None = None,
) -> int:
    """Run ``scenario`` to the end on the simulator; ``at`` backdates its creation."""
    settings = RunSettings(
        attempts=attempts,
        retry_interval_s=0.5,
        simulator=SimulatorSettings(faults=faults if faults is not None else FaultConfig()),
    )
    request = RunRequest(scenario=scenario, trigger=trigger, settings=settings)
    created = create_run(sessions, request, now=at)
    dispatcher.run(created.run_id, created.shard_keys)
    return created.run_id


def fail_open(version: str) -> FaultConfig:
    return FaultConfig(windows=(EnforcementWindow(version=version, mode=WindowMode.FAIL_OPEN),))


def build_world(
    sessions: sessionmaker[Session], tmp: Path, *, now: datetime | None = None
) -> World:
    world = World()
    workshop = load_scenario(SCENARIOS / "calico-workshop.yaml")
    micro = load_scenario(SCENARIOS / "microservices.yaml")
    with InProcessDispatcher(sessions) as dispatcher:
        runs = world.runs.setdefault("calico-workshop", [])
        for _ in range(3):
            runs.append(stored_run(sessions, dispatcher, workshop))
        runs.append(stored_run(sessions, dispatcher, workshop, faults=fail_open("deny-all")))
        micro_runs = world.runs.setdefault("microservices", [])
        micro_runs.append(stored_run(sessions, dispatcher, micro))
        micro_runs.append(
            stored_run(
                sessions,
                dispatcher,
                micro,
                faults=FaultConfig(seed=7, probe_loss_rate=0.2),
                attempts=3,
            )
        )
    add_extras(sessions, tmp, world, now=now)
    return world


def add_extras(
    sessions: sessionmaker[Session], tmp: Path, world: World, *, now: datetime | None = None
) -> None:
    """The xss-demo scenario and its run, the schedules and the webhook; every scenario's id."""
    xss_path = tmp / "xss-demo.yaml"
    xss_path.write_text(XSS_SCENARIO, encoding="utf-8")
    xss = load_scenario(xss_path)
    with InProcessDispatcher(sessions) as dispatcher:
        world.runs.setdefault("xss-demo", []).append(stored_run(sessions, dispatcher, xss))
    at = now if now is not None else datetime.now(UTC)
    with writing(sessions) as session:
        for row in session.scalars(select(ScenarioRow)):
            world.scenarios[row.name] = row.id
        nightly = create_schedule(
            session,
            ScheduleSpec(
                scenario_id=world.scenarios["calico-workshop"], name="nightly", cron="0 2 * * *"
            ),
            now=at,
        )
        odd = create_schedule(
            session,
            ScheduleSpec(
                scenario_id=world.scenarios["xss-demo"],
                name=f"weekly {SCRIPT}",
                cron="30 4 * * 1",
                timezone="Europe/Stockholm",
                enabled=False,
            ),
            now=at,
        )
        world.schedules.update({"nightly": nightly.id, "odd": odd.id})
        hook = create_webhook(
            session,
            WebhookSpec(
                name=f"team {BOLD}",
                url="https://hooks.slack.com/services/T0001/B0002/SECRETSECRETSECRET",
                format=WebhookFormat.SLACK,
                scenario_id=world.scenarios["xss-demo"],
            ),
        )
        world.webhooks["slack"] = hook.id
