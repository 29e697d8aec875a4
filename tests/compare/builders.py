"""Hand-made observations and runs for the compare tests.

A cell is named by a short word ("a", "b"); its key is ``version:word``, so
the same word in two runs is the same cell. Verdicts are written as letters in
sequences: ``A`` allowed, ``B`` blocked, ``E`` error, ``I`` invalid.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from service.compare import CellObservation, CellPlace, RunRecord, RunSummary, VersionHash
from service.policy.model import Labels, Protocol
from service.scenario.model import Verdict

T0 = datetime(2026, 3, 1, 2, 0, tzinfo=UTC)
LETTER = {"A": Verdict.ALLOWED, "B": Verdict.BLOCKED, "E": Verdict.ERROR, "I": Verdict.INVALID}


def place(
    word: str, *, port: int = 80, protocol: Protocol = Protocol.TCP, target: str = "backend"
) -> CellPlace:
    return CellPlace(
        source_namespace="dev",
        source_labels=Labels({"app": word}),
        target_namespace="dev",
        target=target,
        port=port,
        protocol=protocol,
        port_number=port,
        source=word,
    )


def observation(
    word: str,
    observed: Verdict | str,
    *,
    run_id: int = 1,
    expected: Verdict | str | None = None,
    version: str = "v1",
    version_hash: str = "h1",
    attempts: Sequence[Verdict | str] | None = None,
    explanation: str | None = None,
    regression: bool = False,
    flaky: bool = False,
    loopback: bool = False,
    cell_place: CellPlace | None = None,
) -> CellObservation:
    seen = LETTER[observed] if isinstance(observed, str) else observed
    want = seen if expected is None else LETTER[expected] if isinstance(expected, str) else expected
    tries = (
        (seen,)
        if attempts is None
        else tuple(LETTER[a] if isinstance(a, str) else a for a in attempts)
    )
    return CellObservation(
        run_id=run_id,
        run_at=T0 + timedelta(hours=run_id),
        cell_key=f"{version}:{word}",
        pair_key=word,
        version=version,
        version_hash=version_hash,
        place=cell_place or place(word),
        expected=want,
        observed=seen,
        attempts=tries,
        explanation=explanation,
        regression=regression,
        flaky=flaky,
        loopback=loopback,
    )


def summary(
    run_id: int,
    *,
    scenario: str = "shop",
    revision: str = "r1",
    hashes: Mapping[str, str] | None = None,
    at: datetime | None = None,
) -> RunSummary:
    return RunSummary(
        id=run_id,
        scenario=scenario,
        created_at=at or T0 + timedelta(hours=run_id),
        revision_hash=revision,
        versions=tuple(VersionHash(n, h) for n, h in (hashes or {"v1": "h1"}).items()),
    )


def record(
    run_id: int,
    cells: Sequence[CellObservation],
    *,
    scenario: str = "shop",
    revision: str = "r1",
) -> RunRecord:
    """A run of ``cells`` (their run id is set to ``run_id``); version hashes from the cells."""
    mine = [replace(c, run_id=run_id, run_at=T0 + timedelta(hours=run_id)) for c in cells]
    hashes = {c.version: c.version_hash for c in mine}
    return RunRecord(
        summary(run_id, scenario=scenario, revision=revision, hashes=hashes), tuple(mine)
    )


def sequence_history(
    sequences: Mapping[str, str], *, hashes: str | Mapping[str, str] = ""
) -> list[RunRecord]:
    """Runs 1..n of cells whose observed verdicts follow ``sequences`` (one letter per run;
    ``.`` leaves the cell out of that run). ``hashes``: one content-hash letter per run
    for every cell, or per cell (default: the same hash throughout)."""
    length = max(len(s) for s in sequences.values())
    runs = []
    for i in range(length):
        cells = []
        for word, letters in sequences.items():
            if i >= len(letters) or letters[i] == ".":
                continue
            per_cell = hashes if isinstance(hashes, str) else hashes.get(word, "")
            content_hash = per_cell[i] if per_cell else "h"
            cells.append(
                observation(
                    word, letters[i], version=f"v-{word}", version_hash=f"hash-{content_hash}"
                )
            )
        runs.append(record(i + 1, cells))
    return runs
