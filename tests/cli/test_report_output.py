"""What `run` and `chaos` share: the report on stdout or in ``--output``, and the stored source."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from service.cli import EXIT_INVALID, EXIT_OK, EXIT_REGRESSION, cli, main
from service.cli.chaos import chaos_command
from service.cli.report_output import scenario_source_text
from service.cli.run import run_command
from service.store import Scenario, ScenarioRevision, make_engine, make_session_factory

SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"
# The workshop holds on the simulator; the microservices scenario documents a regression.
RUN_HOLDS = ("run", str(SCENARIOS / "calico-workshop.yaml"))
RUN_REGRESSES = ("run", str(SCENARIOS / "microservices.yaml"))
CHAOS_HOLDS = ("chaos", str(SCENARIOS / "chaos-workshop.yaml"), "--step", "churn-to-allow-pod")


@pytest.fixture(autouse=True)
def _commands() -> None:
    cli.add_command(run_command)
    cli.add_command(chaos_command)


def _cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.mark.parametrize(
    ("command", "code", "status"),
    [
        (RUN_HOLDS, EXIT_OK, "OK"),
        (RUN_REGRESSES, EXIT_REGRESSION, "FAILED"),
        (CHAOS_HOLDS, EXIT_OK, "OK"),
    ],
    ids=["run-holds", "run-regresses", "chaos-holds"],
)
def test_the_output_file_holds_what_stdout_would_and_stderr_says_how_it_went(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    command: tuple[str, ...],
    code: int,
    status: str,
) -> None:
    printed_code, printed, _ = _cli(capsys, *command, "--no-store")
    target = tmp_path / "report.txt"
    written_code, out, err = _cli(capsys, *command, "--no-store", "--output", str(target))
    assert (printed_code, written_code) == (code, code), err
    assert out == ""
    assert target.read_text(encoding="utf-8") == printed
    assert err.splitlines()[-1] == f"wrote {target}: {status}"


@pytest.mark.parametrize("command", [RUN_HOLDS, CHAOS_HOLDS], ids=["run", "chaos"])
def test_an_output_file_that_cannot_be_written_is_invalid_input_with_nothing_on_stdout(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, command: tuple[str, ...]
) -> None:
    target = tmp_path / "missing" / "report.txt"
    code, out, err = _cli(capsys, *command, "--no-store", "--output", str(target))
    assert code == EXIT_INVALID
    assert out == ""
    assert err.splitlines()[-1] == (
        "error: --output: cannot write the report: No such file or directory"
    )
    assert not target.parent.exists()


def test_run_and_chaos_store_the_scenario_file_as_written(
    capsys: pytest.CaptureFixture[str], store_database: Path
) -> None:
    for command in (RUN_HOLDS, CHAOS_HOLDS):
        code, _, err = _cli(capsys, *command)
        assert code == EXIT_OK, err
    engine = make_engine(f"sqlite:///{store_database}")
    try:
        with make_session_factory(engine)() as session:
            rows = session.execute(
                select(Scenario.name, ScenarioRevision.source_text).join(
                    ScenarioRevision, ScenarioRevision.scenario_id == Scenario.id
                )
            )
            stored = {row.name: row.source_text for row in rows}
    finally:
        engine.dispose()
    # Without the file's text the store would keep the canonical JSON document instead.
    assert stored == {
        "calico-workshop": (SCENARIOS / "calico-workshop.yaml").read_text(encoding="utf-8"),
        "chaos-workshop": (SCENARIOS / "chaos-workshop.yaml").read_text(encoding="utf-8"),
    }


def test_a_scenario_source_that_cannot_be_read_as_utf8_text_is_none(tmp_path: Path) -> None:
    latin1 = tmp_path / "latin1.yaml"
    latin1.write_bytes("name: caf\u00e9\n".encode("latin-1"))
    utf8 = tmp_path / "utf8.yaml"
    utf8.write_text("name: caf\u00e9\n", encoding="utf-8")
    assert scenario_source_text(latin1) is None
    assert scenario_source_text(tmp_path / "absent.yaml") is None
    assert scenario_source_text(utf8) == "name: caf\u00e9\n"
