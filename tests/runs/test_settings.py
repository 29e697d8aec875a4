"""Run settings survive the trip through the run's JSON and refuse what does not fit."""

from __future__ import annotations

import json

import pytest

from service.cluster.faults import EnforcementWindow, FaultConfig, WindowMode
from service.errors import InvalidInput
from service.runs.settings import RunSettings, SimulatorSettings

FULL = RunSettings(
    versions=("deny-all",),
    sources=("frontend",),
    targets=("backend",),
    attempts=2,
    retry_interval_s=0.25,
    sources_per_shard=3,
    deadline_s=120.0,
    simulator=SimulatorSettings(
        faults=FaultConfig(
            seed=9,
            probe_loss_rate=0.1,
            exec_failure_rate=0.05,
            enforcement_delay_s=2.0,
            windows=(EnforcementWindow("deny-all", WindowMode.FAIL_OPEN, 1.0, 3.0),),
            refusing_targets=frozenset({"development/backend"}),
        ),
        timeout_ms=500.0,
        exec_overhead_ms=5.0,
        pace_s=0.1,
    ),
)


@pytest.mark.parametrize("settings", [RunSettings(), FULL], ids=["defaults", "everything"])
def test_settings_come_back_equal_from_their_json(settings: RunSettings) -> None:
    stored = json.loads(json.dumps(settings.to_json()))
    assert RunSettings.from_json(stored) == settings


def test_missing_fields_take_their_defaults() -> None:
    assert RunSettings.from_json({}) == RunSettings()
    assert RunSettings.from_json(None) == RunSettings()


BAD: list[tuple[dict[str, object], str]] = [
    ({"attempts": 0}, "options.attempts"),
    ({"attempts": "3"}, "options.attempts"),
    ({"retry_interval_s": -1}, "options.retry_interval_s"),
    ({"sources_per_shard": True}, "options.sources_per_shard"),
    ({"deadline_s": 0}, "options.deadline_s"),
    ({"versions": "deny-all"}, "options.versions"),
    ({"sources": [""]}, "options.sources[0]"),
    ({"bogus": 1}, "options.bogus"),
    ({"simulator": {"faults": {"probe_loss_rate": 2}}}, "options.simulator.faults.probe_loss_rate"),
    (
        {"simulator": {"faults": {"windows": [{"version": "v", "mode": "x"}]}}},
        "options.simulator.faults.windows[0].mode",
    ),
    ({"simulator": {"pace_s": -0.5}}, "options.simulator.pace_s"),
]


@pytest.mark.parametrize(("data", "path"), BAD, ids=[p for _, p in BAD])
def test_bad_settings_are_refused_naming_the_field(data: dict[str, object], path: str) -> None:
    with pytest.raises(InvalidInput) as raised:
        RunSettings.from_json(data)
    assert path in [str(p.path) for p in raised.value.problems]
