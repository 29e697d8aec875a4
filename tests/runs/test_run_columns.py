"""A stored run's columns (what drift, flakes and history read) agree with its full record."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from service.compare import flaky_within_run
from service.queries.records import run_columns, run_record
from service.runs.dispatch import InProcessDispatcher
from service.runs.planning import PlanCache
from service.store import CellResult
from tests.runs.test_runs import create, e2e_model, lossy


@pytest.mark.parametrize("backend", ["pg", "lite"])
def test_columns_mark_flaky_the_cells_whose_stored_attempts_disagree(
    backend: str, request: pytest.FixtureRequest
) -> None:
    sessions: sessionmaker[Session] = request.getfixturevalue(backend)
    plans = PlanCache()
    created = create(sessions, e2e_model(), lossy(attempts=3), plans)
    with InProcessDispatcher(sessions, plans=plans) as dispatcher:
        dispatcher.run(created.run_id, created.shard_keys)
    with sessions() as session:
        columns = run_columns(session, created.run_id)
        record = run_record(session, created.run_id)
        stored = session.scalars(
            select(CellResult).where(CellResult.run_id == created.run_id)
        ).all()
    assert columns is not None
    assert record is not None
    # What the ORM decodes from the stored attempts, independently of run_columns.
    disagreeing = {
        row.cell_key
        for row in stored
        if row.attempt_details is not None and len({a["observed"] for a in row.attempt_details}) > 1
    }
    assert disagreeing, "the lossy simulator made no cell's attempts disagree"
    flaky = {key for key, f in zip(columns.keys, columns.flaky, strict=True) if f}
    assert flaky == disagreeing | {row.cell_key for row in stored if row.flaky}
    assert flaky == {c.cell_key for c in flaky_within_run(record)}
    assert list(columns.keys) == [c.cell_key for c in record.cells]
    assert list(columns.observed) == [c.observed.value for c in record.cells]
