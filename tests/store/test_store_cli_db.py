"""`netpol-drift db upgrade` and `db current`."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy.engine import make_url

from service.cli.db import db
from service.errors import FieldPath, InvalidInput
from service.store import DATABASE_URL_ENV, current_revision, head_revision


def test_db_upgrade_with_url_migrates_that_database(database_url: str) -> None:
    result = CliRunner().invoke(db, ["upgrade", "--url", database_url])
    assert result.exit_code == 0, result.output
    assert current_revision(database_url) == head_revision()
    assert f"at revision {head_revision()} (head)" in result.output


def test_db_current_tells_an_empty_database_from_one_at_head(database_url: str) -> None:
    runner = CliRunner()
    before = runner.invoke(db, ["current", "--url", database_url])
    assert before.exit_code == 0, before.output
    assert "empty" in before.output
    assert "netpol-drift db upgrade" in before.output

    runner.invoke(db, ["upgrade", "--url", database_url])
    after = runner.invoke(db, ["current", "--url", database_url])
    assert after.exit_code == 0, after.output
    assert f"at revision {head_revision()} (head)" in after.output


def test_db_upgrade_defaults_to_the_configured_database(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    path = tmp_path / "configured.db"
    monkeypatch.setenv(DATABASE_URL_ENV, f"sqlite:///{path}")
    result = CliRunner().invoke(db, ["upgrade"])
    assert result.exit_code == 0, result.output
    assert current_revision(f"sqlite:///{path}") == head_revision()


def test_db_upgrade_never_prints_the_password(empty_postgres_url: str) -> None:
    # The test server trusts local connections, so any password is accepted.
    with_password = make_url(empty_postgres_url).set(password="s3cret-pw")
    url = with_password.render_as_string(hide_password=False)
    result = CliRunner().invoke(db, ["upgrade", "--url", url])
    assert result.exit_code == 0, result.output
    assert "s3cret-pw" not in result.output
    assert "***" in result.output


def test_db_upgrade_refuses_a_bad_url_naming_the_option() -> None:
    result = CliRunner().invoke(db, ["upgrade", "--url", "mysql://db/drift"])
    assert isinstance(result.exception, InvalidInput)
    assert result.exception.problems[0].path == FieldPath(("--url",))


@pytest.mark.parametrize("command", ["upgrade", "current"])
def test_an_unreachable_database_is_a_clear_error(command: str) -> None:
    # Port 1 on localhost: nothing listens, the connection is refused at once.
    url = "postgresql://postgres@127.0.0.1:1/drift"
    result = CliRunner().invoke(db, [command, "--url", url])
    assert result.exit_code == 1
    assert "cannot" in result.output
    assert "127.0.0.1" in result.output


def test_a_bad_configured_url_is_reported_as_the_environment_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(DATABASE_URL_ENV, "oracle://db/drift")
    result = CliRunner().invoke(db, ["current"])
    assert isinstance(result.exception, InvalidInput)
    assert result.exception.problems[0].path == FieldPath((DATABASE_URL_ENV,))
