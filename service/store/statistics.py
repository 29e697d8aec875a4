"""Planner statistics kept current after a run's bulk write (PostgreSQL).

A run writes its cells in bulk (10,000 rows for the synthetic matrix), and the
first thing anyone does next is read them all back: the run page, its drift
against the previous run, the webhook findings. PostgreSQL plans those reads
from ``pg_class.reltuples`` and the column statistics of the last ANALYZE. On
a table that has never been analyzed (a new installation, or autovacuum off or
not yet round: it wakes once a minute) the planner believes a run has about
ten cells and joins a run's cells to its plan with 10,000 index probes instead
of one hash join: 45-90 ms per read instead of 10-15, measured on the
dashboard's run page (``bench/dashboard_render.py --postgres``: 513 ms -> 310
ms a page). PostgreSQL's own advice after a bulk load is to run ANALYZE
("Populating a Database"), so the process that closes a run does, when the
run's write is large for what the planner knows:

- autovacuum's own rule decides: the rows written exceed
  ``autovacuum_analyze_threshold + autovacuum_analyze_scale_factor *
  reltuples`` (50 + 10% by default; a never-analyzed table counts 0 rows);
  a nightly 10,000-cell run on a table of a year's runs is left to autovacuum.
  The run's cell count stands for both tables: its revision's cells were
  written when the run was created if the revision was new, and a reused
  revision re-analyzes its table only while that is under ten runs' worth
  (cheap: the table is small then);
- ANALYZE samples a fixed number of rows whatever the table's size, takes a
  lock that neither reads nor writes wait for, and waits at most
  ``LOCK_TIMEOUT`` for another ANALYZE or VACUUM of the table;
- it can only help: a failure (no permission, a lock timeout) is logged and
  the run stays closed.

SQLite needs none of this: its planner uses the indexes without statistics,
and its run page was never the slow one.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Final

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

__all__ = ["LOCK_TIMEOUT", "refresh_after_write", "stale"]

LOCK_TIMEOUT: Final = "2s"

log = logging.getLogger(__name__)


def stale(*, written: int, known_rows: float, threshold: int, scale_factor: float) -> bool:
    """Whether ``written`` new rows make the statistics stale, by autovacuum's rule.

    ``known_rows`` is ``pg_class.reltuples``: -1 for a table never analyzed or
    vacuumed, counted as empty.
    """
    return written > threshold + scale_factor * max(known_rows, 0.0)


def refresh_after_write(
    sessions: sessionmaker[Session], *, tables: Sequence[str], written: int
) -> tuple[str, ...]:
    """ANALYZE those of ``tables`` whose statistics ``written`` new rows made stale.

    Returns the tables analyzed (none on SQLite). Never raises for the
    database's sake: the caller's work is done and committed already.
    """
    if written <= 0:
        return ()
    try:
        with sessions() as session:
            if session.get_bind().dialect.name != "postgresql":
                return ()
            # What the planner believes each table holds, and autovacuum's settings: one read.
            rows = session.execute(
                text(
                    "SELECT c.relname, c.reltuples,"
                    " current_setting('autovacuum_analyze_threshold')::int,"
                    " current_setting('autovacuum_analyze_scale_factor')::float"
                    " FROM pg_class c WHERE c.oid = ANY(CAST(:names AS regclass[]))"
                ),
                {"names": list(tables)},
            ).all()
            due = tuple(
                str(name)
                for name, known_rows, threshold, scale_factor in rows
                if stale(
                    written=written,
                    known_rows=float(known_rows),
                    threshold=int(threshold),
                    scale_factor=float(scale_factor),
                )
            )
            if not due:
                return ()
            session.execute(text(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'"))
            for table in due:
                # Names of our own tables, never input: nothing to quote.
                session.execute(text(f"ANALYZE {table}"))
            session.commit()
            return due
    except DBAPIError as err:
        log.warning("ANALYZE %s after writing %d rows failed: %s", ", ".join(tables), written, err)
        return ()
