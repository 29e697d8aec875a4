"""`netpol-drift chaos` on the simulator: reports, exit status, storing, refusals."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from sqlalchemy import func, select

from service.cli import EXIT_INVALID, EXIT_OK, EXIT_REGRESSION, cli, main
from service.cli.chaos import chaos_command
from service.store import ChaosExperiment, make_engine, make_session_factory

READY = Path(__file__).resolve().parents[2] / "scenarios" / "chaos-workshop.yaml"
STORED = re.compile(r"stored as chaos experiment (\d+) in ")


@pytest.fixture(autouse=True)
def _command(store_url: str) -> None:
    cli.add_command(chaos_command)


def _cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["chaos", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _experiments(url: str) -> int:
    engine = make_engine(url)
    try:
        with make_session_factory(engine)() as session:
            return session.scalar(select(func.count()).select_from(ChaosExperiment)) or 0
    finally:
        engine.dispose()


def test_the_workshop_holds_every_step_on_a_quiet_simulator(
    capsys: pytest.CaptureFixture[str], store_url: str
) -> None:
    code, out, err = _cli(capsys, str(READY))
    assert code == EXIT_OK, err
    assert "5 steps: 5 held, 0 did not; OK" in out
    for step in ("churn-to-allow-pod", "backend-rescheduled", "development-egress-lockdown"):
        assert re.search(rf"^{step}\s+held\s", out, re.MULTILINE), out
    assert STORED.search(err)
    assert _experiments(store_url) == 1


def test_a_window_before_isolation_fails_the_run_and_is_shown(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _ = _cli(
        capsys,
        str(READY),
        "--step",
        "backend-rescheduled",
        "--pod-start",
        "1",
        "--isolation-delay",
        "2",
        "--no-store",
    )
    assert code == EXIT_REGRESSION
    assert re.search(
        r"^backend-rescheduled\s+NOT HELD\s+3\.\d\d s\s+0\.00 s\s+2\.\d\d s", out, re.M
    )
    assert (
        "development/unlabelled -> development/backend 80/TCP (expected blocked): fail-open" in out
    )


def test_json_reports_every_phase_and_window(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _cli(
        capsys,
        str(READY),
        "--format",
        "json",
        "--step",
        "production-relabelled",
        "--programming-delay",
        "uniform:0.5,1.5",
        "--seed",
        "4",
        "--no-store",
    )
    assert code == EXIT_OK
    report = json.loads(out)
    (step,) = report["steps"]
    assert [p["phase"] for p in step["phases"]] == ["before", "action", "rollback"]
    action = step["phases"][1]
    assert action["converged"]
    assert 0.5 <= action["convergence_s"] < 1.5 + report["interval_s"] + 0.5
    stale = action["windows"]["stale-closed"]
    assert len(stale["cells"]) == 1
    assert report["baseline_phase"]["phase"] == "baseline"


def test_an_unknown_step_is_invalid_input(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _cli(capsys, str(READY), "--step", "nope", "--no-store")
    assert code == EXIT_INVALID
    assert out == ""
    assert "unknown step 'nope'" in err


def test_a_calico_restart_without_both_opt_ins_is_refused(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    text = READY.read_text().replace(
        "    # - name: calico-node-restart\n    #   restart_calico: {}\n",
        "    - name: calico-node-restart\n      restart_calico: {}\n",
    )
    text = text.replace("  hold: 2 ", "  allow_calico_restart: true\n  hold: 2 ")
    scenario = tmp_path / "chaos-workshop.yaml"
    scenario.write_text(text)
    shutil.copytree(READY.parent / "calico-workshop", tmp_path / "calico-workshop")
    code, _, err = _cli(capsys, str(scenario), "--step", "calico-node-restart", "--no-store")
    assert code == EXIT_INVALID
    assert "--allow-calico-restart on the command line" in err
    code, out, err = _cli(
        capsys,
        str(scenario),
        "--step",
        "calico-node-restart",
        "--allow-calico-restart",
        "--restart-blackout",
        "1.5",
        "--blackout-mode",
        "blocked",
        "--no-store",
    )
    assert code == EXIT_REGRESSION, err
    assert re.search(r"^calico-node-restart\s+NOT HELD\s.*-\s+1\.\d\d s \(1 cell\)$", out, re.M)


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("--programming-delay", "soon", "--programming-delay: expected seconds"),
        ("--isolation-delay", "uniform:2,1", "--isolation-delay: expected low <= high"),
        ("--settle", "5", "--settle: only applies to `netpol-drift run`"),
        ("--probe-mode", "service-ip", "--probe-mode: only applies to a Kubernetes cluster"),
    ],
)
def test_options_that_do_not_fit_are_refused(
    capsys: pytest.CaptureFixture[str], option: str, value: str, message: str
) -> None:
    code, out, err = _cli(capsys, str(READY), option, value, "--no-store")
    assert code == EXIT_INVALID
    assert out == ""
    assert message in err
