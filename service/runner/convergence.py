"""Convergence: how long after a policy change the dataplane enforces it.

The API gives no signal that a policy is in force (Calico programs it some
milliseconds to minutes later), so after applying a version the run polls a
few **canary** cells until every one shows what the engine predicts, or a
settle deadline passes. The time from the apply to the first poll in which all
canaries matched is the version's convergence time (Calico's programming
latency, as users want to see it); it is stored with the version's results.

Canaries are the cells whose expected verdict changes with this version (from
the version before it in the run; before the first, from "no policy": every
cell allowed), spread round-robin over source pods. A version that changes no
verdict has nothing to wait for. A canary that cannot be probed (an error) is
dropped from the poll rather than waited on; if all are dropped, convergence
is unknown. Polling never replaces probing: afterwards every cell is probed
as usual, so a version that never converged shows up as regressions.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from service.cluster.base import Cluster
from service.errors import FieldPath, InvalidInput, Problem
from service.runner.probing import probe_cells
from service.runner.results import Convergence
from service.scenario.cells import Cell, CellKind, verdict_of
from service.scenario.model import Verdict
from service.scenario.plan import VersionPlan

__all__ = ["ConvergenceOptions", "await_convergence", "pick_canaries"]


@dataclass(frozen=True, slots=True)
class ConvergenceOptions:
    """``settle_s``: how long to poll at most after an apply; ``poll_interval_s``: the pause
    between polls; ``canaries``: how many changed cells to poll at most."""

    settle_s: float = 60.0
    poll_interval_s: float = 0.5
    canaries: int = 8

    def __post_init__(self) -> None:
        problems = []
        for name in ("settle_s", "poll_interval_s"):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and math.isfinite(value) and value >= 0):
                problems.append(
                    Problem(f"expected seconds >= 0, got {value!r}", FieldPath((name,)))
                )
        if not (isinstance(self.canaries, int) and self.canaries >= 1):
            problems.append(
                Problem(f"expected at least 1, got {self.canaries!r}", FieldPath(("canaries",)))
            )
        InvalidInput.collect(problems)


def pick_canaries(
    plan: VersionPlan, previous: VersionPlan | None, *, limit: int
) -> tuple[Cell, ...]:
    """Up to ``limit`` ordinary cells whose expected verdict differs from ``previous``'s."""
    changed: dict[str, list[Cell]] = {}
    # Cell keys name their version: the same connection in the previous version has its pair key.
    before_of = (
        {c.pair_key: previous.expected[c.key].verdict for c in previous.cells} if previous else {}
    )
    for cell in plan.cells:
        if cell.kind is not CellKind.PROBE:
            continue
        now = plan.expected[cell.key].verdict
        before = before_of.get(cell.pair_key, Verdict.ALLOWED)
        if now != before and now in (Verdict.ALLOWED, Verdict.BLOCKED):
            changed.setdefault(cell.source_pod, []).append(cell)
    picked: list[Cell] = []
    queues = list(changed.values())
    while len(picked) < limit and any(queues):
        for queue in queues:
            if queue and len(picked) < limit:
                picked.append(queue.pop(0))
    return tuple(picked)


def await_convergence(
    *,
    cluster: Cluster,
    plan: VersionPlan,
    previous: VersionPlan | None,
    options: ConvergenceOptions,
    applied_at: float | None = None,
) -> Convergence:
    """Poll ``plan``'s canaries until they match the engine or ``options.settle_s`` passes."""
    clock = cluster.clock
    start = clock.now() if applied_at is None else applied_at
    canaries = pick_canaries(plan, previous, limit=options.canaries)
    keys = tuple(c.key for c in canaries)
    if not canaries:
        return Convergence(
            settled=True,
            seconds=0.0,
            waited_s=0.0,
            polls=0,
            note="no cell changes its expected verdict: nothing to wait for",
        )
    live = list(canaries)
    dropped: list[str] = []
    polls = 0
    while True:
        polls += 1
        poll_start = clock.now()
        differing = []
        for cell, _, result in probe_cells(cluster, live, epoch=start):
            observed = verdict_of(result.outcome)
            if observed is Verdict.ERROR:
                live.remove(cell)
                dropped.append(f"{cell}: {result.detail or result.outcome}")
            elif observed != plan.expected[cell.key].verdict:
                differing.append(cell)
        waited = clock.now() - start
        note = f"dropped canaries that could not be probed: {'; '.join(dropped)}" if dropped else ""
        if not live:
            return Convergence(False, None, waited, polls, keys, note or "no canary left")
        if not differing:
            return Convergence(True, poll_start - start, waited, polls, keys, note)
        if waited >= options.settle_s:
            still = ", ".join(str(c) for c in differing[:3])
            more = f" and {len(differing) - 3} more" if len(differing) > 3 else ""
            text = f"not settled after {options.settle_s:g} s: {still}{more} still differ"
            return Convergence(
                False, None, waited, polls, keys, f"{text}; {note}" if note else text
            )
        clock.sleep(min(options.poll_interval_s, max(options.settle_s - waited, 0.0)))
