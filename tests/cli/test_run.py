"""`netpol-drift run` and `netpol-drift validate` through the real entry point."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from service.cli import EXIT_INVALID, EXIT_OK, EXIT_REGRESSION, cli, main
from service.cli.run import run_command, validate_command

REPO = Path(__file__).resolve().parents[2]
WORKSHOP = REPO / "scenarios" / "calico-workshop.yaml"

SMALL = """\
name: small
namespaces:
  development: {purpose: development}
  production: {purpose: production}
targets:
  - name: backend
    namespace: development
    labels: {app: webapp, role: backend}
    ports: [{port: 80, name: http}]
matrix:
  sources:
    unlabelled: {}
    frontend: {app: webapp, role: frontend}
versions:
  - name: none
  - name: deny-all
    policies:
      - apiVersion: networking.k8s.io/v1
        kind: NetworkPolicy
        metadata: {name: backend-policy, namespace: development}
        spec:
          podSelector: {matchLabels: {app: webapp, role: backend}}
          ingress: []
expectations:
  - {from: development, source: frontend, to: backend, expect: %s, versions: [deny-all],
     note: frontend after deny-all}
"""


@pytest.fixture(autouse=True)
def _commands() -> None:
    # The lead registers the commands in service.cli; adding them again is harmless.
    cli.add_command(run_command)
    cli.add_command(validate_command)


def _cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _small(tmp_path: Path, expect: str = "blocked") -> Path:
    path = tmp_path / "small.yaml"
    path.write_text(SMALL % expect, encoding="utf-8")
    return path


def test_workshop_run_exits_0_with_every_expectation_holding(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _ = _cli(capsys, "run", str(WORKSHOP))
    assert code == EXIT_OK
    for version in ("none", "deny-all", "allow-pod", "allow-pod-namespace"):
        assert f"== version {version}" in out
    assert "OK, every expected verdict and expectation held" in out
    assert "[" not in out.split("legend:")[0]  # no cell is marked as a regression


def test_version_that_breaks_an_expectation_exits_1_and_explains_it(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, out, _ = _cli(capsys, "run", str(_small(tmp_path, expect="allowed")))
    assert code == EXIT_REGRESSION
    assert "expectation failed: frontend after deny-all" in out
    assert "denies all ingress" in out


def test_injected_fail_open_window_exits_1(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _cli(capsys, "run", str(WORKSHOP), "--fail-open", "deny-all")
    assert code == EXIT_REGRESSION
    assert "[.]" in out


def test_selected_versions_only_are_run(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _cli(capsys, "run", str(WORKSHOP), "--version", "allow-pod")
    assert code == EXIT_OK
    assert "== version allow-pod" in out
    assert "== version deny-all" not in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--version", "allow-all"], "unknown policy version 'allow-all'"),
        (["--fail-open", "allow-all"], "unknown policy version 'allow-all'"),
        (["--refuse", "frontend"], "unknown target 'frontend'"),
        (["--probe-loss", "1.5"], "expected a rate from 0 to 1"),
        (["--attempts", "0"], "expected at least 1"),
        (["--format", "xml"], "xml"),
    ],
)
def test_bad_arguments_exit_2_with_nothing_on_stdout(
    capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    code, out, err = _cli(capsys, "run", str(WORKSHOP), *args)
    assert code == EXIT_INVALID
    assert out == ""
    assert message in err


@pytest.mark.parametrize("command", ["run", "validate"])
def test_invalid_scenario_exits_2_with_nothing_on_stdout(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, command: str
) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text(SMALL.replace("matrix:", "matrx:") % "blocked", encoding="utf-8")
    code, out, err = _cli(capsys, command, str(broken))
    assert code == EXIT_INVALID
    assert out == ""
    assert "broken.yaml" in err


@pytest.mark.parametrize("command", ["run", "validate"])
def test_missing_scenario_file_exits_2(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, command: str
) -> None:
    code, out, err = _cli(capsys, command, str(tmp_path / "absent.yaml"))
    assert code == EXIT_INVALID
    assert out == ""
    assert "absent.yaml" in err


def test_junit_output_has_one_testcase_per_cell(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _cli(capsys, "run", str(WORKSHOP), "--format", "junit")
    assert code == EXIT_OK
    root = ET.fromstring(out)
    cases = root.findall("./testsuite/testcase")
    assert len(cases) == 16
    assert len({(c.get("classname"), c.get("name")) for c in cases}) == 16
    assert root.findall(".//failure") == []


def test_output_file_gets_the_report_and_stdout_stays_empty(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    target = tmp_path / "report.json"
    code, out, err = _cli(capsys, "run", str(WORKSHOP), "--format", "json", "--output", str(target))
    assert code == EXIT_OK
    assert out == ""
    assert str(target) in err
    assert '"scenario": "calico-workshop"' in target.read_text(encoding="utf-8")


def test_same_seed_same_report(capsys: pytest.CaptureFixture[str]) -> None:
    args = ["run", str(WORKSHOP), "--format", "json", "--seed", "7", "--probe-loss", "0.3"]
    first = _cli(capsys, *args)
    second = _cli(capsys, *args)
    # The report and the exit status; stderr names each stored run by its own id.
    assert first[:2] == second[:2]


def test_validate_summarises_versions_and_cells(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _cli(capsys, "validate", str(WORKSHOP))
    assert code == EXIT_OK
    assert "calico-workshop" in out
    assert "cells: 16 planned, 4 per version (4 probed, 0 loopback, 0 invalid)" in out
    assert "deny-all: 1 policy; the engine expects 0 allowed, 4 blocked" in out


def test_validate_exits_1_when_the_policies_contradict_an_expectation(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, out, _ = _cli(capsys, "validate", str(_small(tmp_path, expect="allowed")))
    assert code == EXIT_REGRESSION
    assert "expectations the engine predicts to fail (1)" in out
    assert "frontend after deny-all" in out
