"""Benchmark: drift and flakes at dashboard size, against naive baselines.

Run: ``.venv/bin/python -m bench.compare [--cells N --runs N --window N --repeat N --seed N]``

The dashboard renders a 10,000-cell run and a 30-run history within 500 ms, so
compare must take a fraction of that. A synthetic history of ``--runs`` runs of
``--cells`` cells (two policy versions; the second edited mid-history; 1% of
cells drift per run, 0.5% flip-flop, 1% retried) is built once, then timed
(best of ``--repeat``):

- records: building every :class:`RunRecord` from its observations, which
  derives the run's columns (once per run; the store can build columns
  straight from a column query instead);
- drift: :func:`drift` (full report) and :func:`drift_counts` on the last two
  runs, against (a) the naive per-cell scan of the previous run's list
  (quadratic, timed once) and (b) a straightforward Python loop over a dict;
- flakes: :func:`flakes` with a window of ``--window`` runs, against the
  straightforward loop (per run a dict, per cell its sequence, switches
  counted in Python); both must find the same flaky cells. The ratio is given
  for flakes alone and with the records' building added;
- history: :func:`history_counters` over the whole history.
"""

from __future__ import annotations

import argparse
import hashlib
import random
import sys
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from typing import TypeVar

from service.compare import (
    CellObservation,
    CellPlace,
    RunRecord,
    RunSummary,
    VersionHash,
    drift,
    drift_counts,
    flakes,
    history_counters,
)
from service.policy.model import Labels, Protocol
from service.scenario.model import Verdict

BUDGET_S = 0.5
T0 = datetime(2026, 1, 1, tzinfo=UTC)
FLIP = {Verdict.ALLOWED: Verdict.BLOCKED, Verdict.BLOCKED: Verdict.ALLOWED}
T = TypeVar("T")


def _places(count: int) -> list[CellPlace]:
    per_target = 20
    return [
        CellPlace(
            source_namespace=f"ns-{i % 7}",
            source_labels=Labels({"app": f"s{i % per_target}"}),
            target_namespace="shop",
            target=f"t{i // per_target}",
            port=80 + i % 3,
            protocol=Protocol.TCP,
            port_number=80 + i % 3,
            source=f"s{i % per_target}",
        )
        for i in range(count)
    ]


