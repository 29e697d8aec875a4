"""Runs record when their notifications were prepared: a closed run without it still owes them.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26

Written by hand, with the names of service.store.base's naming convention
(``op.f``), like 0001 to 0004.

- ``runs.notify_prepared_at``: set by service.notify.deliveries in the
  transaction that makes a closed run's webhook deliveries (or finds it owes
  none). The resume sweep (the beat's ``resume_notifications`` task, or the
  in-process notifier) hands every closed run where it is empty to a sender,
  so a run whose hand-over was lost (a Celery task gone with Redis, a queue
  dropped at shutdown) is still notified.
- ``runs (notify_prepared_at, id)``: that sweep, every few seconds: the runs
  where it is empty (open runs and owed ones, a handful), oldest first.

Runs closed before this revision are marked prepared: whatever they owed was
handed over (or lost) under the old rules, and notifying about them now, maybe
months later, would be noise.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TIMESTAMP = sa.DateTime(timezone=True)
CLOSED = ("succeeded", "failed", "cancelled")


def upgrade() -> None:
    op.add_column("runs", sa.Column("notify_prepared_at", TIMESTAMP, nullable=True))
    runs = sa.table(
        "runs",
        sa.column("status", sa.String(16)),
        sa.column("created_at", TIMESTAMP),
        sa.column("finished_at", TIMESTAMP),
        sa.column("notify_prepared_at", TIMESTAMP),
    )
    op.execute(
        runs.update()
        .where(runs.c.status.in_(CLOSED))
        .values(notify_prepared_at=sa.func.coalesce(runs.c.finished_at, runs.c.created_at))
    )
    op.create_index(op.f("ix_runs_notify_prepared_at_id"), "runs", ["notify_prepared_at", "id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_runs_notify_prepared_at_id"), table_name="runs")
    # SQLite (3.35 and later) drops a column in place once no index uses it.
    op.drop_column("runs", "notify_prepared_at")
