"""What probes mean: observations, segments, windows, convergence and resolution."""

from __future__ import annotations

import pytest

from service.chaos.measure import convergence, matched_since, resolution, trace
from service.chaos.results import (
    Observation,
    Phase,
    PhaseResult,
    Sample,
    WatchedCell,
    classify,
    union_seconds,
)
from service.scenario.cells import RawOutcome
from service.scenario.model import Verdict

A, B, E = Verdict.ALLOWED, Verdict.BLOCKED, Verdict.ERROR
CELL = WatchedCell("k1", "dev/frontend", "dev/backend", "80/TCP")
OTHER = WatchedCell("k2", "prod/frontend", "dev/backend", "80/TCP")


def _samples(*points: tuple[float, Verdict]) -> list[Sample]:
    raw = {A: RawOutcome.CONNECTED, B: RawOutcome.TIMEOUT, E: RawOutcome.EXEC_ERROR}
    return [Sample(at, v, raw[v]) for at, v in points]


@pytest.mark.parametrize(
    ("observed", "old", "new", "expected"),
    [
        (A, A, A, Observation.MATCH),
        (B, B, B, Observation.MATCH),
        (A, B, A, Observation.MATCH),
        (B, A, B, Observation.MATCH),
        # allowed while both states block it: traffic no state allows
        (A, B, B, Observation.FAIL_OPEN),
        # allowed while only the old state allowed it: the old permission outlives the change
        (A, A, B, Observation.STALE_OPEN),
        # blocked while both states allow it: an outage
        (B, A, A, Observation.FAIL_CLOSED),
        # blocked while only the new state allows it: not programmed yet
        (B, B, A, Observation.STALE_CLOSED),
        (E, A, B, Observation.UNAVAILABLE),
        (Verdict.INVALID, B, B, Observation.UNAVAILABLE),
    ],
)
def test_an_observation_is_judged_against_the_old_and_the_new_state(
    observed: Verdict, old: Verdict, new: Verdict, expected: Observation
) -> None:
    assert classify(observed, old=old, new=new) is expected


def test_only_what_neither_state_allows_or_blocks_is_a_violation() -> None:
    assert {o for o in Observation if o.violation} == {
        Observation.FAIL_OPEN,
        Observation.FAIL_CLOSED,
    }


def test_a_probe_holds_until_the_next_probe_and_the_last_until_the_end() -> None:
    samples = _samples((0.5, A), (1.0, A), (1.5, B), (2.0, B))
    got = trace(CELL, samples, old=A, new=B, end_s=2.3)
    assert [(s.state, s.start_s, s.end_s, s.samples) for s in got.segments] == [
        (Observation.STALE_OPEN, 0.5, 1.5, 2),
        (Observation.MATCH, 1.5, 2.3, 2),
    ]
    assert got.converged_s == 1.5
    assert got.seconds(Observation.STALE_OPEN) == 1.0


def test_a_cell_that_deviates_again_converges_only_at_its_last_match() -> None:
    samples = _samples((0.0, B), (0.5, A), (1.0, B), (1.5, A), (2.0, A))
    got = trace(CELL, samples, old=A, new=A, end_s=2.5)
    assert got.converged_s == 1.5
    assert got.seconds(Observation.FAIL_CLOSED) == pytest.approx(0.5 + 0.5)


@pytest.mark.parametrize(
    ("old", "new", "converged"),
    [
        # nothing was to change and nothing deviated: settled from the start
        (B, B, 0.0),
        # a change already seen at the first probe: known only to have happened by then
        (A, B, 0.4),
    ],
)
def test_convergence_of_a_cell_that_always_matched(
    old: Verdict, new: Verdict, converged: float
) -> None:
    got = trace(CELL, _samples((0.4, B), (0.9, B)), old=old, new=new, end_s=1.0)
    assert got.converged_s == converged


def test_a_cell_whose_last_probe_differs_has_not_converged() -> None:
    got = trace(CELL, _samples((0.0, B), (0.5, A), (1.0, B)), old=A, new=A, end_s=1.2)
    assert got.converged_s is None
    assert convergence([got]) is None


def test_errors_are_unavailable_never_blocked() -> None:
    got = trace(CELL, _samples((0.0, E), (0.5, A)), old=B, new=A, end_s=1.0)
    assert [s.state for s in got.segments] == [Observation.UNAVAILABLE, Observation.MATCH]
    assert got.seconds(Observation.STALE_CLOSED) == 0


def test_the_phase_converges_when_its_slowest_cell_does() -> None:
    fast = trace(CELL, _samples((0.0, B), (0.5, A)), old=B, new=A, end_s=1.0)
    slow = trace(OTHER, _samples((0.0, B), (0.5, B), (1.0, A)), old=B, new=A, end_s=1.5)
    assert convergence([fast, slow]) == 1.0


@pytest.mark.parametrize(
    ("intervals", "seconds"),
    [
        ([], 0.0),
        ([(0.0, 1.0)], 1.0),
        ([(0.0, 1.0), (0.5, 2.0)], 2.0),
        ([(0.0, 1.0), (2.0, 3.0)], 2.0),
        ([(0.0, 3.0), (1.0, 2.0)], 3.0),
        ([(1.0, 2.0), (0.0, 1.0)], 2.0),
    ],
)
def test_a_window_counts_overlapping_cells_once(
    intervals: list[tuple[float, float]], seconds: float
) -> None:
    assert union_seconds(intervals) == seconds


def test_a_phase_window_spans_every_cell_seen_in_it() -> None:
    first = trace(CELL, _samples((1.0, B), (1.5, A), (2.5, B)), old=B, new=B, end_s=3.0)
    second = trace(OTHER, _samples((1.0, A), (2.0, B)), old=B, new=B, end_s=3.0)
    phase = PhaseResult(
        phase=Phase.ACTION,
        started_s=10.0,
        action_s=1.0,
        observed_s=3.0,
        rounds=4,
        interval_s=0.5,
        resolution_s=1.0,
        converged=True,
        convergence_s=2.5,
        cells=(first, second),
    )
    window = phase.fail_open
    assert (window.seconds, window.start_s, window.end_s) == (1.5, 1.0, 2.5)
    assert {c.key: s for c, s in window.cells} == {"k1": 1.0, "k2": 1.0}
    assert phase.violated
    assert not phase.held


def test_matched_since_is_the_latest_start_of_every_cells_final_match() -> None:
    samples = {
        "k1": _samples((0.0, B), (0.5, A), (1.0, A)),
        "k2": _samples((0.1, B), (0.6, B), (1.1, A)),
    }
    assert matched_since(samples, {"k1": A, "k2": A}) == 1.1
    assert matched_since(samples, {"k1": A, "k2": B}) is None


def test_resolution_is_the_largest_gap_from_the_end_of_the_action_to_the_end() -> None:
    samples = {"k1": _samples((2.1, B), (2.6, B), (3.4, A))}
    assert resolution(samples, probing_from_s=2.0, end_s=3.5) == pytest.approx(0.8)