def build_history(
    cells: int, runs: int, seed: int
) -> list[tuple[RunSummary, list[CellObservation]]]:
    """``runs`` runs of ``cells`` cells each (half per version), oldest first."""
    rng = random.Random(seed)
    half = cells // 2
    places = _places(half)
    versions = [("v1", i) for i in range(half)] + [("v2", i) for i in range(cells - half)]
    keys = [hashlib.sha256(f"{v}/{i}".encode()).hexdigest()[:16] for v, i in versions]
    base = [rng.choice((Verdict.ALLOWED, Verdict.BLOCKED)) for _ in versions]
    flip_flops = set(rng.sample(range(cells), cells // 200))
    out = []
    current = list(base)
    for r in range(runs):
        hashes = {"v1": "v1-0", "v2": f"v2-{int(r >= runs // 2)}"}
        for i in rng.sample(range(cells), cells // 100):
            current[i] = FLIP[current[i]]
        retried = set(rng.sample(range(cells), cells // 100))
        at = T0 + timedelta(days=r)
        observations = []
        for i, ((version, slot), key) in enumerate(zip(versions, keys, strict=True)):
            observed = current[i]
            if i in flip_flops and r % 2:
                observed = FLIP[observed]
            attempts = (FLIP[observed], observed) if i in retried else (observed,)
            observations.append(
                CellObservation(
                    run_id=r + 1,
                    run_at=at,
                    cell_key=key,
                    pair_key=key,
                    version=version,
                    version_hash=hashes[version],
                    place=places[slot % half],
                    expected=base[i],
                    observed=observed,
                    attempts=attempts,
                    explanation=None,
                    regression=observed is not base[i],
                    flaky=i in retried,
                )
            )
        summary = RunSummary(
            id=r + 1,
            scenario="bench",
            created_at=at,
            revision_hash=f"rev-{int(r >= runs // 2)}",
            versions=tuple(VersionHash(v, h) for v, h in hashes.items()),
        )
        out.append((summary, observations))
    return out


# --- naive baselines ---------------------------------------------------------------------


def naive_drift_scan(
    current: Sequence[CellObservation], previous: Sequence[CellObservation]
) -> int:
    """For each current cell, scan the previous run's list for its key: O(n^2)."""
    changed = 0
    for cell in current:
        for old in previous:
            if old.cell_key == cell.cell_key:
                if old.observed is not cell.observed:
                    changed += 1
                break
    return changed


def naive_drift_loop(
    current: Sequence[CellObservation], previous: Sequence[CellObservation]
) -> int:
    """The straightforward linear version: a dict of the previous run, a loop over the current."""
    before: dict[str, CellObservation] = {}
    for cell in previous:
        before[cell.cell_key] = cell
    changed = 0
    for cell in current:
        old = before.get(cell.cell_key)
        if old is not None and old.observed is not cell.observed:
            changed += 1
    return changed


def naive_flakes(runs: Sequence[Sequence[CellObservation]], window: int) -> set[str]:
    """Per run a dict; per cell its sequence in the window; switches counted in Python."""
    recent = runs[-window:]
    indexes = []
    for cells in recent:
        index: dict[str, CellObservation] = {}
        for cell in cells:
            index[cell.cell_key] = cell
        indexes.append(index)
    keys: set[str] = set()
    for index in indexes:
        keys.update(index)
    flaky = set()
    for key in keys:
        seen = [index[key] for index in indexes if key in index]
        per_hash: dict[str, int] = {}
        for before, after in pairwise(seen):
            if before.version_hash == after.version_hash and before.observed is not after.observed:
                per_hash[after.version_hash] = per_hash.get(after.version_hash, 0) + 1
        if any(n >= 2 for n in per_hash.values()):
            flaky.add(key)
    return flaky


# --- timing ------------------------------------------------------------------------------


def best_of(repeat: int, work: Callable[[], T]) -> tuple[float, T]:
    start = time.perf_counter()
    result = work()
    best = time.perf_counter() - start
    for _ in range(repeat - 1):
        start = time.perf_counter()
        result = work()
        best = min(best, time.perf_counter() - start)
    return best, result


def ms(seconds: float) -> str:
    return f"{seconds * 1000:8.1f} ms"


def _agree(what: str, *results: object) -> None:
    # Not an assert: the check must survive python -O.
    if any(r != results[0] for r in results):
        raise SystemExit(f"{what}: the baseline and compare disagree: {results!r}")


def _line(label: str, seconds: float, note: str = "") -> None:
    print(f"{label:<44}{seconds * 1000:9.1f} ms  {note}".rstrip())


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench.compare", description=__doc__.splitlines()[0])
    parser.add_argument("--cells", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--window", type=int, default=30)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--skip-quadratic", action="store_true", help="do not time the O(n^2) scan")
    args = parser.parse_args(argv)
    cells, runs = args.cells, args.runs

    start = time.perf_counter()
    raw = build_history(cells, runs, args.seed)
    print(f"history: {runs} runs x {cells:,} cells, made in {time.perf_counter() - start:.1f} s")

    records_s, records = best_of(args.repeat, lambda: [RunRecord(s, tuple(c)) for s, c in raw])
    _line(
        f"records: {runs} RunRecords (columns derived)",
        records_s,
        f"{records_s / runs * 1000:.1f} ms per run",
    )

    current, previous = records[-1], records[-2]
    drift_s, report = best_of(args.repeat, lambda: drift(current, previous))
    counts_s, counts = best_of(args.repeat, lambda: drift_counts(current, previous))
    loop_s, loop_changed = best_of(args.repeat, lambda: naive_drift_loop(raw[-1][1], raw[-2][1]))
    _agree("drift (linear loop)", loop_changed, len(report.changes), counts.changed)
    _line(f"drift: 2 x {cells:,} cells, full report", drift_s, f"{len(report.changes)} changes")
    _line("drift: counts only", counts_s)
    _line("  baseline: linear Python loop over a dict", loop_s, f"ratio {loop_s / drift_s:.1f}x")
    if not args.skip_quadratic:
        scan_s, scan_changed = best_of(1, lambda: naive_drift_scan(raw[-1][1], raw[-2][1]))
        _agree("drift (O(n^2) scan)", scan_changed, len(report.changes))
        _line("  baseline: naive O(n^2) scan", scan_s, f"ratio {scan_s / drift_s:.0f}x")

    window = min(args.window, runs)
    flakes_s, found = best_of(args.repeat, lambda: flakes(records, window=args.window))
    naive_s, naive_keys = best_of(
        args.repeat, lambda: naive_flakes([c for _, c in raw], args.window)
    )
    _agree("flakes", naive_keys, {f.cell_key for f in found.flip_flops})
    note = f"{len(naive_keys)} flip-flops, {len(found.within_run)} flaky within a run"
    _line(f"flakes: {window} runs x {cells:,} cells", flakes_s, note)
    ratio = f"ratio {naive_s / flakes_s:.1f}x"
    with_records = f"{naive_s / (flakes_s + records_s * window / runs):.1f}x with records"
    _line("  baseline: per-cell Python loop", naive_s, f"{ratio}, {with_records}")

    history_s, _ = best_of(args.repeat, lambda: history_counters(records, window=args.window))
    _line(f"history counters: {runs} runs", history_s)
    total = drift_s + flakes_s + history_s
    verdict = "within" if total <= BUDGET_S else "OVER"
    _line(
        "drift + flakes + history counters", total, f"{verdict} the {BUDGET_S * 1000:.0f} ms page"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
