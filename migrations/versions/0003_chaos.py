"""Chaos experiments, their steps, and each phase's measurements.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26

Written by hand, with the names of service.store.base's naming convention
(``op.f``), like 0001 and 0002. The closed sets of words (step kinds, statuses,
phases) are VARCHARs with a CHECK, as service.store.chaos_models declares them.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TIMESTAMP = sa.DateTime(timezone=True)
BACKENDS = ("simulated", "kubernetes")
STEP_KINDS = (
    "switch_version",
    "label_namespace",
    "label_pod",
    "recreate_pods",
    "default_deny",
    "restart_calico",
)
STEP_STATUSES = ("completed", "failed", "unsteady", "skipped")
PHASES = ("baseline", "before", "action", "rollback")


def _check(table: str, column: str, values: Sequence[str]) -> sa.CheckConstraint:
    allowed = ", ".join(f"'{v}'" for v in values)
    return sa.CheckConstraint(f'"{column}" IN ({allowed})', name=op.f(f"ck_{table}_{column}"))


def upgrade() -> None:
    op.create_table(
        "chaos_experiments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("scenario_id", sa.Integer(), nullable=False),
        sa.Column("revision_id", sa.Integer(), nullable=False),
        sa.Column("backend", sa.String(16), nullable=False),
        sa.Column("cluster", sa.Text(), nullable=False),
        sa.Column("cluster_versions", sa.JSON(), nullable=False),
        sa.Column("baseline", sa.String(253), nullable=False),
        sa.Column("interval_s", sa.Float(), nullable=False),
        sa.Column("hold_s", sa.Float(), nullable=False),
        sa.Column("started_at", TIMESTAMP, nullable=False),
        sa.Column("duration_s", sa.Float(), nullable=False),
        sa.Column("ok", sa.Boolean(), nullable=False),
        sa.Column("watched", sa.JSON(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("options", sa.JSON(), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_chaos_experiments")),
        sa.ForeignKeyConstraint(
            ["scenario_id"],
            ["scenarios.id"],
            name=op.f("fk_chaos_experiments_scenario_id_scenarios"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["revision_id"],
            ["scenario_revisions.id"],
            name=op.f("fk_chaos_experiments_revision_id_scenario_revisions"),
            ondelete="CASCADE",
        ),
        _check("chaos_experiments", "backend", BACKENDS),
    )
    op.create_index(
        op.f("ix_chaos_experiments_scenario_id_started_at"),
        "chaos_experiments",
        ["scenario_id", "started_at"],
    )
    op.create_index(op.f("ix_chaos_experiments_revision_id"), "chaos_experiments", ["revision_id"])

    op.create_table(
        "chaos_steps",
        sa.Column("experiment_id", sa.Integer(), nullable=False),
        sa.Column("step_index", sa.SmallInteger(), nullable=False),
        sa.Column("name", sa.String(63), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("action", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("ok", sa.Boolean(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column("rollback_error", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("experiment_id", "step_index", name=op.f("pk_chaos_steps")),
        sa.ForeignKeyConstraint(
            ["experiment_id"],
            ["chaos_experiments.id"],
            name=op.f("fk_chaos_steps_experiment_id_chaos_experiments"),
            ondelete="CASCADE",
        ),
        _check("chaos_steps", "kind", STEP_KINDS),
        _check("chaos_steps", "status", STEP_STATUSES),
    )

    op.create_table(
        "chaos_phases",
        sa.Column("experiment_id", sa.Integer(), nullable=False),
        sa.Column("step_index", sa.SmallInteger(), nullable=False),
        sa.Column("phase", sa.String(16), nullable=False),
        sa.Column("started_s", sa.Float(), nullable=False),
        sa.Column("action_s", sa.Float(), nullable=False),
        sa.Column("observed_s", sa.Float(), nullable=False),
        sa.Column("rounds", sa.Integer(), nullable=False),
        sa.Column("interval_s", sa.Float(), nullable=False),
        sa.Column("resolution_s", sa.Float(), nullable=False),
        sa.Column("converged", sa.Boolean(), nullable=False),
        sa.Column("convergence_s", sa.Float(), nullable=True),
        sa.Column("fail_open_s", sa.Float(), nullable=False),
        sa.Column("fail_closed_s", sa.Float(), nullable=False),
        sa.Column("stale_open_s", sa.Float(), nullable=False),
        sa.Column("stale_closed_s", sa.Float(), nullable=False),
        sa.Column("unavailable_s", sa.Float(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("cells", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint(
            "experiment_id", "step_index", "phase", name=op.f("pk_chaos_phases")
        ),
        sa.ForeignKeyConstraint(
            ["experiment_id"],
            ["chaos_experiments.id"],
            name=op.f("fk_chaos_phases_experiment_id_chaos_experiments"),
            ondelete="CASCADE",
        ),
        _check("chaos_phases", "phase", PHASES),
    )


def downgrade() -> None:
    op.drop_table("chaos_phases")
    op.drop_table("chaos_steps")
    op.drop_index(op.f("ix_chaos_experiments_revision_id"), table_name="chaos_experiments")
    op.drop_index(
        op.f("ix_chaos_experiments_scenario_id_started_at"), table_name="chaos_experiments"
    )
    op.drop_table("chaos_experiments")
