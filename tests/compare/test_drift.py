"""Drift: changed cells grouped, alarms where the policy content did not change."""

from __future__ import annotations

from itertools import pairwise

import pytest

from service.compare import (
    DriftCounts,
    DriftGroup,
    DriftMark,
    VersionChange,
    drift,
    drift_counts,
    drift_group,
)
from service.errors import InvalidInput
from service.scenario.model import Verdict
from tests.compare.builders import LETTER, observation, record
from tests.compare.histories import generate

G = DriftGroup
# before, after -> group: the table of the drift module, written out.
GROUPS = [
    ("B", "A", G.NEWLY_ALLOWED),
    ("A", "B", G.NEWLY_BLOCKED),
    ("A", "E", G.BECAME_ERROR),
    ("B", "E", G.BECAME_ERROR),
    ("I", "E", G.BECAME_ERROR),
    ("E", "A", G.RECOVERED),
    ("E", "B", G.RECOVERED),
    ("A", "I", G.BECAME_INVALID),
    ("B", "I", G.BECAME_INVALID),
    ("E", "I", G.BECAME_INVALID),
    ("I", "A", G.BECAME_PROBED),
    ("I", "B", G.BECAME_PROBED),
]


@pytest.mark.parametrize(("before", "after", "group"), GROUPS)
def test_each_verdict_move_falls_in_one_group(before: str, after: str, group: DriftGroup) -> None:
    assert drift_group(LETTER[before], LETTER[after]) is group


def test_an_unchanged_verdict_is_not_a_move() -> None:
    with pytest.raises(ValueError, match="stayed"):
        drift_group(Verdict.ALLOWED, Verdict.ALLOWED)


def test_connectivity_change_with_unchanged_policy_content_is_the_alarm() -> None:
    previous = record(1, [observation("a", "B", version_hash="p1")])
    current = record(2, [observation("a", "A", version_hash="p1")])
    (change,) = drift(current, previous).changes
    assert (change.group, change.mark, change.policy_changed) == (
        G.NEWLY_ALLOWED,
        DriftMark.ALARM,
        False,
    )
    assert (
        str(change) == "alarm: v1: dev/a -> dev/backend 80/TCP: blocked -> allowed (newly-allowed)"
    )


def test_connectivity_change_after_a_policy_edit_is_expected_drift() -> None:
    previous = record(1, [observation("a", "A", version_hash="p1")])
    current = record(2, [observation("a", "B", version_hash="p2")])
    report = drift(current, previous)
    (change,) = report.changes
    assert (change.group, change.mark, change.policy_changed) == (
        G.NEWLY_BLOCKED,
        DriftMark.EXPECTED,
        True,
    )
    assert report.versions == (VersionChange("v1", "p1", "p2"),)
    assert report.alarms == ()
    assert report.expected == (change,)


@pytest.mark.parametrize(("before", "after"), [("A", "I"), ("I", "B")])
def test_validity_changes_follow_the_scenario_and_are_never_alarms(before: str, after: str) -> None:
    previous = record(1, [observation("a", before)])
    current = record(2, [observation("a", after)], revision="r2")
    report = drift(current, previous)
    assert [c.mark for c in report.changes] == [DriftMark.EXPECTED]
    assert report.scenario_changed


def test_changes_are_grouped_in_group_order_then_in_the_current_runs_cell_order() -> None:
    previous = record(
        1,
        [
            observation("e", "E"),
            observation("c", "A"),
            observation("x", "B"),
            observation("a", "B"),
            observation("same", "A"),
        ],
    )
    current = record(
        2,
        [
            observation("x", "A"),
            observation("e", "A"),
            observation("same", "A"),
            observation("c", "B"),
            observation("a", "A"),
        ],
    )
    report = drift(current, previous)
    assert [(c.after.pair_key, c.group) for c in report.changes] == [
        ("x", G.NEWLY_ALLOWED),
        ("a", G.NEWLY_ALLOWED),
        ("c", G.NEWLY_BLOCKED),
        ("e", G.RECOVERED),
    ]
    assert [c.after.pair_key for c in report.group(G.NEWLY_ALLOWED)] == ["x", "a"]


