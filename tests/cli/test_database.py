"""Every command that stores opens the database one way: a database it cannot use is
invalid input naming $NETPOL_DRIFT_DATABASE_URL, not a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from service.cli import EXIT_INVALID, main
from service.store.engine import DATABASE_URL_ENV

REPO = Path(__file__).resolve().parents[2]
WORKSHOP = REPO / "scenarios" / "calico-workshop.yaml"
CHAOS = REPO / "scenarios" / "chaos-workshop.yaml"


@pytest.mark.parametrize(
    "args",
    [
        ("run", str(WORKSHOP)),
        ("chaos", str(CHAOS), "--step", "churn-to-allow-pod"),
        ("schedule", "list"),
        ("token", "list"),
    ],
    ids=["run", "chaos", "schedule", "token"],
)
def test_an_unusable_database_is_invalid_input_naming_the_variable(
    args: tuple[str, ...],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Nothing listens on port 1: the connection is refused at once.
    monkeypatch.setenv(DATABASE_URL_ENV, "postgresql+psycopg://postgres:secret@127.0.0.1:1/none")

    code = main(list(args))

    captured = capsys.readouterr()
    assert code == EXIT_INVALID
    assert (
        f"error: {DATABASE_URL_ENV}: cannot use the database"
        " postgresql+psycopg://postgres:***@127.0.0.1:1/none: " in captured.err
    ), captured.err
    assert "secret" not in captured.err
