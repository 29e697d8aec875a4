"""Flakes: switches of the final verdict at one policy content hash within the window."""

from __future__ import annotations

from itertools import pairwise

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from service.compare import FlakePoint, FlakyRevision, flakes, flaky_within_run
from service.errors import InvalidInput
from service.scenario.model import Verdict
from tests.compare.builders import LETTER, observation, record, sequence_history
from tests.compare.histories import generate

# sequence (one letter per run, "." = not in that run), content hash per run
# ("" = the same throughout), window, min switches -> flaky?
COUNTING = [
    pytest.param("ABA", "", 10, 2, True, id="exactly-two-switches"),
    pytest.param("AB", "", 10, 2, False, id="one-switch-is-drift"),
    pytest.param("AABBBB", "", 10, 2, False, id="one-switch-then-stable"),
    pytest.param("ABAB", "", 10, 2, True, id="three-switches"),
    pytest.param("AEA", "", 10, 2, True, id="an-error-blip-is-two-switches"),
    pytest.param("A.B.A", "", 10, 2, True, id="absent-runs-do-not-break-the-sequence"),
    pytest.param("ABAB", "1122", 10, 2, False, id="switch-across-policy-change-not-counted"),
    pytest.param("ABAB", "1112", 10, 2, True, id="two-switches-before-the-change"),
    pytest.param("ABBA", "1221", 10, 2, False, id="change-and-revert-are-not-switches"),
    pytest.param("ABABA", "11211", 10, 2, True, id="switches-at-one-hash-add-up-over-a-revert"),
    pytest.param("ABAAA", "", 4, 2, False, id="switch-into-the-window-start-not-counted"),
    pytest.param("ABAAA", "", 5, 2, True, id="window-covering-both-switches"),
    pytest.param("AAABA", "", 3, 2, True, id="window-of-three-holds-two-switches"),
    pytest.param("AAABA", "", 2, 2, False, id="window-of-two-holds-one-switch"),
    pytest.param("ABA", "", 10, 3, False, id="threshold-three-needs-three"),
    pytest.param("ABAB", "", 10, 3, True, id="threshold-three-met"),
]


@pytest.mark.parametrize(("sequence", "hashes", "window", "threshold", "flaky"), COUNTING)
def test_flake_counting(
    sequence: str, hashes: str, window: int, threshold: int, flaky: bool
) -> None:
    history = sequence_history({"a": sequence, "steady": "A" * len(sequence)}, hashes=hashes)
    report = flakes(history, window=window, min_switches=threshold)
    assert [f.cell_key for f in report.flip_flops] == (["v-a:a"] if flaky else [])
    assert report.within_run == ()


def test_flake_reports_its_revision_switches_and_observations() -> None:
    history = sequence_history({"a": "ABABA"}, hashes="11122")
    (flake,) = flakes(history).flip_flops
    assert flake.revisions == (FlakyRevision("hash-1", 2),)
    assert flake.switches == 2
    assert flake.points == tuple(
        FlakePoint(run_id, LETTER[letter], f"hash-{h}")
        for run_id, letter, h in zip(range(1, 6), "ABABA", "11122", strict=True)
    )
    assert str(flake) == "v-a:a: 2 switches: allowed blocked allowed blocked allowed"


def test_flaky_at_two_revisions_lists_both_most_switches_first() -> None:
    history = sequence_history({"a": "ABAABABA"}, hashes="11122222")
    (flake,) = flakes(history).flip_flops
    assert flake.revisions == (FlakyRevision("hash-2", 4), FlakyRevision("hash-1", 2))


def test_window_counts_the_last_runs_whatever_order_they_are_given_in() -> None:
    history = sequence_history({"a": "ABABAAAA"})
    report = flakes(reversed(history), window=4)
    assert report.run_ids == (5, 6, 7, 8)
    assert report.flip_flops == ()
    assert [f.cell_key for f in flakes(history, window=6).flip_flops] == ["v-a:a"]


def test_flip_flops_follow_the_newest_runs_cell_order() -> None:
    history = sequence_history({"z": "ABA", "m": "BAB", "a": "ABA"})
    assert [f.cell_key for f in flakes(history).flip_flops] == ["v-z:z", "v-m:m", "v-a:a"]


def test_attempts_that_disagree_within_a_run_surface_apart() -> None:
    run = record(
        1,
        [
            observation("retried", "A", attempts="BA"),
            observation("agreed", "A", attempts="AA"),
            observation("flagged", "B", flaky=True),
            observation("single", "B"),
        ],
    )
    later = record(2, [observation("retried", "A", attempts="EA"), observation("agreed", "A")])
    assert [c.pair_key for c in flaky_within_run(run)] == ["retried", "flagged"]
    report = flakes([run, later])
    assert [(f.cell_key, f.run_ids) for f in report.within_run] == [
        ("v1:retried", (1, 2)),
        ("v1:flagged", (1,)),
    ]
    assert report.flip_flops == ()
    assert report.count == 2


def test_flakes_reject_a_window_or_threshold_below_one() -> None:
    with pytest.raises(InvalidInput) as caught:
        flakes(sequence_history({"a": "AB"}), window=0, min_switches=0)
    assert [str(p.path) for p in caught.value.problems] == ["window", "min_switches"]


def test_flakes_reject_runs_of_different_scenarios() -> None:
    runs = [record(1, [observation("a", "A")]), record(2, [observation("a", "A")], scenario="x")]
    with pytest.raises(InvalidInput, match="expected runs of scenario 'x'"):
        flakes(runs)


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("window", [3, 5, 12])
def test_generated_flakes_are_the_flip_flops_and_the_error_blips(seed: int, window: int) -> None:
    history = generate(seed)
    truth = history.truth
    first = len(history.runs) - window
    expected = set(truth.flip_flops)
    # A blip is two switches only when the run before it is inside the window.
    if truth.blip_run - 1 >= first:
        expected |= truth.blipped
    report = flakes(history.runs, window=window)
    assert {f.cell_key for f in report.flip_flops} == expected
    retried = set().union(*(keys for r, keys in truth.retried.items() if r >= first))
    assert {f.cell_key for f in report.within_run} == retried


def _oracle(sequence: list[tuple[Verdict, str] | None], window: int, threshold: int) -> bool:
    """The rule read literally: the cell's observations in the window, consecutive pairs."""
    seen = [s for s in sequence[-window:] if s is not None]
    per_hash: dict[str, int] = {}
    for (v1, h1), (v2, h2) in pairwise(seen):
        if h1 == h2 and v1 != v2:
            per_hash[h1] = per_hash.get(h1, 0) + 1
    return any(n >= threshold for n in per_hash.values())


@settings(max_examples=150, deadline=None)
@given(
    sequence=st.lists(
        st.one_of(st.none(), st.tuples(st.sampled_from("ABE"), st.sampled_from("12"))),
        min_size=1,
        max_size=12,
    ),
    window=st.integers(1, 14),
    threshold=st.integers(1, 3),
)
def test_flakes_agree_with_the_rule_read_literally(
    sequence: list[tuple[str, str] | None], window: int, threshold: int
) -> None:
    letters = "".join("." if s is None else s[0] for s in sequence)
    hashes = "".join("1" if s is None else s[1] for s in sequence)
    # A steady cell keeps every run non-empty.
    history = sequence_history({"a": letters, "steady": "A" * len(letters)}, hashes={"a": hashes})
    report = flakes(history, window=window, min_switches=threshold)
    verdicts = [None if s is None else (LETTER[s[0]], s[1]) for s in sequence]
    assert bool(report.flip_flops) is _oracle(verdicts, window, threshold)
