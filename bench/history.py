"""A year of nightly runs of a 10,000-cell scenario: database size and the two history queries.

    .venv/bin/python -m bench.history [--days 365]

Generated into a throw-away PostgreSQL database: a scenario of 10,000 cells
(two versions of 5,000) revised every 30 days (new policies, the same cells:
each revision's cells written through the service, once), and one run a night,
its cells bulk-loaded with COPY as a shard would store them: mostly clean
cells, about 0.5 % flaky (with their attempts), a few errors, and drift that
lasts a few nights. Printed:

- the database size (target <= 1 GiB) and bytes per stored cell result;
- a cell's history (its every run, with the run's time and the expected
  verdict of the revision it ran) and a run-vs-run drift query (the cells of
  one run whose observed verdict differs from the run before), each the median
  of 25 on random cells and runs (target <= 200 ms each);
- baselines in the same process: a cell's rows found by scanning the table
  (its index dropped: what the planned access path buys), and drift computed
  by fetching both runs and comparing them here rather than in the database.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from sqlalchemy import select, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from bench.scenarios import synthetic_scenario
from bench.services import bench_database
from service.runs.revisions import store_revision, write_revision_cells
from service.runs.settings import RunSettings
from service.scenario.model import Verdict
from service.store import RevisionCell, make_engine, make_session_factory, upgrade

TARGET_BYTES = 1 << 30
TARGET_MS = 200.0
START = datetime(2026, 1, 1, 2, 0, tzinfo=UTC)
REVISE_EVERY_DAYS = 30

HISTORY = text(
    """
    SELECT r.id, r.created_at, c.observed, c.raw_outcome, c.regression, c.flaky, rc.expected
    FROM cell_results c
    JOIN runs r ON r.id = c.run_id
    JOIN revision_cells rc ON rc.revision_id = r.revision_id AND rc.cell_key = c.cell_key
    WHERE c.cell_key = :key
    ORDER BY r.created_at
    """
)
DRIFT = text(
    """
    WITH changed AS (
        SELECT now.cell_key, before.observed AS before, now.observed AS now
        FROM cell_results now
        JOIN cell_results before ON before.run_id = :before AND before.cell_key = now.cell_key
        WHERE now.run_id = :now AND now.observed <> before.observed
    )
    SELECT rc.version, rc.source_namespace, rc.source_labels, rc.target_namespace,
           rc.target_name, rc.port, rc.protocol, changed.before, changed.now
    FROM changed
    JOIN revision_cells rc
      ON rc.revision_id = (SELECT revision_id FROM runs WHERE id = :now)
     AND rc.cell_key = changed.cell_key
    """
)
# The baseline: the same cell found by scanning (its index dropped), no help from the runs.
HISTORY_SCAN = text(
    "SELECT run_id, observed, raw_outcome, regression, flaky FROM cell_results"
    " WHERE cell_key = :key ORDER BY run_id"
)
ONE_RUN = text("SELECT cell_key, observed FROM cell_results WHERE run_id = :run")


def _cell_rows(
    run_id: int, expected: dict[str, Verdict], rnd: random.Random, drifting: set[str]
) -> Iterator[tuple[Any, ...]]:
    """A night's cell results as COPY rows, in cell_results' column order."""
    for key, verdict in expected.items():
        latency = round(rnd.uniform(0.3, 2.0), 3) if verdict is Verdict.ALLOWED else 1000.0
        raw = "connected" if verdict is Verdict.ALLOWED else "timeout"
        roll = rnd.random()
        if key in drifting:
            observed = Verdict.ALLOWED if verdict is Verdict.BLOCKED else Verdict.BLOCKED
            flipped = "connected" if observed is Verdict.ALLOWED else "timeout"
            attempts = [
                {
                    "number": n,
                    "observed": str(observed),
                    "raw": flipped,
                    "latency_ms": latency,
                    "detail": "",
                    "at_s": 1.0 * n,
                }
                for n in (1, 2, 3)
            ]
            yield (
                run_id,
                key,
                str(observed),
                flipped,
                latency,
                3,
                json.dumps(attempts),
                True,
                False,
                None,
                None,
            )
        elif roll < 0.005:
            attempts = [
                {
                    "number": 1,
                    "observed": "blocked",
                    "raw": "timeout",
                    "latency_ms": 1000.0,
                    "detail": "no answer within 1000 ms (lost)",
                    "at_s": 0.5,
                },
                {
                    "number": 2,
                    "observed": "allowed",
                    "raw": "connected",
                    "latency_ms": latency,
                    "detail": "",
                    "at_s": 2.5,
                },
            ]
            yield (
                run_id,
                key,
                "allowed",
                "connected",
                latency,
                2,
                json.dumps(attempts),
                False,
                True,
                None,
                None,
            )
        elif roll < 0.0055:
            attempts = [
                {
                    "number": n,
                    "observed": "error",
                    "raw": "exec-error",
                    "latency_ms": 0.0,
                    "detail": "exec in the probe pod failed: container not running",
                    "at_s": n,
                }
                for n in (1, 2, 3)
            ]
            yield (
                run_id,
                key,
                "error",
                "exec-error",
                0.0,
                3,
                json.dumps(attempts),
                True,
                False,
                None,
                None,
            )
        else:
            yield (run_id, key, str(verdict), raw, latency, 1, None, False, False, None, None)


def _generate(url: str, days: int, rnd: random.Random) -> tuple[int, float]:
    """Fill the database; (cell results written, seconds it took)."""
    engine = make_engine(url)
    sessions = make_session_factory(engine)
    plain = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    started = time.perf_counter()
    written = 0
    try:
        revisions: dict[int, tuple[int, int, dict[str, Verdict]]] = {}
        with psycopg.connect(plain) as conn:
            for day in range(days):
                month = day // REVISE_EVERY_DAYS
                if month not in revisions:
                    revisions[month] = _revision(sessions, month)
                scenario_id, revision_id, expected = revisions[month]
                # Drift: now and then a handful of cells flip for a few nights.
                drifting = set()
                if day % 9 in (3, 4, 5):
                    drifting = set(random.Random(day // 9).sample(sorted(expected), 12))
                run_id = _run(conn, scenario_id, revision_id, day, len(expected), drifting)
                with (
                    conn.cursor() as cursor,
                    cursor.copy(
                        "COPY cell_results (run_id, cell_key, observed, raw_outcome, latency_ms,"
                        " attempts, attempt_details, regression, flaky, expected_override,"
                        " explanation_override) FROM STDIN"
                    ) as copy,
                ):
                    for row in _cell_rows(run_id, expected, rnd, drifting):
                        copy.write_row(row)
                        written += 1
                conn.commit()
        with psycopg.connect(plain, autocommit=True) as conn:
            conn.execute("VACUUM ANALYZE")
    finally:
        engine.dispose()
    return written, time.perf_counter() - started


def _revision(sessions: sessionmaker[Session], month: int) -> tuple[int, int, dict[str, Verdict]]:
    scenario = synthetic_scenario(sources=10, targets=50, versions=2, variant=month)
    with sessions.begin() as session:
        revision = store_revision(session, scenario)
        write_revision_cells(session, revision.id, scenario)
        rows = session.execute(
            select(RevisionCell.cell_key, RevisionCell.expected).where(
                RevisionCell.revision_id == revision.id
            )
        ).all()
        return revision.scenario_id, revision.id, {r.cell_key: r.expected for r in rows}


def _run(
    conn: psycopg.Connection[Any],
    scenario_id: int,
    revision_id: int,
    day: int,
    planned: int,
    drifting: set[str],
) -> int:
    created = START + timedelta(days=day)
    flaky_estimate = planned // 200
    row = conn.execute(
        """
        INSERT INTO runs (scenario_id, revision_id, trigger, backend, status, created_at,
                          started_at, finished_at, deadline_at, progress_at, planned_cells,
                          regressions, flaky, errors, invalid, seed, options)
        VALUES (%s, %s, 'schedule', 'simulated', %s, %s, %s, %s, %s, %s, %s, %s, %s, 0, 0, %s,
                %s::json)
        RETURNING id
        """,
        (
            scenario_id,
            revision_id,
            "failed" if drifting else "succeeded",
            created,
            created,
            created + timedelta(minutes=4),
            created + timedelta(hours=6),
            created + timedelta(minutes=4),
            planned,
            len(drifting),
            flaky_estimate,
            day,
            json.dumps(RunSettings().to_json()),
        ),
    ).fetchone()
    assert row is not None
    return int(row[0])


def _median_ms(query: Callable[[], object], times: int = 25) -> float:
    samples = []
    for _ in range(times):
        started = time.perf_counter()
        query()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--days", type=int, default=365)
    args = parser.parse_args()
    rnd = random.Random(20260101)
    with bench_database("history") as url:
        upgrade(url)
        written, generate_s = _generate(url, args.days, rnd)
        engine = make_engine(url)
        try:
            with engine.connect() as conn:
                size = int(conn.scalar(text("SELECT pg_database_size(current_database())")) or 0)
                tables = conn.execute(
                    text(
                        "SELECT relname, pg_total_relation_size(relid) FROM pg_stat_user_tables"
                        " ORDER BY 2 DESC"
                    )
                ).all()
                keys = list(conn.scalars(text("SELECT cell_key FROM revision_cells LIMIT 2000")))
                runs = list(conn.scalars(text("SELECT id FROM runs ORDER BY id")))
                probe = random.Random(7)

                def history() -> object:
                    return conn.execute(HISTORY, {"key": probe.choice(keys)}).all()

                def drift() -> object:
                    i = probe.randrange(1, len(runs))
                    return conn.execute(DRIFT, {"now": runs[i], "before": runs[i - 1]}).all()

                def drift_here() -> object:
                    i = probe.randrange(1, len(runs))
                    before: dict[str, str] = dict(conn.execute(ONE_RUN, {"run": runs[i - 1]}).all())
                    now = conn.execute(ONE_RUN, {"run": runs[i]}).all()
                    return [(k, v) for k, v in now if before.get(k) != v]

                history_ms = _median_ms(history)
                drift_ms = _median_ms(drift)
                drift_here_ms = _median_ms(drift_here)
                lengths = {len(conn.execute(HISTORY, {"key": k}).all()) for k in keys[:5]}
                conn.execute(text("DROP INDEX ix_cell_results_cell_key_run_id"))

                def scan() -> object:
                    return conn.execute(HISTORY_SCAN, {"key": probe.choice(keys)}).all()

                history_unindexed_ms = _median_ms(scan, times=3)
                conn.rollback()
        finally:
            engine.dispose()

    sizes = {str(name): int(total) for name, total in tables}
    per_result = sizes.get("cell_results", 0) / max(written, 1)
    print(
        f"generated {args.days} nightly runs, {written:,} cell results in {generate_s:.1f} s;"
        f" history length of a cell: {sorted(lengths)} runs"
    )
    print(
        f"database size: {size / 2**20:,.0f} MiB (target <= {TARGET_BYTES / 2**20:,.0f} MiB:"
        f" {'met' if size <= TARGET_BYTES else 'MISSED'}); cell_results {per_result:.0f} bytes"
        " per cell result, indexes included"
    )
    for name, total in sizes.items():
        print(f"  {name}: {total / 2**20:,.1f} MiB")
    print(
        f"a cell's history: {history_ms:.1f} ms median; scanning for it (baseline):"
        f" {history_unindexed_ms:.0f} ms, ratio {history_unindexed_ms / history_ms:.0f}x"
        f" (target <= {TARGET_MS:g} ms: {'met' if history_ms <= TARGET_MS else 'MISSED'})"
    )
    print(
        f"run-vs-run drift: {drift_ms:.1f} ms median; fetching both runs and comparing here"
        f" (baseline): {drift_here_ms:.1f} ms, ratio {drift_here_ms / drift_ms:.1f}x"
        f" (target <= {TARGET_MS:g} ms: {'met' if drift_ms <= TARGET_MS else 'MISSED'})"
    )


if __name__ == "__main__":
    main()
