"""`netpol-drift run` stores its runs in the embedded default database (or where it is told)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from sqlalchemy import func, select

from service.cli import EXIT_OK, EXIT_REGRESSION, cli, main
from service.cli.run import run_command
from service.store import (
    CellResult,
    Run,
    RunStatus,
    Trigger,
    make_engine,
    make_session_factory,
)

WORKSHOP = Path(__file__).resolve().parents[2] / "scenarios" / "calico-workshop.yaml"
STORED = re.compile(r"stored as run (\d+) in (\S+)")


@pytest.fixture(autouse=True)
def _commands() -> None:
    cli.add_command(run_command)


def _cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _run(database: Path, run_id: int) -> tuple[Run, int]:
    engine = make_engine(f"sqlite:///{database}")
    try:
        with make_session_factory(engine)() as session:
            cells = session.scalar(
                select(func.count()).select_from(CellResult).where(CellResult.run_id == run_id)
            )
            return session.get_one(Run, run_id), int(cells or 0)
    finally:
        engine.dispose()


def test_a_run_is_stored_and_its_id_printed_on_stderr(
    capsys: pytest.CaptureFixture[str], store_database: Path
) -> None:
    code, out, err = _cli(capsys, "run", str(WORKSHOP))
    assert code == EXIT_OK
    found = STORED.search(err)
    assert found is not None, err
    assert found.group(2) == f"sqlite:///{store_database}"
    assert "stored as run" not in out
    run, cells = _run(store_database, int(found.group(1)))
    assert (run.status, run.trigger, run.planned_cells, cells) == (
        RunStatus.SUCCEEDED,
        Trigger.CLI,
        16,
        16,
    )


def test_a_failing_run_is_stored_as_failed_with_its_regressions(
    capsys: pytest.CaptureFixture[str], store_database: Path
) -> None:
    code, _, err = _cli(capsys, "run", str(WORKSHOP), "--fail-open", "deny-all")
    assert code == EXIT_REGRESSION
    found = STORED.search(err)
    assert found is not None
    run, _ = _run(store_database, int(found.group(1)))
    assert (run.status, run.regressions, run.error) == (RunStatus.FAILED, 4, None)


def test_the_stored_report_is_the_report_of_an_unstored_run(
    capsys: pytest.CaptureFixture[str], store_database: Path
) -> None:
    args = ["run", str(WORKSHOP), "--format", "json", "--seed", "3", "--probe-loss", "0.3"]
    stored = _cli(capsys, *args)
    unstored = _cli(capsys, *args, "--no-store")
    assert stored[0] == unstored[0]

    # Attempt times count from the start of each shard when stored, from the start of
    # the run when not; everything the cells show otherwise is the same.
    def cells(text: str) -> list[dict[str, object]]:
        data = json.loads(text)
        out = []
        for version in data["versions"]:
            for cell in version["cells"]:
                cell["attempts"] = [{**a, "at_s": None} for a in cell["attempts"]]
                out.append(cell)
        return out

    assert cells(stored[1]) == cells(unstored[1])
    assert "stored as run" not in unstored[2]


def test_no_store_leaves_no_database_behind(
    capsys: pytest.CaptureFixture[str], store_database: Path
) -> None:
    code, _, err = _cli(capsys, "run", str(WORKSHOP), "--no-store")
    assert code == EXIT_OK
    assert not store_database.exists()
    assert "stored as run" not in err


def test_runs_of_the_same_scenario_share_one_revision(
    capsys: pytest.CaptureFixture[str], store_database: Path
) -> None:
    ids = []
    for _ in range(2):
        found = STORED.search(_cli(capsys, "run", str(WORKSHOP))[2])
        assert found is not None
        ids.append(int(found.group(1)))
    first, _ = _run(store_database, ids[0])
    second, _ = _run(store_database, ids[1])
    assert ids[1] == ids[0] + 1
    assert first.revision_id == second.revision_id
