"""The dashboard's numbers, per run and per history, on generated histories."""

from __future__ import annotations

import random

import pytest

from service.compare import DriftCounts, DriftMark, RunColumns, history_counters, run_counters
from tests.compare.builders import observation, record
from tests.compare.histories import generate


@pytest.mark.parametrize("seed", [1, 2])
def test_history_counters_match_what_was_injected(seed: int) -> None:
    history = generate(seed)
    truth = history.truth
    shuffled = list(history.runs)
    random.Random(seed).shuffle(shuffled)
    counters = history_counters(shuffled, window=5)
    last = len(history.runs) - 1
    assert [c.run_id for c in counters.runs] == [r.id for r in history.runs]
    for index, counts in enumerate(counters.runs):
        assert counts.cells == len(history.runs[index])
        assert counts.regressions == len(truth.regressions[index])
        assert counts.loopback_mismatches == len(truth.loopback)
        assert counts.flaky == len(truth.retried.get(index, ()))
        if index == 0:
            assert counts.drift is None
            continue
        marks = [mark for _, mark in truth.drift[index].values()]
        assert counts.drift == DriftCounts(
            alarm=marks.count(DriftMark.ALARM),
            expected=marks.count(DriftMark.EXPECTED),
            added=len(truth.added) if index == last else 0,
            removed=len(truth.removed) if index == last else 0,
        )
    first = len(history.runs) - 5
    flaky = set(truth.flip_flops).union(*(k for r, k in truth.retried.items() if r >= first))
    if truth.blip_run - 1 >= first:
        flaky |= truth.blipped
    assert counters.flaky == len(flaky)
    assert counters.window == 5


def test_run_counters_without_a_previous_run_have_no_drift() -> None:
    run = record(1, [observation("a", "B", expected="A"), observation("b", "A", attempts="BA")])
    counts = run_counters(run)
    assert (counts.regressions, counts.flaky, counts.drift) == (1, 1, None)


def test_columns_built_from_plain_column_values_count_like_the_records() -> None:
    # What the store may do for a history page: no observations, just four columns.
    history = generate(3)
    columns = [
        RunColumns(
            run.summary,
            keys=tuple(c.cell_key for c in run.cells),
            observed=[str(c.observed) for c in run.cells],
            hashes=tuple(c.version_hash for c in run.cells),
            flaky=[c.flaky for c in run.cells],
            regressions=len(history.truth.regressions[i]),
            loopback_mismatches=len(history.truth.loopback),
        )
        for i, run in enumerate(history.runs)
    ]
    assert history_counters(columns, window=6) == history_counters(history.runs, window=6)
