"""A window of runs laid out as matrices: one row per run, one column per cell.

Rows are the runs oldest first; columns are every cell any of them has, the
newest run's cells first in its order, then cells only older runs have (the
newest run that has them first). A run without a cell holds ``ABSENT`` there.

Runs of one scenario revision list the same cells in the same order, so a
run whose keys equal the run after it reuses that run's column positions, and
its hashes those of the run after it: a 30-run history of one revision costs
one key lookup pass, not thirty.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import filterfalse

import numpy as np
import numpy.typing as npt

from service.compare.columns import ABSENT, Codes, RunColumns

__all__ = ["NO_HASH", "HistoryMatrix", "history_matrix"]

# The hash code of "no observation"; never a real hash's.
NO_HASH = -1


@dataclass(frozen=True, slots=True, eq=False)
class HistoryMatrix:
    """``codes``, ``hashes``, ``present`` and ``flaky`` are (runs x cells); ``hashes``
    holds indexes into ``hash_names``; ``present`` says the run has the cell and
    ``flaky`` that the cell was flaky within that run."""

    run_ids: tuple[int, ...]
    keys: tuple[str, ...]
    codes: Codes
    hashes: npt.NDArray[np.int32]
    hash_names: tuple[str, ...]
    present: npt.NDArray[np.bool_]
    flaky: npt.NDArray[np.bool_]


def history_matrix(runs: Sequence[RunColumns]) -> HistoryMatrix:
    """The matrices of ``runs`` (oldest first)."""
    columns: dict[str, int] = {}
    hash_codes: dict[str, int] = {}
    placed: list[tuple[npt.NDArray[np.intp], npt.NDArray[np.int32]]] = []
    last_keys: tuple[str, ...] | None = None
    last_hashes: tuple[str, ...] | None = None
    where = np.empty(0, dtype=np.intp)
    hashes = np.empty(0, dtype=np.int32)
    for run in reversed(runs):
        count = len(run.keys)
        if run.keys != last_keys:
            # filterfalse/map run in C: only keys new to the window reach the dict update.
            new = list(filterfalse(columns.__contains__, run.keys))
            columns.update(zip(new, range(len(columns), len(columns) + len(new)), strict=True))
            where = np.fromiter(map(columns.__getitem__, run.keys), dtype=np.intp, count=count)
            last_keys = run.keys
        if run.hashes != last_hashes:
            for name in set(run.hashes):
                hash_codes.setdefault(name, len(hash_codes))
            hashes = np.fromiter(
                map(hash_codes.__getitem__, run.hashes), dtype=np.int32, count=count
            )
            last_hashes = run.hashes
        placed.append((where, hashes))
    placed.reverse()

    shape = (len(runs), len(columns))
    codes = np.full(shape, ABSENT, dtype=np.uint8)
    hash_matrix = np.full(shape, NO_HASH, dtype=np.int32)
    flaky = np.zeros(shape, dtype=np.bool_)
    for row, (run, (where, hashes)) in enumerate(zip(runs, placed, strict=True)):
        codes[row, where] = run.codes
        hash_matrix[row, where] = hashes
        flaky[row, where] = run.flaky_mask
    return HistoryMatrix(
        run_ids=tuple(run.id for run in runs),
        keys=tuple(columns),
        codes=codes,
        hashes=hash_matrix,
        hash_names=tuple(hash_codes),
        present=codes != ABSENT,
        flaky=flaky,
    )
