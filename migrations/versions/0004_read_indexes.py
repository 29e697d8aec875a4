"""Indexes for the API's and dashboard's reads: cell paging, the runs list, runs by status.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27

Written by hand, with the names of service.store.base's naming convention
(``op.f``), like 0001 to 0003. Indexes only; no table or column changes.

- ``revision_cells (revision_id, ordinal)``: every page of a run's cells reads
  its revision's cells in plan order (``ORDER BY ordinal``, ``ordinal > cursor``);
  the primary key (revision_id, cell_key) cannot give that order, so without
  this index each uncached page sorts the whole revision.
- ``runs (created_at, id)``: the unfiltered runs list is newest first by
  (created_at, id), keyset-paged on the same pair; the existing
  (scenario_id, created_at) index only serves lists of one scenario.
- ``runs (status)``: runs are filtered by status (the list's ``status=``,
  /metrics' counts, the queued count, the reaper's open runs).
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        op.f("ix_revision_cells_revision_id_ordinal"), "revision_cells", ["revision_id", "ordinal"]
    )
    op.create_index(op.f("ix_runs_created_at_id"), "runs", ["created_at", "id"])
    op.create_index(op.f("ix_runs_status"), "runs", ["status"])


def downgrade() -> None:
    op.drop_index(op.f("ix_runs_status"), table_name="runs")
    op.drop_index(op.f("ix_runs_created_at_id"), table_name="runs")
    op.drop_index(op.f("ix_revision_cells_revision_id_ordinal"), table_name="revision_cells")
