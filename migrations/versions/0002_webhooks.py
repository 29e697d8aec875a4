"""Webhooks per scenario or schedule, and their deliveries (one per webhook and run).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26

Written by hand, with the names of service.store.base's naming convention
(``op.f``), like 0001. A webhook's URL is a secret (service.notify.urls); a
delivery's (webhook, run) is unique: that is how a run notifies once.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TIMESTAMP = sa.DateTime(timezone=True)
FORMATS = ("generic", "slack")
DELIVERY_STATUSES = ("pending", "delivered", "failed")


def _check(table: str, column: str, values: Sequence[str]) -> sa.CheckConstraint:
    allowed = ", ".join(f"'{v}'" for v in values)
    return sa.CheckConstraint(f'"{column}" IN ({allowed})', name=op.f(f"ck_{table}_{column}"))


def upgrade() -> None:
    op.create_table(
        "webhooks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(253), nullable=False),
        sa.Column("scenario_id", sa.Integer(), nullable=True),
        sa.Column("schedule_id", sa.Integer(), nullable=True),
        sa.Column("format", sa.String(16), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("on_regressions", sa.Boolean(), nullable=False),
        sa.Column("on_alarm_drift", sa.Boolean(), nullable=False),
        sa.Column("on_new_flakes", sa.Boolean(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhooks")),
        sa.ForeignKeyConstraint(
            ["scenario_id"],
            ["scenarios.id"],
            name=op.f("fk_webhooks_scenario_id_scenarios"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["schedule_id"],
            ["schedules.id"],
            name=op.f("fk_webhooks_schedule_id_schedules"),
            ondelete="CASCADE",
        ),
        # Exactly one scope: a scenario or a schedule.
        sa.CheckConstraint(
            "(scenario_id IS NULL AND schedule_id IS NOT NULL)"
            " OR (scenario_id IS NOT NULL AND schedule_id IS NULL)",
            name=op.f("ck_webhooks_one_scope"),
        ),
        _check("webhooks", "format", FORMATS),
    )
    op.create_index(op.f("ix_webhooks_scenario_id"), "webhooks", ["scenario_id"])
    op.create_index(op.f("ix_webhooks_schedule_id"), "webhooks", ["schedule_id"])

    op.create_table(
        "webhook_deliveries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("webhook_id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("reasons", sa.JSON(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("attempts", sa.SmallInteger(), nullable=False),
        sa.Column("last_status_code", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("next_attempt_at", TIMESTAMP, nullable=True),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("delivered_at", TIMESTAMP, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_deliveries")),
        sa.ForeignKeyConstraint(
            ["webhook_id"],
            ["webhooks.id"],
            name=op.f("fk_webhook_deliveries_webhook_id_webhooks"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["runs.id"],
            name=op.f("fk_webhook_deliveries_run_id_runs"),
            ondelete="CASCADE",
        ),
        # One delivery per webhook and run: the dedup.
        sa.UniqueConstraint(
            "webhook_id", "run_id", name=op.f("uq_webhook_deliveries_webhook_id_run_id")
        ),
        _check("webhook_deliveries", "status", DELIVERY_STATUSES),
    )
    op.create_index(
        op.f("ix_webhook_deliveries_status_next_attempt_at"),
        "webhook_deliveries",
        ["status", "next_attempt_at"],
    )
    op.create_index(op.f("ix_webhook_deliveries_run_id"), "webhook_deliveries", ["run_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_webhook_deliveries_run_id"), table_name="webhook_deliveries")
    op.drop_index(
        op.f("ix_webhook_deliveries_status_next_attempt_at"), table_name="webhook_deliveries"
    )
    op.drop_table("webhook_deliveries")
    op.drop_index(op.f("ix_webhooks_schedule_id"), table_name="webhooks")
    op.drop_index(op.f("ix_webhooks_scenario_id"), table_name="webhooks")
    op.drop_table("webhooks")
