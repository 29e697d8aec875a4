"""Initial schema: scenarios, revisions and their cells, schedules, runs, cell results, tokens.

Revision ID: 0001
Revises:
Create Date: 2026-11-26

Written by hand. Every name is final (``op.f``) and follows the naming
convention of service.store.base, so SQLite and PostgreSQL end up with the
same constraint and index names. String enums are VARCHARs with a CHECK
listing the allowed values, as the models declare them.

Cells are split in two: ``revision_cells`` (what a cell is and what the engine
expects, once per scenario revision) and ``cell_results`` (what one run saw,
per run), which keeps a year of nightly runs small.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TIMESTAMP = sa.DateTime(timezone=True)


def _check(table: str, column: str, values: Sequence[str]) -> sa.CheckConstraint:
    allowed = ", ".join(f"'{v}'" for v in values)
    # Quoted: "trigger" is an SQL keyword.
    return sa.CheckConstraint(f'"{column}" IN ({allowed})', name=op.f(f"ck_{table}_{column}"))


TRIGGERS = ("schedule", "api", "cli")
BACKENDS = ("simulated", "kubernetes")
RUN_STATUSES = ("queued", "running", "succeeded", "failed", "cancelled")
PROTOCOLS = ("TCP", "UDP", "SCTP")
VERDICTS = ("allowed", "blocked", "error", "invalid")
RAW_OUTCOMES = ("connected", "timeout", "refused", "dns-error", "exec-error")
ROLES = ("viewer", "operator", "admin")


def upgrade() -> None:
    op.create_table(
        "scenarios",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(253), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scenarios")),
        sa.UniqueConstraint("name", name=op.f("uq_scenarios_name")),
    )

    op.create_table(
        "scenario_revisions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("scenario_id", sa.Integer(), nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("source_text", sa.Text(), nullable=False),
        sa.Column("canonical_json", sa.Text(), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scenario_revisions")),
        sa.ForeignKeyConstraint(
            ["scenario_id"],
            ["scenarios.id"],
            name=op.f("fk_scenario_revisions_scenario_id_scenarios"),
            ondelete="CASCADE",
        ),
        sa.UniqueConstraint(
            "scenario_id",
            "content_hash",
            name=op.f("uq_scenario_revisions_scenario_id_content_hash"),
        ),
    )

    op.create_table(
        "revision_cells",
        sa.Column("revision_id", sa.Integer(), nullable=False),
        sa.Column("cell_key", sa.String(16), nullable=False),
        sa.Column("pair_key", sa.String(16), nullable=False),
        sa.Column("ordinal", sa.Integer(), nullable=False),
        sa.Column("version", sa.String(253), nullable=False),
        sa.Column("source_namespace", sa.String(63), nullable=False),
        sa.Column("source_name", sa.String(253), nullable=False),
        sa.Column("source_labels", sa.Text(), nullable=False),
        sa.Column("target_namespace", sa.String(63), nullable=False),
        sa.Column("target_name", sa.String(253), nullable=False),
        sa.Column("port", sa.String(63), nullable=False),
        sa.Column("resolved_port", sa.Integer(), nullable=True),
        sa.Column("protocol", sa.String(8), nullable=False),
        sa.Column("loopback", sa.Boolean(), nullable=False),
        sa.Column("expected", sa.String(16), nullable=False),
        sa.Column("explanation", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("revision_id", "cell_key", name=op.f("pk_revision_cells")),
        sa.ForeignKeyConstraint(
            ["revision_id"],
            ["scenario_revisions.id"],
            name=op.f("fk_revision_cells_revision_id_scenario_revisions"),
            ondelete="CASCADE",
        ),
        _check("revision_cells", "protocol", PROTOCOLS),
        _check("revision_cells", "expected", VERDICTS),
    )

    op.create_table(
        "schedules",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("scenario_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(253), nullable=False),
        sa.Column("cron", sa.String(128), nullable=False),
        sa.Column("timezone", sa.String(64), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("backend", sa.String(16), nullable=False),
        sa.Column("options", sa.JSON(), nullable=False),
        sa.Column("next_fire_at", TIMESTAMP, nullable=True),
        sa.Column("last_fired_at", TIMESTAMP, nullable=True),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_schedules")),
        sa.ForeignKeyConstraint(
            ["scenario_id"],
            ["scenarios.id"],
            name=op.f("fk_schedules_scenario_id_scenarios"),
            ondelete="CASCADE",
        ),
        sa.UniqueConstraint("scenario_id", "name", name=op.f("uq_schedules_scenario_id_name")),
        _check("schedules", "backend", BACKENDS),
    )

    op.create_table(
        "runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("scenario_id", sa.Integer(), nullable=False),
        sa.Column("revision_id", sa.Integer(), nullable=False),
        sa.Column("trigger", sa.String(16), nullable=False),
        sa.Column("backend", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("started_at", TIMESTAMP, nullable=True),
        sa.Column("finished_at", TIMESTAMP, nullable=True),
        sa.Column("deadline_at", TIMESTAMP, nullable=True),
        sa.Column("progress_at", TIMESTAMP, nullable=True),
        sa.Column("planned_cells", sa.Integer(), nullable=False),
        sa.Column("regressions", sa.Integer(), nullable=False),
        sa.Column("flaky", sa.Integer(), nullable=False),
        sa.Column("errors", sa.Integer(), nullable=False),
        sa.Column("invalid", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("seed", sa.BigInteger(), nullable=True),
        sa.Column("options", sa.JSON(), nullable=False),
        sa.Column("cluster", sa.JSON(), nullable=True),
        sa.Column("schedule_id", sa.Integer(), nullable=True),
        sa.Column("scheduled_for", TIMESTAMP, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_runs")),
        sa.ForeignKeyConstraint(
            ["scenario_id"],
            ["scenarios.id"],
            name=op.f("fk_runs_scenario_id_scenarios"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["revision_id"],
            ["scenario_revisions.id"],
            name=op.f("fk_runs_revision_id_scenario_revisions"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["schedule_id"],
            ["schedules.id"],
            name=op.f("fk_runs_schedule_id_schedules"),
            ondelete="SET NULL",
        ),
        # A schedule fires once per due time, however many beat processes race.
        sa.UniqueConstraint(
            "schedule_id", "scheduled_for", name=op.f("uq_runs_schedule_id_scheduled_for")
        ),
        _check("runs", "trigger", TRIGGERS),
        _check("runs", "backend", BACKENDS),
        _check("runs", "status", RUN_STATUSES),
    )
    op.create_index(op.f("ix_runs_scenario_id_created_at"), "runs", ["scenario_id", "created_at"])

    op.create_table(
        "run_versions",
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.String(253), nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("convergence_ms", sa.Float(), nullable=True),
        sa.Column("applied_at", TIMESTAMP, nullable=True),
        sa.PrimaryKeyConstraint("run_id", "version", name=op.f("pk_run_versions")),
        sa.ForeignKeyConstraint(
            ["run_id"], ["runs.id"], name=op.f("fk_run_versions_run_id_runs"), ondelete="CASCADE"
        ),
    )

    op.create_table(
        "cell_results",
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("cell_key", sa.String(16), nullable=False),
        sa.Column("observed", sa.String(16), nullable=False),
        sa.Column("raw_outcome", sa.String(16), nullable=True),
        sa.Column("latency_ms", sa.Float(), nullable=True),
        sa.Column("attempts", sa.SmallInteger(), nullable=False),
        sa.Column("attempt_details", sa.JSON(), nullable=True),
        sa.Column("regression", sa.Boolean(), nullable=False),
        sa.Column("flaky", sa.Boolean(), nullable=False),
        sa.Column("expected_override", sa.String(16), nullable=True),
        sa.Column("explanation_override", sa.Text(), nullable=True),
        # The primary key is the idempotency key: a redelivered shard's cells conflict.
        sa.PrimaryKeyConstraint("run_id", "cell_key", name=op.f("pk_cell_results")),
        sa.ForeignKeyConstraint(
            ["run_id"], ["runs.id"], name=op.f("fk_cell_results_run_id_runs"), ondelete="CASCADE"
        ),
        _check("cell_results", "observed", VERDICTS),
        _check("cell_results", "raw_outcome", RAW_OUTCOMES),
        _check("cell_results", "expected_override", VERDICTS),
    )
    # A cell's history across runs.
    op.create_index(op.f("ix_cell_results_cell_key_run_id"), "cell_results", ["cell_key", "run_id"])

    op.create_table(
        "api_tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(253), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("prefix", sa.String(16), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("last_used_at", TIMESTAMP, nullable=True),
        sa.Column("revoked_at", TIMESTAMP, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_tokens")),
        sa.UniqueConstraint("name", name=op.f("uq_api_tokens_name")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_api_tokens_token_hash")),
        _check("api_tokens", "role", ROLES),
    )


def downgrade() -> None:
    op.drop_table("api_tokens")
    op.drop_index(op.f("ix_cell_results_cell_key_run_id"), table_name="cell_results")
    op.drop_table("cell_results")
    op.drop_table("run_versions")
    op.drop_index(op.f("ix_runs_scenario_id_created_at"), table_name="runs")
    op.drop_table("runs")
    op.drop_table("schedules")
    op.drop_table("revision_cells")
    op.drop_table("scenario_revisions")
    op.drop_table("scenarios")
