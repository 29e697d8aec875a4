"""Rendering run results: truth tables with regressions explained, JSON, JUnit XML."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

from service.cluster.faults import EnforcementWindow, FaultConfig, WindowMode
from service.cluster.simulated import SimulatedCluster
from service.policy.model import Protocol
from service.report.results import LEGEND, render_json, render_junit, render_table
from service.runner import RunResult, run_scenario
from service.scenario.model import ProbeSpec, Scenario
from tests.runner.builders import workshop


def _run(scenario: Scenario, faults: FaultConfig | None = None) -> RunResult:
    return run_scenario(scenario, cluster=SimulatedCluster(faults=faults))


def _grid_rows(text: str, version: str) -> dict[str, str]:
    """The rows of the first grid of ``version``'s section: source -> the rest of the line."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"== version {version}"))
    rows = {}
    for line in lines[start + 2 :]:
        if not line.startswith(("development/", "production/")):
            break
        source, rest = line.split(maxsplit=1)
        rows[source] = rest.strip()
    return rows


def test_table_shows_the_observed_verdict_of_each_cell() -> None:
    text = render_table(_run(workshop()))
    assert _grid_rows(text, "allow-pod-namespace") == {
        "development/unlabelled": "X",
        "development/frontend": ".",
        "production/unlabelled": "X",
        "production/frontend": "X",
    }
    assert LEGEND in text
    assert text.rstrip().endswith("OK, every expected verdict and expectation held")


def test_table_brackets_regressions_and_explains_each() -> None:
    window = EnforcementWindow("deny-all", WindowMode.FAIL_OPEN)
    result = _run(workshop(), FaultConfig(windows=(window,)))
    text = render_table(result)
    assert set(_grid_rows(text, "deny-all").values()) == {"[.]"}
    assert "regressions (4):" in text
    for r in result.version("deny-all").regressions:
        assert str(r.cell) in text
        assert r.explanation is not None
        for line in r.explanation.render().splitlines():
            assert line.strip() in text
    assert "expectation failed: workshop 1.5" in text
    assert "FAILED, 4 regressions" in text


def test_table_marks_flaky_cells_and_lists_their_attempts() -> None:
    # Which seeds flake depends on the cell keys; any seed that loses a probe of an
    # allowed cell and then gets it through on a retry will do.
    runs = (_run(workshop(), FaultConfig(seed=seed, probe_loss_rate=0.3)) for seed in range(50))
    result = next(r for r in runs if any(c.flaky for c in r.cells))
    flaky = [r for r in result.cells if r.flaky]
    text = render_table(result)
    assert any(row.endswith("~") for row in _grid_rows(text, flaky[0].cell.version).values())
    assert "flaky (" in text
    assert "timeout" in text


def test_table_lists_invalid_cells_once_with_the_reason() -> None:
    scenario = workshop(probes=[ProbeSpec(80), ProbeSpec(8443, Protocol.TCP)], expectations=[])
    text = render_table(_run(scenario))
    assert "invalid cells, not probed in any version (4):" in text
    assert text.count("does not serve 8443/TCP") == 4


def test_json_holds_every_cell_with_its_attempts() -> None:
    result = _run(workshop())
    data = json.loads(render_json(result))
    assert data["scenario"] == "calico-workshop"
    assert [v["version"] for v in data["versions"]] == [
        "none",
        "deny-all",
        "allow-pod",
        "allow-pod-namespace",
    ]
    cells = [c for v in data["versions"] for c in v["cells"]]
    assert len(cells) == 16
    assert all(len(c["attempts"]) == 1 and c["attempts"][0]["raw"] == c["raw"] for c in cells)


def test_junit_has_one_testcase_per_cell_and_fails_regressions() -> None:
    window = EnforcementWindow("deny-all", WindowMode.FAIL_OPEN)
    scenario = workshop(probes=[ProbeSpec(80), ProbeSpec(8443)], expectations=[])
    result = _run(scenario, FaultConfig(windows=(window,)))
    root = ET.fromstring(render_junit(result))
    cases = root.findall("./testsuite/testcase")
    assert len(cases) == 32
    assert {c.get("classname") for c in cases} == {
        f"calico-workshop.{v}" for v in ("none", "deny-all", "allow-pod", "allow-pod-namespace")
    }
    failures = [c for c in cases if c.find("failure") is not None]
    assert len(failures) == 4
    assert all(c.get("classname") == "calico-workshop.deny-all" for c in failures)
    failure = failures[0].find("failure")
    assert failure is not None
    assert "expected blocked, observed allowed" in (failure.get("message") or "")
    assert "denies all ingress" in (failure.text or "")
    assert len([c for c in cases if c.find("skipped") is not None]) == 16
    assert root.get("tests") == "32"
    assert root.get("failures") == "4"
    name = cases[0].get("name")
    assert name == "development/unlabelled -> development/backend 80/TCP"


def test_junit_reports_errors_apart_from_failures_and_flakes_as_properties() -> None:
    faults = FaultConfig(refusing_targets=frozenset({"development/backend"}))
    root = ET.fromstring(render_junit(_run(workshop(), faults)))
    errors = root.findall("./testsuite/testcase/error")
    assert errors
    assert {e.get("type") for e in errors} == {"refused"}
    assert root.get("errors") == str(len(errors))

    runs = (_run(workshop(), FaultConfig(seed=seed, probe_loss_rate=0.3)) for seed in range(50))
    lossy = next(r for r in runs if r.counts.flaky)
    root = ET.fromstring(render_junit(lossy))
    flaky = root.findall("./testsuite/testcase/properties/property[@name='flaky'][@value='true']")
    assert len(flaky) == lossy.counts.flaky > 0


def test_table_lists_each_explicit_expectation_as_held_or_failed() -> None:
    window = EnforcementWindow("deny-all", WindowMode.FAIL_OPEN)
    text = render_table(_run(workshop(), FaultConfig(windows=(window,))))
    section = text.split("== version deny-all")[1].split("== version")[0]
    assert "explicit expectations: 0 of 1 held" in section
    assert (
        "  FAILED development/unlabelled -> development/backend 80/TCP: expected blocked, "
        "observed allowed  (workshop 1.5"
    ) in section

    clean = render_table(_run(workshop()))
    assert "FAILED" not in clean
    headers = [line.split() for line in clean.splitlines() if line.startswith("explicit exp")]
    held = sum(int(words[2]) for words in headers)
    assert held == sum(int(words[4]) for words in headers) > 0
    assert clean.count("\n  held   ") == held
