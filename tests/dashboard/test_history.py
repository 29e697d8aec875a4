"""The scenario page's history (timeline, drift groups, cell strips) on generated histories.

The generator (tests.compare.histories) writes down every injected change as
it injects it; these tests compare the page's values with that record.
"""

from __future__ import annotations

from collections import Counter

import pytest

from service.compare import DriftMark, RunRecord
from service.dashboard.history import HistoryRun, scenario_history
from service.store.enums import RunStatus, Trigger
from tests.compare.histories import History, generate

SEEDS = [3, 11, 29]


def _runs(history: History) -> list[HistoryRun]:
    return [_run(record) for record in history.runs]


def _run(record: RunRecord) -> HistoryRun:
    regressions = record.columns.regressions
    return HistoryRun(
        id=record.id,
        status=RunStatus.FAILED if regressions else RunStatus.SUCCEEDED,
        trigger=Trigger.SCHEDULE,
        created_at=record.summary.created_at,
        regressions=regressions,
        flaky=int(record.columns.flaky_mask.sum()),
        errors=0,
        columns=record.columns,
    )


@pytest.mark.parametrize("seed", SEEDS)
def test_each_timeline_entry_counts_the_drift_injected_into_its_run(seed: int) -> None:
    history = generate(seed)
    page = scenario_history(_runs(history), flake_window=10)
    assert [e.run.id for e in page.timeline] == [r.id for r in history.runs]
    for index, entry in enumerate(page.timeline):
        injected = history.truth.drift.get(index, {})
        marks = Counter(mark for _, mark in injected.values())
        assert (entry.alarm, entry.expected) == (marks[DriftMark.ALARM], marks[DriftMark.EXPECTED])
        assert dict(entry.groups) == dict(Counter(group for group, _ in injected.values()))
        assert entry.previous_id == (history.runs[index - 1].id if index else None)


@pytest.mark.parametrize("seed", SEEDS)
def test_the_alarm_run_is_an_alarm_event_and_the_policy_edit_an_expected_one(seed: int) -> None:
    history = generate(seed)
    truth = history.truth
    events = {e.run.id: e for e in scenario_history(_runs(history), flake_window=10).events}
    alarm_run = history.runs[truth.alarm_run].id
    edit_run = history.runs[truth.edit_run].id
    assert events[alarm_run].alarm >= len(truth.alarmed)
    assert events[edit_run].expected == len(truth.edited)


def test_a_single_run_has_no_events_and_no_strips() -> None:
    page = scenario_history([_run(generate(5).runs[0])], flake_window=10)
    assert page.events == ()
    assert page.strips == ()
    assert page.changing_cells == 0


@pytest.mark.parametrize("seed", SEEDS)
def test_strips_cover_every_cell_that_changed_with_its_number_of_changes(seed: int) -> None:
    history = generate(seed)
    truth = history.truth
    page = scenario_history(_runs(history), flake_window=10, strips=None)
    changes = {s.key: s.changes for s in page.strips}
    changed = truth.flip_flops | truth.alarmed | truth.edited | truth.blipped
    assert set(changes) == changed
    runs = len(history.runs)
    for key in truth.flip_flops:
        assert changes[key] == runs - truth.flip_from
    for key in truth.blipped:
        assert changes[key] == 2
    for key in truth.alarmed | truth.edited:
        assert changes[key] == 1
    # Most changes first.
    assert [s.changes for s in page.strips] == sorted(changes.values(), reverse=True)


@pytest.mark.parametrize("seed", SEEDS)
def test_a_strip_shows_each_run_verdict_and_gaps_where_the_cell_was_absent(seed: int) -> None:
    history = generate(seed)
    page = scenario_history(_runs(history), flake_window=10, strips=None)
    for strip in page.strips:
        expected = tuple(
            record.by_key[strip.key].observed.value if strip.key in record.by_key else None
            for record in history.runs
        )
        assert strip.verdicts == expected


def test_strips_are_cut_to_the_number_asked_for() -> None:
    page = scenario_history(_runs(generate(3)), flake_window=10, strips=2)
    assert len(page.strips) == 2
    assert page.changing_cells > 2


@pytest.mark.parametrize("seed", SEEDS)
def test_flip_flopping_cells_are_the_flakes_of_the_page(seed: int) -> None:
    history = generate(seed)
    page = scenario_history(_runs(history), flake_window=10)
    assert page.flakes is not None
    assert {f.cell_key for f in page.flakes.flip_flops} >= history.truth.flip_flops
