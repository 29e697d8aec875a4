"""bench.compare at a small size: it runs, and its baselines agree with compare."""

from __future__ import annotations

import pytest

from bench.compare import main


def test_bench_compare_runs_and_its_naive_baselines_find_the_same_cells(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # main() asserts that the naive loops count the same drift and flakes as compare.
    assert main(["--cells", "400", "--runs", "8", "--window", "6", "--repeat", "1"]) == 0
    out = capsys.readouterr().out
    labels = ("drift: 2 x 400 cells", "naive O(n^2) scan", "flakes: 6 runs", "history counters")
    assert all(label in out for label in labels)
