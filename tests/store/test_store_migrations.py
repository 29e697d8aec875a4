"""The Alembic migrations are the schema: they build exactly what the models describe."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import (
    CheckConstraint,
    Column,
    Engine,
    ForeignKeyConstraint,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    UniqueConstraint,
    inspect,
)

from service.store import (
    Base,
    current_revision,
    downgrade,
    head_revision,
    make_engine,
    upgrade,
)

MODEL_TABLES = set(Base.metadata.tables)


def _schema_diff(url: str, metadata: MetaData = Base.metadata) -> list[Any]:
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            return list(compare_metadata(context, metadata))
    finally:
        engine.dispose()


def _tables(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        return set(inspect(engine).get_table_names()) - {"alembic_version"}
    finally:
        engine.dispose()


def test_there_is_one_head_and_the_models_define_tables() -> None:
    assert head_revision()
    assert {"scenarios", "scenario_revisions", "runs", "cell_results"} <= MODEL_TABLES


def test_upgrade_from_empty_to_head_and_downgrade_to_base(database_url: str) -> None:
    assert current_revision(database_url) is None
    assert _tables(database_url) == set()

    upgrade(database_url)
    assert current_revision(database_url) == head_revision()
    assert _tables(database_url) == MODEL_TABLES

    downgrade(database_url, "base")
    assert current_revision(database_url) is None
    assert _tables(database_url) == set()

    # And back again: the downgrade left nothing behind that gets in the way.
    upgrade(database_url)
    assert _schema_diff(database_url) == []


def test_autogenerate_finds_no_difference_between_models_and_migrations(migrated_url: str) -> None:
    assert _schema_diff(migrated_url) == []


def _copy_models() -> MetaData:
    copy = MetaData(naming_convention=Base.metadata.naming_convention)
    for table in Base.metadata.sorted_tables:
        table.to_metadata(copy)
    return copy


def _add_column(metadata: MetaData) -> None:
    metadata.tables["cell_results"].append_column(Column("extra", Integer, nullable=True))


def _drop_index(metadata: MetaData) -> None:
    table = metadata.tables["cell_results"]
    index = next(i for i in table.indexes if i.name == "ix_cell_results_cell_key_run_id")
    table.indexes.discard(index)


def _add_index(metadata: MetaData) -> None:
    # An index no migration makes (ix_runs_status is one since 0004).
    table = metadata.tables["runs"]
    Index("ix_runs_finished_at", table.c.finished_at)


def _widen_column(metadata: MetaData) -> None:
    metadata.tables["cell_results"].c.cell_key.type = String(40)


def _make_nullable(metadata: MetaData) -> None:
    metadata.tables["runs"].c.planned_cells.nullable = True


def _stop_cascading(metadata: MetaData) -> None:
    (foreign_key,) = metadata.tables["cell_results"].c.run_id.foreign_keys
    foreign_key.ondelete = None
    foreign_key.constraint.ondelete = None  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("mutate", "operations"),
    [
        (_add_column, {"add_column"}),
        (_drop_index, {"remove_index"}),
        (_add_index, {"add_index"}),
        (_widen_column, {"modify_type"}),
        (_make_nullable, {"modify_nullable"}),
        (_stop_cascading, {"remove_fk", "add_fk"}),
    ],
    ids=["column", "dropped-index", "added-index", "type", "nullable", "on-delete"],
)
def test_the_comparison_notices_models_that_drift_from_the_migrations(
    migrated_url: str, mutate: Callable[[MetaData], None], operations: set[str]
) -> None:
    drifted = _copy_models()
    mutate(drifted)
    diff = _schema_diff(migrated_url, drifted)
    # Column-level changes come grouped in a list; table-level ones as tuples.
    found = {(change[0][0] if isinstance(change, list) else change[0]) for change in diff}
    assert found == operations


def _reflected_names(engine: Engine, table: str) -> dict[str, set[str]]:
    inspector = inspect(engine)
    return {
        "pk": {inspector.get_pk_constraint(table)["name"] or "<unnamed>"},
        "fk": {fk["name"] or "<unnamed>" for fk in inspector.get_foreign_keys(table)},
        "uq": {uq["name"] or "<unnamed>" for uq in inspector.get_unique_constraints(table)},
        "ck": {ck["name"] or "<unnamed>" for ck in inspector.get_check_constraints(table)},
        # PostgreSQL lists the index behind each unique constraint too.
        "ix": {
            ix["name"] or "<unnamed>"
            for ix in inspector.get_indexes(table)
            if "duplicates_constraint" not in ix
        },
    }


def _model_names(table: str) -> dict[str, set[str]]:
    model = Base.metadata.tables[table]
    by_kind: dict[str, set[str]] = {"pk": set(), "fk": set(), "uq": set(), "ck": set()}
    kinds = {
        PrimaryKeyConstraint: "pk",
        ForeignKeyConstraint: "fk",
        UniqueConstraint: "uq",
        CheckConstraint: "ck",
    }
    for constraint in model.constraints:
        by_kind[kinds[type(constraint)]].add(str(constraint.name))
    by_kind["ix"] = {str(index.name) for index in model.indexes}
    return by_kind


@pytest.mark.parametrize("table", sorted(MODEL_TABLES))
def test_constraint_and_index_names_follow_the_models_on_every_database(
    engine: Engine, table: str
) -> None:
    # Autogenerate ignores CHECK constraints and most names; later migrations
    # refer to constraints by name, so they must be the same everywhere.
    assert _reflected_names(engine, table) == _model_names(table)
