"""The timeline the dashboard draws: phases, deviation bands and markers on one axis."""

from __future__ import annotations

import itertools

import pytest

from service.chaos import run_experiment, timeline
from service.chaos.timeline import STEPS_LANE
from service.cluster.faults import Delay, DelayKind
from service.scenario.chaos import ChaosStep, RecreatePods, SwitchVersion
from tests.chaos.builders import chaos_workshop, instant_cluster


def test_bands_and_markers_sit_where_their_phases_happened() -> None:
    scenario = chaos_workshop(
        ChaosStep("churn", SwitchVersion("allow-pod")),
        ChaosStep("reschedule", RecreatePods(("backend",))),
        baseline="deny-all",
    )
    cluster = instant_cluster(
        programming=Delay(DelayKind.CONSTANT, 1.0),
        pod_start=Delay(DelayKind.CONSTANT, 1.0),
        isolation=Delay(DelayKind.CONSTANT, 2.0),
    )
    result = run_experiment(scenario, cluster=cluster)
    drawn = timeline(result)
    assert [lane.key for lane in drawn.lanes] == [STEPS_LANE, *(c.key for c in result.watched)]
    phases = [(b.step, b.state) for b in drawn.bands if b.lane == STEPS_LANE]
    assert phases == [
        ("", "baseline"),
        ("churn", "before"),
        ("churn", "action"),
        ("churn", "rollback"),
        ("reschedule", "before"),
        ("reschedule", "action"),
        ("reschedule", "rollback"),
    ]
    # phases follow one another on the axis
    spans = [(b.start_s, b.end_s) for b in drawn.bands if b.lane == STEPS_LANE]
    assert all(a_end <= b_start for (_, a_end), (b_start, _) in itertools.pairwise(spans))
    reschedule = result.step("reschedule").change
    assert reschedule is not None
    fail_open = [b for b in drawn.bands if b.state == "fail-open"]
    assert {b.lane for b in fail_open} == {c.key for c in result.watched}
    for band in fail_open:
        # open from the moment the new pod was Ready, 1 s into the action
        assert band.start_s == pytest.approx(reschedule.started_s + 1.0, abs=0.01)
    converged = [m for m in drawn.markers if m.kind == "converged" and m.step == "reschedule"]
    assert [m.phase for m in converged] == ["action", "rollback"]
    assert reschedule.convergence_s is not None
    assert converged[0].at_s == pytest.approx(reschedule.started_s + reschedule.convergence_s)
    # the churn from deny-all to allow-pod lets the frontends in, 1 s after it began
    stale = [b for b in drawn.bands if b.state == "stale-closed"]
    assert {b.step for b in stale} == {"churn"}
    assert [b.end_s - b.start_s for b in stale] == pytest.approx([1.0] * len(stale), abs=0.01)
    assert len(stale) == 2
    assert drawn.to_dict()["duration_s"] == pytest.approx(result.duration_s)
