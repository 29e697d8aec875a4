"""Regressions: observed != expected with the engine's explanation; loopback apart."""

from __future__ import annotations

import pytest

from service.compare import RegressionKind, classify, regressions
from tests.compare.builders import observation
from tests.compare.histories import generate

# (observed, expected, loopback, flagged by the run) -> how the cell is listed
CLASSIFY = [
    ("A", "A", False, False, None),
    ("A", "B", False, True, RegressionKind.VERDICT),
    ("B", "A", False, True, RegressionKind.VERDICT),
    ("E", "A", False, True, RegressionKind.VERDICT),
    # A run that did not flag a mismatch is still a mismatch: the verdicts decide.
    ("E", "B", False, False, RegressionKind.VERDICT),
    ("A", "A", False, True, RegressionKind.EXPECTATION),
    ("B", "A", True, False, RegressionKind.LOOPBACK),
    ("A", "A", True, False, None),
    ("A", "A", True, True, RegressionKind.EXPECTATION),
    ("B", "A", True, True, RegressionKind.EXPECTATION),
    ("I", "I", False, False, None),
    ("I", "I", False, True, None),
    ("I", "A", False, True, None),
]


@pytest.mark.parametrize(("observed", "expected", "loopback", "flagged", "kind"), CLASSIFY)
def test_invalid_never_regresses_loopback_is_apart_and_mismatch_regresses(
    observed: str, expected: str, loopback: bool, flagged: bool, kind: RegressionKind | None
) -> None:
    cell = observation("a", observed, expected=expected, loopback=loopback, regression=flagged)
    assert classify(cell) is kind


def test_regression_carries_the_engines_explanation_and_keeps_input_order() -> None:
    cells = [
        observation("z", "B", expected="A", explanation="ingress of dev/z: blocked"),
        observation("fine", "A"),
        observation("a", "A", expected="B", explanation="no policy selects dev/a"),
        observation("loop", "B", expected="A", loopback=True, explanation="loopback"),
    ]
    report = regressions(cells)
    assert [(r.cell.pair_key, r.explanation) for r in report.regressions] == [
        ("z", "ingress of dev/z: blocked"),
        ("a", "no policy selects dev/a"),
    ]
    assert [r.cell.pair_key for r in report.loopback] == ["loop"]
    assert len(report) == 2
    assert (
        str(report.regressions[0])
        == "v1: dev/z -> dev/backend 80/TCP: expected allowed, observed blocked"
    )


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_generated_regressions_are_the_injected_mismatches(seed: int) -> None:
    history = generate(seed)
    for index, run in enumerate(history.runs):
        report = regressions(run.cells)
        assert {r.cell.cell_key for r in report.regressions} == history.truth.regressions[index]
        assert {r.cell.cell_key for r in report.loopback} == history.truth.loopback
        assert all(r.explanation.startswith("engine: ") for r in report.regressions)
