"""RunRecord and ordered_history: the checks every compare function relies on."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from service.compare import RunColumns, RunRecord, align, ordered_history
from service.errors import InvalidInput
from service.scenario.model import Verdict
from tests.compare.builders import LETTER, T0, observation, record, summary


def test_run_record_indexes_cells_by_key_and_derives_its_columns() -> None:
    run = record(
        1,
        [
            observation("a", "A"),
            observation("b", "B", expected="A"),
            observation("c", "E", expected="A", attempts="AE"),
            observation("d", "B", expected="A", loopback=True),
        ],
    )
    assert set(run.by_key) == {"v1:a", "v1:b", "v1:c", "v1:d"}
    assert run.by_key["v1:b"].place.source == "b"
    assert len(run) == 4
    columns = run.columns
    assert columns.keys == ("v1:a", "v1:b", "v1:c", "v1:d")
    assert [columns.verdict(i) for i in range(4)] == [LETTER[x] for x in "ABEB"]
    assert columns.flaky_mask.tolist() == [False, False, True, False]
    # c observed error where allowed was expected: a regression too.
    assert (columns.regressions, columns.loopback_mismatches) == (2, 1)


def test_run_columns_from_plain_strings_check_lengths_keys_and_verdicts() -> None:
    columns = RunColumns(
        summary(1), keys=("k1", "k2"), observed=("allowed", "blocked"), hashes=("h1", "h1")
    )
    assert columns.verdict(1) is Verdict.BLOCKED
    assert columns.positions == {"k1": 0, "k2": 1}
    with pytest.raises(InvalidInput) as caught:
        RunColumns(summary(1), keys=("k", "k"), observed=("allowed",), hashes=("h", "h"))
    assert [str(p.path) for p in caught.value.problems] == ["observed", "cells[1].cell_key"]
    with pytest.raises(InvalidInput) as caught:
        RunColumns(summary(1), keys=("k",), observed=("open",), hashes=("h",))
    assert (
        str(caught.value)
        == "observed[0]: expected a verdict (allowed, blocked, error, invalid), got 'open'"
    )


def test_align_maps_rows_to_the_same_cell_in_another_run() -> None:
    allowed, hashes = ("allowed",) * 3, ("h",) * 3
    one = RunColumns(summary(1), keys=("a", "b", "c"), observed=allowed, hashes=hashes)
    two = RunColumns(summary(2), keys=("c", "x", "a"), observed=allowed, hashes=hashes)
    same = RunColumns(summary(3), keys=("a", "b", "c"), observed=allowed, hashes=hashes)
    assert align(two, one).tolist() == [2, -1, 0]
    assert align(same, one).tolist() == [0, 1, 2]


def test_run_record_rejects_every_bad_cell_at_once() -> None:
    cells = (
        observation("a", "A", run_id=1),
        observation("a", "B", run_id=1),
        observation("b", "A", run_id=2),
        observation("c", "A", run_id=1, version_hash="other"),
    )
    with pytest.raises(InvalidInput) as caught:
        RunRecord(summary(1, hashes={"v1": "h1"}), cells)
    paths = [str(p.path) for p in caught.value.problems]
    assert paths == ["cells[2].run_id", "cells[3].version_hash", "cells[1].cell_key"]
    assert any("must include the policy version" in p.message for p in caught.value.problems)


def test_ordered_history_sorts_by_creation_time_then_id() -> None:
    late = record(1, [observation("a", "A")])
    late = RunRecord(replace(late.summary, created_at=T0 + timedelta(days=9)), late.cells)
    early = record(7, [observation("a", "A")])
    tie = RunRecord(replace(early.summary, id=5), tuple(replace(c, run_id=5) for c in early.cells))
    tie = RunRecord(replace(tie.summary, created_at=early.summary.created_at), tie.cells)
    assert [r.id for r in ordered_history([late, early, tie])] == [5, 7, 1]


def test_ordered_history_rejects_other_scenarios_and_repeated_runs() -> None:
    one = record(1, [observation("a", "A")])
    other = record(2, [observation("a", "A")], scenario="elsewhere")
    newest = record(3, [observation("a", "A")])
    with pytest.raises(InvalidInput) as caught:
        ordered_history([one, other, newest, one])
    assert [str(p.path) for p in caught.value.problems] == ["runs[1].scenario", "runs[3].id"]
