"""A run as history-scale comparisons need it: one column per fact, one row per cell.

Drift counts, flakes and the dashboard's history counters look at every cell
of up to 30 runs of 10,000 cells. Building and walking 300,000 objects in
Python would cost more than the whole page may take, so these work on
columns instead: the cells' keys, their final verdicts as small integer codes
(a numpy array), their policy content hashes and whether each was flaky
within its run. A :class:`~service.compare.runs.RunRecord` derives its
columns from its cells; the store can also build them straight from a
column query (cell_key, observed, version_hash, flaky) without making
observations at all.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from itertools import repeat

import numpy as np
import numpy.typing as npt

from service.compare.observations import RunSummary
from service.errors import FieldPath, InvalidInput, Problem
from service.scenario.model import Verdict

__all__ = ["ABSENT", "VERDICTS", "Codes", "RunColumns", "align", "verdict_codes"]

Codes = npt.NDArray[np.uint8]
# Verdicts by code; a code is the index of its verdict here.
VERDICTS: tuple[Verdict, ...] = tuple(Verdict)
# StrEnum members hash and compare as their strings, so plain strings from a
# database column find their code here too.
_CODE: dict[str, int] = {v: i for i, v in enumerate(VERDICTS)}
# The code of "no observation" in history matrices; never a verdict's.
ABSENT = 255


def verdict_codes(observed: Iterable[str], count: int) -> Codes:
    """The codes of ``count`` verdicts (members or their strings); KeyError on other words."""
    return np.fromiter(map(_CODE.__getitem__, observed), dtype=np.uint8, count=count)


# eq=False: the columns hold numpy arrays, which have no single truth value for ==.
@dataclass(frozen=True, slots=True, eq=False)
class RunColumns:
    """Per cell of one run: its key, final verdict, policy content hash and within-run flake.

    ``observed`` may hold :class:`Verdict` members or their strings; ``flaky``
    empty means no cell was flaky within the run. ``regressions`` and
    ``loopback_mismatches`` are the run's counts (:mod:`service.compare.regressions`;
    the store keeps them on the run). Raises :class:`InvalidInput` when a column
    is not as long as ``keys``, a key repeats or a verdict is unknown.
    """

    summary: RunSummary
    keys: tuple[str, ...]
    observed: Sequence[str] = field(repr=False)
    hashes: tuple[str, ...] = field(repr=False)
    flaky: Sequence[bool] = field(default=(), repr=False)
    regressions: int = 0
    loopback_mismatches: int = 0
    codes: Codes = field(init=False, repr=False)
    flaky_mask: npt.NDArray[np.bool_] = field(init=False, repr=False)
    _positions: dict[str, int] | None = field(init=False, default=None, repr=False)

    def __post_init__(self) -> None:
        count = len(self.keys)
        problems = [
            Problem(
                f"expected one entry per cell key ({count}), got {len(values)}",
                path=FieldPath((name,)),
            )
            for name, values in (
                ("observed", self.observed),
                ("hashes", self.hashes),
                ("flaky", self.flaky or [False] * count),
            )
            if len(values) != count
        ]
        if len(set(self.keys)) != count:
            problems.extend(_repeated(self.keys))
        InvalidInput.collect(problems)
        try:
            codes = verdict_codes(self.observed, count)
        except KeyError as err:
            raise InvalidInput(
                [
                    Problem(
                        f"expected a verdict ({', '.join(VERDICTS)}), got {value!r}",
                        path=FieldPath(("observed", i)),
                    )
                    for i, value in enumerate(self.observed)
                    if value not in _CODE
                ]
            ) from err
        flaky = (
            np.fromiter(self.flaky, dtype=np.bool_, count=count)
            if self.flaky
            else np.zeros(count, dtype=np.bool_)
        )
        # Frozen dataclass: filling derived fields is the one sanctioned write.
        object.__setattr__(self, "codes", codes)
        object.__setattr__(self, "flaky_mask", flaky)

    @property
    def id(self) -> int:
        return self.summary.id

    def __len__(self) -> int:
        return len(self.keys)

    @property
    def positions(self) -> dict[str, int]:
        """Cell key -> row; built on first use (a run compared only positionally never needs it)."""
        found = self._positions
        if found is None:
            found = dict(zip(self.keys, range(len(self.keys)), strict=True))
            object.__setattr__(self, "_positions", found)
        return found

    def verdict(self, row: int) -> Verdict:
        return VERDICTS[int(self.codes[row])]


def _repeated(keys: Sequence[str]) -> list[Problem]:
    seen: set[str] = set()
    problems = []
    for i, key in enumerate(keys):
        if key in seen:
            problems.append(
                Problem(
                    f"expected each cell key once per run, got {key!r} again "
                    "(a cell key must include the policy version)",
                    path=FieldPath(("cells", i, "cell_key")),
                )
            )
        seen.add(key)
    return problems


def align(current: RunColumns, previous: RunColumns) -> npt.NDArray[np.intp]:
    """For each row of ``current``, the row of the same cell in ``previous`` (-1: none).

    Runs of one scenario revision list the same cells in the same order, so
    equal key tuples (compared in C) skip the lookups entirely.
    """
    if current.keys == previous.keys:
        return np.arange(len(current.keys), dtype=np.intp)
    return np.fromiter(
        map(previous.positions.get, current.keys, repeat(-1)),
        dtype=np.intp,
        count=len(current.keys),
    )
