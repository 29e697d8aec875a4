"""The database itself keeps the rules that make runs safe to repeat and history trustworthy."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from enum import StrEnum

import pytest
from sqlalchemy import Engine, func, select, text
from sqlalchemy.exc import IntegrityError, StatementError
from sqlalchemy.orm import Session, sessionmaker

from service.policy.model import Protocol
from service.scenario.cells import RawOutcome
from service.scenario.model import Verdict
from service.store import (
    ApiToken,
    Backend,
    CellResult,
    RevisionCell,
    Run,
    RunStatus,
    RunVersion,
    Scenario,
    ScenarioRevision,
    Schedule,
    TokenRole,
    Trigger,
    insert_ignoring_duplicates,
)
from service.store.writes import bulk_insert_ignoring_duplicates

from .rows import add_run, add_scenario, at, cell_row, revision_cell_row


def _cells(session: Session, run_id: int) -> dict[str, CellResult]:
    rows = session.scalars(select(CellResult).where(CellResult.run_id == run_id))
    return {row.cell_key: row for row in rows}


def test_redelivered_cell_results_are_ignored_by_the_idempotent_insert(
    sessions: sessionmaker[Session],
) -> None:
    with sessions() as session:
        run = add_run(session, add_scenario(session))
        shard = [cell_row(run.id, key) for key in ("k1", "k2", "k3")]
        assert insert_ignoring_duplicates(session, CellResult, shard) == 3
        session.commit()

        # The same shard again, as after a worker died before acknowledging; its
        # probes happened to see something else this time.
        redelivered = [
            cell_row(run.id, key, observed=Verdict.BLOCKED) for key in ("k1", "k2", "k3")
        ]
        assert insert_ignoring_duplicates(session, CellResult, redelivered) == 0
        session.commit()

        stored = _cells(session, run.id)
    assert sorted(stored) == ["k1", "k2", "k3"]
    assert {cell.observed for cell in stored.values()} == {Verdict.ALLOWED}


def test_a_partly_redelivered_shard_stores_only_its_new_cells(
    sessions: sessionmaker[Session],
) -> None:
    with sessions() as session:
        run = add_run(session, add_scenario(session))
        insert_ignoring_duplicates(session, CellResult, [cell_row(run.id, k) for k in ("a", "b")])
        inserted = insert_ignoring_duplicates(
            session, CellResult, [cell_row(run.id, k) for k in ("b", "c")]
        )
        session.commit()
        assert inserted == 1
        assert sorted(_cells(session, run.id)) == ["a", "b", "c"]


def test_the_same_cell_in_another_run_is_its_own_result(sessions: sessionmaker[Session]) -> None:
    with sessions() as session:
        revision = add_scenario(session)
        first, second = add_run(session, revision), add_run(session, revision)
        assert insert_ignoring_duplicates(session, CellResult, [cell_row(first.id, "k")]) == 1
        assert insert_ignoring_duplicates(session, CellResult, [cell_row(second.id, "k")]) == 1
        session.commit()
        history = session.scalars(
            select(CellResult.run_id).where(CellResult.cell_key == "k").order_by(CellResult.run_id)
        ).all()
    assert history == [first.id, second.id]


def test_inserting_no_rows_inserts_nothing(sessions: sessionmaker[Session]) -> None:
    with sessions() as session:
        assert insert_ignoring_duplicates(session, CellResult, []) == 0


def test_a_plain_insert_of_a_duplicate_cell_is_refused(sessions: sessionmaker[Session]) -> None:
    # The idempotent insert relies on this key; a plain INSERT must hit it.
    with sessions() as session:
        run = add_run(session, add_scenario(session))
        session.add(CellResult(**cell_row(run.id, "k")))
        session.commit()
        session.add(CellResult(**cell_row(run.id, "k", observed=Verdict.BLOCKED)))
        with pytest.raises(IntegrityError):
            session.commit()


def _schedule(session: Session, revision: ScenarioRevision) -> Schedule:
    schedule = Schedule(scenario_id=revision.scenario_id, name="nightly", cron="0 2 * * *")
    session.add(schedule)
    session.flush()
    return schedule


def test_a_second_run_for_the_same_schedule_and_due_time_is_refused(
    sessions: sessionmaker[Session],
) -> None:
    with sessions() as session:
        revision = add_scenario(session)
        schedule = _schedule(session, revision)
        add_run(
            session,
            revision,
            trigger=Trigger.SCHEDULE,
            schedule_id=schedule.id,
            scheduled_for=at(2),
        )
        session.commit()
        with pytest.raises(IntegrityError):
            add_run(
                session,
                revision,
                trigger=Trigger.SCHEDULE,
                schedule_id=schedule.id,
                scheduled_for=at(2),
            )


def test_a_racing_beat_tick_enqueues_a_due_run_once_with_the_idempotent_insert(
    sessions: sessionmaker[Session],
) -> None:
    with sessions() as session:
        revision = add_scenario(session)
        schedule = _schedule(session, revision)
        due = {
            "scenario_id": revision.scenario_id,
            "revision_id": revision.id,
            "trigger": Trigger.SCHEDULE,
            "backend": Backend.SIMULATED,
            "schedule_id": schedule.id,
            "scheduled_for": at(2),
        }
        fired = [insert_ignoring_duplicates(session, Run, [due]) for _beat in range(2)]
        session.commit()
        assert fired == [1, 0]
        assert session.scalar(select(func.count()).select_from(Run)) == 1


def test_other_due_times_and_unscheduled_runs_do_not_collide(
    sessions: sessionmaker[Session],
) -> None:
    with sessions() as session:
        revision = add_scenario(session)
        schedule = _schedule(session, revision)
        add_run(session, revision, schedule_id=schedule.id, scheduled_for=at(2))
        add_run(session, revision, schedule_id=schedule.id, scheduled_for=at(2) + timedelta(days=1))
        # NULL schedule and due time: ad-hoc runs never conflict with each other.
        add_run(session, revision)
        add_run(session, revision)
        session.commit()
        assert session.scalar(select(func.count()).select_from(Run)) == 4


def test_the_same_content_is_one_revision_of_a_scenario(sessions: sessionmaker[Session]) -> None:
    with sessions() as session:
        revision = add_scenario(session)
        session.commit()
        session.add(
            ScenarioRevision(
                scenario_id=revision.scenario_id,
                content_hash=revision.content_hash,
                source_text="name: workshop  # reformatted\n",
                canonical_json=revision.canonical_json,
            )
        )
        with pytest.raises(IntegrityError):
            session.commit()


@pytest.mark.parametrize(
    "duplicate",
    [
        Scenario(name="workshop"),
        ApiToken(name="ci", role=TokenRole.VIEWER, token_hash="f" * 64, prefix="nd_9"),
        ApiToken(name="other", role=TokenRole.VIEWER, token_hash="e" * 64, prefix="nd_9"),
    ],
    ids=["scenario-name", "token-name", "token-hash"],
)
def test_names_and_token_hashes_are_unique(
    sessions: sessionmaker[Session], duplicate: object
) -> None:
    with sessions() as session:
        add_scenario(session, name="workshop")
        session.add(ApiToken(name="ci", role=TokenRole.ADMIN, token_hash="e" * 64, prefix="nd_1"))
        session.commit()
        session.add(duplicate)
        with pytest.raises(IntegrityError):
            session.commit()


def test_a_cell_result_for_a_run_that_does_not_exist_is_refused(
    sessions: sessionmaker[Session],
) -> None:
    with sessions() as session, pytest.raises(IntegrityError):
        insert_ignoring_duplicates(session, CellResult, [cell_row(4242, "k")])


def test_deleting_a_scenario_deletes_its_revisions_schedules_runs_and_cells(
    sessions: sessionmaker[Session],
) -> None:
    with sessions() as session:
        revision = add_scenario(session)
        kept = add_scenario(session, name="kept")
        _schedule(session, revision)
        run = add_run(session, revision)
        kept_run = add_run(session, kept)
        session.add(RunVersion(run_id=run.id, version="v1", content_hash="b" * 64))
        insert_ignoring_duplicates(
            session,
            RevisionCell,
            [revision_cell_row(revision.id, "k"), revision_cell_row(kept.id, "k")],
        )
        insert_ignoring_duplicates(
            session, CellResult, [cell_row(run.id, "k"), cell_row(kept_run.id, "k")]
        )
        session.commit()

        session.delete(revision.scenario)
        session.commit()

        def count(model: type[object]) -> int | None:
            return session.scalar(select(func.count()).select_from(model))

        assert (count(Scenario), count(ScenarioRevision), count(Schedule)) == (1, 1, 0)
        assert (count(Run), count(RunVersion), count(CellResult)) == (1, 0, 1)
        assert count(RevisionCell) == 1


def test_a_revisions_cells_are_written_once_however_often_runs_plan_them(
    sessions: sessionmaker[Session],
) -> None:
    with sessions() as session:
        revision = add_scenario(session)
        cells = [revision_cell_row(revision.id, key, ordinal=i) for i, key in enumerate("abc")]
        assert insert_ignoring_duplicates(session, RevisionCell, cells) == 3
        again = [revision_cell_row(revision.id, k, expected=Verdict.BLOCKED) for k in "abcd"]
        assert insert_ignoring_duplicates(session, RevisionCell, again) == 1
        session.commit()
        rows = session.execute(select(RevisionCell.cell_key, RevisionCell.expected)).all()
        expected = {row.cell_key: row.expected for row in rows}
    assert expected == {
        "a": Verdict.ALLOWED,
        "b": Verdict.ALLOWED,
        "c": Verdict.ALLOWED,
        "d": Verdict.BLOCKED,
    }


def test_a_cell_of_a_revision_that_does_not_exist_is_refused(
    sessions: sessionmaker[Session],
) -> None:
    with sessions() as session, pytest.raises(IntegrityError):
        insert_ignoring_duplicates(session, RevisionCell, [revision_cell_row(4242, "k")])


def test_a_clean_cell_stores_no_attempt_details_and_no_overrides(
    sessions: sessionmaker[Session],
) -> None:
    with sessions() as session:
        run = add_run(session, add_scenario(session))
        session.add(CellResult(run_id=run.id, cell_key="k", observed=Verdict.BLOCKED, attempts=1))
        session.commit()
        session.expire_all()
        cell = session.get_one(CellResult, (run.id, "k"))
        assert cell.attempt_details is None
        assert (cell.expected_override, cell.explanation_override) == (None, None)
        assert (cell.regression, cell.flaky, cell.raw_outcome) == (False, False, None)


def test_schedule_names_are_unique_per_scenario(sessions: sessionmaker[Session]) -> None:
    with sessions() as session:
        revision = add_scenario(session)
        other = add_scenario(session, name="other")
        _schedule(session, revision)
        _schedule(session, other)
        session.commit()
        _schedule_again = Schedule(
            scenario_id=revision.scenario_id, name="nightly", cron="0 3 * * *"
        )
        session.add(_schedule_again)
        with pytest.raises(IntegrityError):
            session.commit()


def test_deleting_a_schedule_keeps_the_runs_it_started(sessions: sessionmaker[Session]) -> None:
    with sessions() as session:
        revision = add_scenario(session)
        schedule = _schedule(session, revision)
        run = add_run(session, revision, schedule_id=schedule.id, scheduled_for=at(2))
        session.commit()
        session.delete(schedule)
        session.commit()
        session.refresh(run)
        assert run.schedule_id is None
        assert run.scheduled_for == at(2)


def test_times_come_back_as_the_same_instant_in_utc(sessions: sessionmaker[Session]) -> None:
    berlin_evening = datetime(2025, 11, 26, 23, 30, tzinfo=timezone(timedelta(hours=1)))
    with sessions() as session:
        run = add_run(session, add_scenario(session), deadline_at=berlin_evening)
        session.commit()
        run_id = run.id
    with sessions() as session:
        stored = session.get_one(Run, run_id)
        assert stored.deadline_at == berlin_evening
        assert stored.deadline_at is not None
        assert stored.deadline_at.utcoffset() == timedelta(0)
        assert stored.created_at.utcoffset() == timedelta(0)
        # Ordering and comparison happen in the database on UTC values.
        later = session.scalar(select(func.count()).where(Run.deadline_at > at(22, 31)))
        assert later == 0


def test_naive_times_are_refused(sessions: sessionmaker[Session]) -> None:
    with sessions() as session, pytest.raises(StatementError, match="naive datetime"):
        add_run(session, add_scenario(session), deadline_at=datetime(2025, 11, 26, 2, 0))


def test_new_runs_are_queued_with_zero_counts_and_empty_options(
    sessions: sessionmaker[Session],
) -> None:
    with sessions() as session:
        run = add_run(session, add_scenario(session))
        session.commit()
        session.expire_all()
        stored = session.get_one(Run, run.id)
        assert stored.status is RunStatus.QUEUED
        assert (stored.planned_cells, stored.regressions, stored.flaky) == (0, 0, 0)
        assert (stored.errors, stored.invalid) == (0, 0)
        assert stored.options == {}


def test_json_columns_keep_their_structure(sessions: sessionmaker[Session]) -> None:
    options = {"versions": ["v1", "v2"], "sources": [], "targets": ["y/backend"]}
    attempts = [{"raw": "timeout", "latency_ms": 1000.0}, {"raw": "connected"}]
    with sessions() as session:
        run = add_run(session, add_scenario(session), options=options, cluster={"calico": "3.29"})
        insert_ignoring_duplicates(
            session, CellResult, [cell_row(run.id, "k", attempts=2, attempt_details=attempts)]
        )
        session.commit()
    with sessions() as session:
        stored = session.get_one(Run, run.id)
        cell = session.get_one(CellResult, (run.id, "k"))
        assert (stored.options, stored.cluster) == (options, {"calico": "3.29"})
        assert (cell.attempts, cell.attempt_details) == (2, attempts)


ENUM_COLUMNS: list[tuple[str, str, type[StrEnum]]] = [
    ("runs", "trigger", Trigger),
    ("runs", "backend", Backend),
    ("runs", "status", RunStatus),
    ("schedules", "backend", Backend),
    ("revision_cells", "protocol", Protocol),
    ("revision_cells", "expected", Verdict),
    ("cell_results", "observed", Verdict),
    ("cell_results", "raw_outcome", RawOutcome),
    ("cell_results", "expected_override", Verdict),
    ("api_tokens", "role", TokenRole),
]


@pytest.mark.parametrize(
    ("table", "column", "enum"), ENUM_COLUMNS, ids=[f"{t}.{c}" for t, c, _ in ENUM_COLUMNS]
)
def test_enum_columns_accept_exactly_the_values_of_their_enum(
    engine: Engine, sessions: sessionmaker[Session], table: str, column: str, enum: type[StrEnum]
) -> None:
    with sessions() as session:
        revision = add_scenario(session)
        run = add_run(session, revision)
        _schedule(session, revision)
        insert_ignoring_duplicates(session, RevisionCell, [revision_cell_row(revision.id, "k")])
        insert_ignoring_duplicates(session, CellResult, [cell_row(run.id, "k")])
        session.add(ApiToken(name="ci", role=TokenRole.VIEWER, token_hash="f" * 64, prefix="nd_1"))
        session.commit()

    # Raw SQL, past the ORM's own enum check: the CHECK in the migrated schema
    # must allow every member and nothing else.
    update = text(f'UPDATE {table} SET "{column}" = :value')
    with engine.connect() as connection:
        for member in enum:
            connection.execute(update, {"value": member.value})
        for wrong in ("bogus", enum_value_in_other_case(enum)):
            with pytest.raises(IntegrityError), connection.begin_nested():
                connection.execute(update, {"value": wrong})
        connection.rollback()


def enum_value_in_other_case(enum: type[StrEnum]) -> str:
    value = next(iter(enum)).value
    return value.lower() if value != value.lower() else value.upper()


def test_the_bulk_insert_stores_every_column_and_ignores_duplicates(
    sessions: sessionmaker[Session],
) -> None:
    details = [{"number": 1, "raw": "timeout"}, {"number": 2, "raw": "connected"}]
    with sessions() as session:
        revision = add_scenario(session)
        run = add_run(session, revision)
        first = [
            cell_row(run.id, "a"),
            cell_row(run.id, "b", attempts=2, attempt_details=details, flaky=True),
            cell_row(run.id, "c", raw_outcome=None, latency_ms=None, observed=Verdict.INVALID),
            cell_row(run.id, "d", expected_override=Verdict.BLOCKED, explanation_override="why"),
        ]
        assert bulk_insert_ignoring_duplicates(session, CellResult, first) == 4
        again = [cell_row(run.id, k, observed=Verdict.ERROR) for k in ("a", "b", "e", "e")]
        assert bulk_insert_ignoring_duplicates(session, CellResult, again) == 1
        cells = [revision_cell_row(revision.id, "a"), revision_cell_row(revision.id, "b")]
        assert bulk_insert_ignoring_duplicates(session, RevisionCell, cells) == 2
        session.commit()
        session.expire_all()
        stored = _cells(session, run.id)
        sql_nulls = session.scalar(
            select(func.count()).select_from(CellResult).where(CellResult.attempt_details.is_(None))
        )
    assert sorted(stored) == ["a", "b", "c", "d", "e"]
    assert stored["a"].observed is Verdict.ALLOWED
    assert (stored["b"].attempt_details, stored["b"].flaky) == (details, True)
    assert (stored["c"].raw_outcome, stored["c"].latency_ms) == (None, None)
    assert (stored["d"].expected_override, stored["d"].explanation_override) == (
        Verdict.BLOCKED,
        "why",
    )
    # No details is SQL NULL, not JSON null: queries can ask for "attempt_details IS NULL".
    assert sql_nulls == 4


def test_the_bulk_insert_wants_every_column(sessions: sessionmaker[Session]) -> None:
    with sessions() as session:
        run = add_run(session, add_scenario(session))
        row = cell_row(run.id, "a")
        del row["flaky"]
        with pytest.raises(ValueError, match="must name every column"):
            bulk_insert_ignoring_duplicates(session, CellResult, [row])
