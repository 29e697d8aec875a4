"""Probing the watched cells at a fixed interval through one phase of a step.

A round probes every watched cell once, one batch per source pod (one exec per
pod on a real cluster; several pods at once where the backend allows,
:mod:`service.runner.concurrency`). Rounds start every ``interval_s`` on the
cluster's clock, from the end of the phase's action; a round that takes longer
than the interval is followed by the next at once, and the phase's
``resolution_s`` says how far apart a cell's probes really were.

Probing stops when every cell has matched the new expected verdict on every
probe for ``hold_s`` (and the cluster says it is settled: a calico-node restart
is over), or when ``timeout_s`` has passed since the action started.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from service.chaos.measure import convergence, matched_since, resolution, trace
from service.chaos.results import CellTrace, Phase, PhaseResult, Sample
from service.chaos.watch import watched_cell
from service.cluster.base import Cluster
from service.errors import FieldPath, InvalidInput, Problem
from service.runner.probing import probe_cells
from service.scenario.cells import Cell, verdict_of
from service.scenario.model import Verdict

__all__ = ["Pace", "observe"]


@dataclass(frozen=True, slots=True)
class Pace:
    """``interval_s`` between probe rounds; ``timeout_s`` from the start of the action;
    ``hold_s`` that observed must stay == expected to count as converged."""

    interval_s: float
    timeout_s: float
    hold_s: float

    def __post_init__(self) -> None:
        problems = []
        for name in ("interval_s", "timeout_s"):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
                problems.append(Problem(f"expected seconds > 0, got {value!r}", FieldPath((name,))))
        hold = self.hold_s
        if not (isinstance(hold, int | float) and math.isfinite(hold) and hold >= 0):
            problems.append(Problem(f"expected seconds >= 0, got {hold!r}", FieldPath(("hold_s",))))
        InvalidInput.collect(problems)


def observe(
    *,
    cluster: Cluster,
    cells: Sequence[Cell],
    phase: Phase,
    old: Mapping[str, Verdict],
    new: Mapping[str, Verdict],
    pace: Pace,
    start: float,
    epoch: float,
    settled: Callable[[], bool] | None = None,
) -> PhaseResult:
    """Probe ``cells`` from now until they settle on ``new`` or time runs out.

    ``start``: when the phase's action began (clock time); ``epoch``: when the
    experiment began. ``old``/``new``: expected verdicts by pair key.
    """
    clock = cluster.clock
    action_s = clock.now() - start
    samples: dict[str, list[Sample]] = {c.pair_key: [] for c in cells}
    rounds = 0
    converged = False
    next_round = clock.now()
    while True:
        rounds += 1
        for cell, sample in probe_once(cluster, cells, start=start):
            samples[cell.pair_key].append(sample)
        elapsed = clock.now() - start
        since = matched_since(samples, new)
        done = settled is None or settled()
        if since is not None and elapsed - since >= pace.hold_s and done:
            converged = True
            break
        if elapsed >= pace.timeout_s:
            break
        # Fixed rate; a round that overran its interval is followed at once.
        next_round = max(next_round + pace.interval_s, clock.now())
        clock.sleep(next_round - clock.now())
    end_s = clock.now() - start
    traces = tuple(
        trace(
            watched_cell(c),
            samples[c.pair_key],
            old=old[c.pair_key],
            new=new[c.pair_key],
            end_s=end_s,
        )
        for c in cells
    )
    note = "" if converged else _why_not(traces, settled, pace)
    return PhaseResult(
        phase=phase,
        started_s=start - epoch,
        action_s=action_s,
        observed_s=end_s,
        rounds=rounds,
        interval_s=pace.interval_s,
        resolution_s=resolution(samples, probing_from_s=action_s, end_s=end_s),
        converged=converged,
        convergence_s=convergence(traces) if converged else None,
        cells=traces,
        note=note,
    )


def probe_once(
    cluster: Cluster, cells: Sequence[Cell], *, start: float
) -> list[tuple[Cell, Sample]]:
    """One round: every cell once, batched per source pod; times since ``start``."""
    return [
        (cell, Sample(at, verdict_of(result.outcome), result.outcome, result.detail))
        for cell, at, result in probe_cells(cluster, cells, epoch=start)
    ]


def _why_not(traces: Sequence[CellTrace], settled: Callable[[], bool] | None, pace: Pace) -> str:
    differing = [t for t in traces if t.converged_s is None]
    if differing:
        shown = ", ".join(str(t.cell) for t in differing[:3])
        more = f" and {len(differing) - 3} more" if len(differing) > 3 else ""
        return f"not converged within {pace.timeout_s:g} s: {shown}{more} still differ"
    if settled is not None and not settled():
        return f"the cluster had not settled within {pace.timeout_s:g} s"
    return f"observed == expected did not hold for {pace.hold_s:g} s within {pace.timeout_s:g} s"
