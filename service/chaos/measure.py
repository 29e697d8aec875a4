"""From the probes of a phase to what they mean: traces, convergence, resolution.

Pure functions over :class:`~service.chaos.results.Sample` lists, so the
arithmetic of windows and convergence is tested on its own, without a cluster.
The rules are those of :mod:`service.chaos.results`: a probe's observation
holds until the cell's next probe, and the last one until ``end_s``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from service.chaos.results import CellTrace, Observation, Sample, Segment, WatchedCell, classify
from service.scenario.model import Verdict

__all__ = ["convergence", "matched_since", "resolution", "trace"]


def trace(
    cell: WatchedCell,
    samples: Sequence[Sample],
    *,
    old: Verdict,
    new: Verdict,
    end_s: float,
) -> CellTrace:
    """The cell's segments through a phase whose observation ended at ``end_s``."""
    segments: list[Segment] = []
    states = [classify(s.observed, old=old, new=new) for s in samples]
    for i, (sample, state) in enumerate(zip(samples, states, strict=True)):
        if segments and segments[-1].state is state:
            last = segments[-1]
            segments[-1] = Segment(state, last.start_s, last.end_s, last.samples + 1)
        else:
            segments.append(Segment(state, sample.at_s, sample.at_s, 1))
        following = samples[i + 1].at_s if i + 1 < len(samples) else max(end_s, sample.at_s)
        last = segments[-1]
        segments[-1] = Segment(last.state, last.start_s, following, last.samples)
    converged: float | None = None
    if segments and segments[-1].state is Observation.MATCH:
        never_deviated = len(segments) == 1 and old == new
        converged = 0.0 if never_deviated else segments[-1].start_s
    details = [
        s.detail for s, st in zip(samples, states, strict=True) if st is not Observation.MATCH
    ]
    return CellTrace(cell, old, new, tuple(segments), converged, details[-1] if details else "")


def matched_since(
    samples: Mapping[str, Sequence[Sample]], expected: Mapping[str, Verdict]
) -> float | None:
    """The moment since which every cell's every probe matched ``expected``; None when
    some cell's last probe did not (or a cell has no probe yet)."""
    since = 0.0
    for key, cell_samples in samples.items():
        if not cell_samples or cell_samples[-1].observed != expected[key]:
            return None
        start = cell_samples[-1].at_s
        for sample in reversed(cell_samples):
            if sample.observed != expected[key]:
                break
            start = sample.at_s
        since = max(since, start)
    return since


def convergence(traces: Sequence[CellTrace]) -> float | None:
    """When the last cell to settle settled; None when one has not."""
    times = [t.converged_s for t in traces]
    if any(t is None for t in times):
        return None
    return max((t for t in times if t is not None), default=0.0)


def resolution(
    samples: Mapping[str, Sequence[Sample]], *, probing_from_s: float, end_s: float
) -> float:
    """The largest gap between two probes of a cell, or from when probing could start
    (the end of the action) to a cell's first probe, or from its last probe to the end."""
    gaps = [0.0]
    for cell_samples in samples.values():
        previous = probing_from_s
        for sample in cell_samples:
            gaps.append(sample.at_s - previous)
            previous = sample.at_s
        gaps.append(end_s - previous)
    return max(gaps)