def test_cells_in_one_run_only_are_added_or_removed_not_drift() -> None:
    previous = record(1, [observation("a", "A"), observation("gone", "A"), observation("b", "B")])
    current = record(2, [observation("new2", "B"), observation("a", "A"), observation("new1", "A")])
    report = drift(current, previous)
    assert report.changes == ()
    assert [c.pair_key for c in report.added] == ["new2", "new1"]
    assert [c.pair_key for c in report.removed] == ["gone", "b"]
    assert report.counts == DriftCounts(alarm=0, expected=0, added=2, removed=2)


def test_a_version_added_or_dropped_is_listed_with_its_hash_on_one_side() -> None:
    previous = record(
        1, [observation("a", "A"), observation("a", "A", version="old", version_hash="o")]
    )
    current = record(
        2, [observation("a", "A"), observation("a", "A", version="new", version_hash="n")]
    )
    assert drift(current, previous).versions == (
        VersionChange("new", None, "n"),
        VersionChange("old", "o", None),
    )


def test_drift_rejects_runs_that_cannot_be_compared() -> None:
    current = record(2, [observation("a", "A")])
    with pytest.raises(InvalidInput) as caught:
        drift(current, record(2, [observation("a", "A")], scenario="other"))
    assert [str(p.path) for p in caught.value.problems] == ["previous.scenario", "previous.id"]
    with pytest.raises(InvalidInput) as caught:
        drift(current, record(3, [observation("a", "A")]))
    assert [str(p.path) for p in caught.value.problems] == ["previous.created_at"]


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_generated_drift_is_exactly_the_injected_changes_with_their_marks(seed: int) -> None:
    history = generate(seed)
    truth = history.truth
    last = len(history.runs) - 1
    for index, (previous, current) in enumerate(pairwise(history.runs), start=1):
        report = drift(current, previous)
        found = {c.cell_key: (c.group, c.mark) for c in report.changes}
        assert found == truth.drift[index], f"run index {index}"
        assert {c.cell_key for c in report.added} == (truth.added if index == last else set())
        assert {c.cell_key for c in report.removed} == (truth.removed if index == last else set())
        assert drift_counts(current, previous) == report.counts
        edited = index == truth.edit_run
        assert report.versions == (
            (VersionChange("v2", "v2-content-0", "v2-content-1"),) if edited else ()
        )
        assert report.scenario_changed is (edited or index == last)


def test_generated_history_has_alarm_and_expected_drift_in_one_run_pair() -> None:
    # The generator places the v2 alarm after v2's edit: an alarm is judged against
    # the run before, not against the content the version started with.
    history = generate(5)
    truth = history.truth
    at_alarm = drift(history.runs[truth.alarm_run], history.runs[truth.alarm_run - 1])
    v2_alarms = {c.cell_key for c in at_alarm.alarms if c.version == "v2"}
    assert v2_alarms == {k for k in truth.alarmed if history.runs[0].by_key[k].version == "v2"}
    at_edit = drift(history.runs[truth.edit_run], history.runs[truth.edit_run - 1])
    assert {c.cell_key for c in at_edit.expected} == truth.edited
    assert {c.cell_key for c in at_edit.alarms} == truth.flip_flops


def test_against_an_empty_run_every_cell_is_added_or_removed() -> None:
    empty = record(1, [])
    full = record(2, [observation("a", "A"), observation("b", "B")])
    grown = drift(full, empty)
    assert (grown.changes, len(grown.added), grown.removed) == ((), 2, ())
    shrunk = drift(record(3, []), full)
    assert (shrunk.changes, shrunk.added, len(shrunk.removed)) == ((), (), 2)
    assert drift_counts(record(3, []), full) == DriftCounts(removed=2)
