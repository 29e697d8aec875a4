"""Planner statistics after a run's bulk write: analyzed when the write is large, by
autovacuum's rule, on the real PostgreSQL (``pg_class.reltuples`` is what the planner
believes a table holds); nothing to do on SQLite; a failure never fails the run."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from service.runs.dispatch import InProcessDispatcher
from service.runs.settings import RunSettings
from service.store.enums import RunStatus
from service.store.statistics import refresh_after_write, stale
from tests.runs.test_runs import create, e2e_model, run_row

TABLES = ("cell_results", "revision_cells")


@pytest.mark.parametrize(
    ("written", "known_rows", "expected"),
    [
        (51, -1.0, True),  # never analyzed: counted as empty, so over the threshold of 50
        (50, -1.0, False),
        (50, 0.0, False),
        (10_000, 0.0, True),
        (10_000, 99_000.0, True),  # 50 + 9,900 < 10,000
        (10_000, 100_000.0, False),  # 50 + 10,000: a year of runs is autovacuum's to do
        (12, 1944.0, False),
    ],
)
def test_written_rows_make_statistics_stale_by_autovacuums_rule(
    written: int, known_rows: float, expected: bool
) -> None:
    assert stale(written=written, known_rows=known_rows, threshold=50, scale_factor=0.1) is expected


def _believed_rows(sessions: sessionmaker[Session]) -> dict[str, float]:
    with sessions() as session:
        rows = session.execute(
            text("SELECT relname, reltuples FROM pg_class WHERE relname = ANY(:names)"),
            {"names": list(TABLES)},
        ).all()
    return {str(name): float(count) for name, count in rows}


def _run(sessions: sessionmaker[Session], settings: RunSettings | None = None) -> int:
    created = create(sessions, e2e_model(), settings)
    with InProcessDispatcher(sessions) as dispatcher:
        dispatcher.run(created.run_id, created.shard_keys)
    assert run_row(sessions, created.run_id).status is RunStatus.SUCCEEDED
    return created.run_id


def test_closing_a_large_run_analyzes_what_it_wrote(pg: sessionmaker[Session]) -> None:
    assert all(rows <= 0 for rows in _believed_rows(pg).values())  # a new database
    _run(pg)  # 1,944 cells, the revision's as many
    assert _believed_rows(pg) == {"cell_results": 1944.0, "revision_cells": 1944.0}

    # Twelve more cells are not worth it (50 + 10% of 1,944): the planner's count stays.
    narrowed = RunSettings(versions=("deny-all-ingress-x",), sources=("a",), targets=("x-b",))
    _run(pg, narrowed)
    assert _believed_rows(pg)["cell_results"] == 1944.0
    with pg() as session:
        assert session.scalar(text("SELECT count(*) FROM cell_results")) == 1944 + 12


def test_sqlite_needs_nothing(
    lite: sessionmaker[Session], caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="service.store.statistics"):
        assert refresh_after_write(lite, tables=TABLES, written=10_000) == ()
    assert caplog.records == []  # not tried and failed: not tried


def test_a_failed_analyze_is_logged_not_raised(
    pg: sessionmaker[Session], caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="service.store.statistics"):
        assert refresh_after_write(pg, tables=("no_such_table",), written=10_000) == ()
    assert "ANALYZE no_such_table after writing 10000 rows failed" in caplog.text
