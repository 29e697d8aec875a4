"""history_matrix: a window of runs as (runs x cells) matrices."""

from __future__ import annotations

from service.compare import RunColumns, history_matrix
from service.compare.columns import ABSENT, VERDICTS
from service.compare.history import NO_HASH
from service.scenario.model import Verdict
from tests.compare.builders import summary


def _run(run_id: int, cells: str, verdicts: str, content_hash: str = "h") -> RunColumns:
    words = {"A": "allowed", "B": "blocked"}
    return RunColumns(
        summary(run_id),
        keys=tuple(cells),
        observed=[words[v] for v in verdicts],
        hashes=(content_hash,) * len(cells),
        flaky=[v == "B" for v in verdicts],
    )


def test_columns_are_the_newest_runs_cells_then_cells_only_older_runs_have() -> None:
    matrix = history_matrix(
        [_run(1, "xab", "AAA", "h1"), _run(2, "ab", "AB", "h1"), _run(3, "bcd", "BAA", "h2")]
    )
    assert matrix.run_ids == (1, 2, 3)
    assert matrix.keys == ("b", "c", "d", "a", "x")
    present = matrix.present.tolist()
    assert present == [
        [True, False, False, True, True],
        [True, False, False, True, False],
        [True, True, True, False, False],
    ]
    assert matrix.codes[0, 1] == ABSENT
    assert matrix.hashes[0, 1] == NO_HASH
    names = [[matrix.hash_names[h] if h != NO_HASH else "" for h in row] for row in matrix.hashes]
    assert names == [
        ["h1", "", "", "h1", "h1"],
        ["h1", "", "", "h1", ""],
        ["h2", "h2", "h2", "", ""],
    ]
    assert matrix.flaky.tolist() == [
        [False, False, False, False, False],
        [True, False, False, False, False],
        [True, False, False, False, False],
    ]


def test_runs_with_the_same_cells_share_their_layout() -> None:
    matrix = history_matrix([_run(1, "ab", "AB"), _run(2, "ab", "BA"), _run(3, "ab", "AA")])
    assert matrix.keys == ("a", "b")
    assert matrix.present.all()
    allowed, blocked = Verdict.ALLOWED, Verdict.BLOCKED
    assert [[VERDICTS[code] for code in row] for row in matrix.codes] == [
        [allowed, blocked],
        [blocked, allowed],
        [allowed, allowed],
    ]
