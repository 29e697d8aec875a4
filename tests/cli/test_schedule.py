"""`netpol-drift schedule`: add, list, disable, enable and tick on the embedded database."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from service.cli import EXIT_INVALID, EXIT_OK, cli, main
from service.cli.schedule import schedule

WORKSHOP = Path(__file__).resolve().parents[2] / "scenarios" / "calico-workshop.yaml"


@pytest.fixture(autouse=True)
def _commands() -> None:
    cli.add_command(schedule)


def _cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_a_schedule_is_added_listed_disabled_and_enabled(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _ = _cli(
        capsys,
        "schedule",
        "add",
        str(WORKSHOP),
        "--cron",
        "30 2 * * *",
        "--timezone",
        "Europe/Berlin",
    )
    assert code == EXIT_OK
    found = re.search(
        r"schedule (\d+) \(calico-workshop/nightly\): 30 2 \* \* \* Europe/Berlin", out
    )
    assert found is not None, out
    schedule_id = found.group(1)

    code, out, _ = _cli(capsys, "schedule", "list")
    assert code == EXIT_OK
    assert "calico-workshop/nightly" in out
    assert out.count("next:") == 1
    assert len(re.findall(r"\d{4}-\d\d-\d\dT\d\d:\d\d:00\+00:00", out)) == 3

    assert _cli(capsys, "schedule", "disable", schedule_id)[0] == EXIT_OK
    assert "disabled" in _cli(capsys, "schedule", "list")[1]
    code, out, _ = _cli(capsys, "schedule", "enable", schedule_id)
    assert (code, "enabled; next run" in out) == (EXIT_OK, True)


def test_a_bad_cron_is_refused_naming_the_field(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _cli(capsys, "schedule", "add", str(WORKSHOP), "--cron", "0 25 * * *")
    assert code == EXIT_INVALID
    assert out == ""
    assert "cron" in err
    assert "out of range" in err


def test_tick_with_nothing_due_says_so(capsys: pytest.CaptureFixture[str]) -> None:
    _cli(capsys, "schedule", "add", str(WORKSHOP), "--cron", "0 0 1 1 *")
    code, out, _ = _cli(capsys, "schedule", "tick")
    assert (code, out.strip()) == (EXIT_OK, "nothing due")
