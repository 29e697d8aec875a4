"""Chaos experiments on the simulator: measured convergence and windows against the injected
delays (to within one probe interval), engine re-evaluation, rollbacks that always run."""

from __future__ import annotations

import pytest

from service.chaos.execute import ChaosOptions, run_experiment
from service.chaos.results import ExperimentResult, Observation, PhaseResult, StepStatus
from service.cluster.faults import (
    BlackoutMode,
    Delay,
    DelayKind,
    EnforcementWindow,
    FaultConfig,
    PerturbationFaults,
    WindowMode,
)
from service.cluster.simulated import SimulatedCluster
from service.cluster.timeline import ChangeKind
from service.errors import InvalidInput
from service.policy.model import Direction, Labels, Protocol
from service.scenario.chaos import (
    ChaosAction,
    ChaosStep,
    DefaultDeny,
    LabelEdit,
    LabelNamespace,
    LabelPod,
    RecreatePods,
    RestartCalico,
    SwitchVersion,
    WatchSpec,
)
from service.scenario.model import Verdict
from tests.chaos.builders import INTERVAL, chaos_workshop, instant_cluster

BACKEND = "development/backend"
PROD_NS = LabelNamespace("production", LabelEdit(Labels({"purpose": "development"})))
DEV_FRONTEND_LOSES_ROLE = LabelPod(
    LabelEdit(remove=frozenset({"role"})), source="frontend", namespace="development"
)
EGRESS_LOCKDOWN = DefaultDeny(("development",), frozenset({Direction.EGRESS}))


def _constant(seconds: float) -> Delay:
    return Delay(DelayKind.CONSTANT, seconds)


def _changed(phase: PhaseResult) -> dict[str, tuple[Verdict, Verdict]]:
    return {t.cell.source: (t.old, t.new) for t in phase.cells if t.old != t.new}


def _only_step(result: ExperimentResult) -> tuple[PhaseResult, PhaseResult]:
    (step,) = result.steps
    assert step.change is not None
    assert step.rollback is not None
    return step.change, step.rollback


@pytest.mark.parametrize(
    ("action", "changed"),
    [
        # allow-pod admits frontends from every namespace
        (SwitchVersion("allow-pod"), {"production/frontend": (Verdict.BLOCKED, Verdict.ALLOWED)}),
        # production now matches the namespaceSelector purpose=development
        (PROD_NS, {"production/frontend": (Verdict.BLOCKED, Verdict.ALLOWED)}),
        # without role=frontend the development frontend no longer matches the podSelector
        (
            DEV_FRONTEND_LOSES_ROLE,
            {"development/frontend": (Verdict.ALLOWED, Verdict.BLOCKED)},
        ),
        # an egress default-deny cuts the development sources off (one was blocked already)
        (EGRESS_LOCKDOWN, {"development/frontend": (Verdict.ALLOWED, Verdict.BLOCKED)}),
    ],
    ids=["switch-version", "label-namespace", "label-pod", "default-deny"],
)
def test_the_engine_predicts_each_steps_new_state(
    action: ChaosAction, changed: dict[str, tuple[Verdict, Verdict]]
) -> None:
    result = run_experiment(chaos_workshop(action), cluster=instant_cluster())
    change, rollback = _only_step(result)
    assert _changed(change) == changed
    assert _changed(rollback) == {k: (new, old) for k, (old, new) in changed.items()}
    assert result.ok


@pytest.mark.parametrize(
    "action",
    [SwitchVersion("allow-pod"), PROD_NS, DEV_FRONTEND_LOSES_ROLE, EGRESS_LOCKDOWN],
    ids=["switch-version", "label-namespace", "label-pod", "default-deny"],
)
@pytest.mark.parametrize("delay", [0.0, 1.3, 2.75, 4.0])
def test_convergence_and_the_stale_window_are_the_injected_delay_to_one_interval(
    action: ChaosAction, delay: float
) -> None:
    cluster = instant_cluster(programming=_constant(delay))
    result = run_experiment(chaos_workshop(action), cluster=cluster)
    for phase in _only_step(result):
        assert phase.converged
        assert phase.convergence_s is not None
        assert delay <= phase.convergence_s < delay + INTERVAL
        (source, (old, _)) = next(iter(_changed(phase).items()))
        state = Observation.STALE_OPEN if old is Verdict.ALLOWED else Observation.STALE_CLOSED
        window = phase.window(state)
        assert abs(window.seconds - delay) < INTERVAL
        assert [c.source for c, _ in window.cells] == ([source] if delay else [])
        assert not phase.violated


def test_each_cells_convergence_is_its_own_drawn_delay_to_one_interval() -> None:
    cluster = instant_cluster(seed=7, programming=Delay(DelayKind.UNIFORM, 0.0, 5.0))
    result = run_experiment(
        chaos_workshop(SwitchVersion("none"), baseline="deny-all"), cluster=cluster
    )
    change, rollback = _only_step(result)
    timeline = cluster.timeline
    applies = [s for s in timeline.snapshots if s.kind is ChangeKind.APPLY]
    # the baseline, the step's switch, and its rollback
    assert [s.version.name for s in applies if s.version] == ["deny-all", "none", "deny-all"]
    truths = []
    for phase, snapshot in ((change, applies[1]), (rollback, applies[2])):
        assert len(phase.cells) == 4
        for trace in phase.cells:
            source = {
                "development/unlabelled": "development/probe-unlabelled",
                "development/frontend": "development/probe-frontend",
                "production/unlabelled": "production/probe-unlabelled",
                "production/frontend": "production/probe-frontend",
            }[trace.cell.source]
            truth = (
                timeline.programmed_at(
                    snapshot.index, source=source, target=BACKEND, port=80, protocol=Protocol.TCP
                )
                - snapshot.at
            )
            truths.append(truth)
            assert trace.converged_s is not None
            assert truth <= trace.converged_s < truth + INTERVAL
        assert phase.convergence_s is not None
        assert max(truths[-4:]) <= phase.convergence_s < max(truths[-4:]) + INTERVAL
    # the draws really differ from cell to cell
    assert len({round(t, 6) for t in truths}) == len(truths)


def test_a_pod_created_again_is_fail_open_until_its_isolation_is_programmed() -> None:
    cluster = instant_cluster(pod_start=_constant(1.0), isolation=_constant(2.0))
    result = run_experiment(
        chaos_workshop(RecreatePods(("backend",)), baseline="deny-all"), cluster=cluster
    )
    (step,) = result.steps
    change, rollback = _only_step(result)
    # probed from the moment it is Ready, 1 s after the action began
    assert change.action_s == pytest.approx(1.0)
    window = change.fail_open
    assert window.start_s == pytest.approx(1.0)
    assert abs(window.seconds - 2.0) < INTERVAL
    assert len(window.cells) == 4  # deny-all blocks every source; the new pod let them all in
    assert change.convergence_s is not None
    assert 3.0 <= change.convergence_s < 3.0 + INTERVAL
    assert not step.ok
    assert rollback.held
    assert "new IPs: development/backend" in step.note


def test_a_blocked_restart_blackout_is_a_fail_closed_window_of_its_length() -> None:
    cluster = instant_cluster(blackout=_constant(1.7), blackout_mode=BlackoutMode.BLOCKED)
    scenario = chaos_workshop(RestartCalico(), allow_calico_restart=True)
    result = run_experiment(
        scenario, cluster=cluster, options=ChaosOptions(allow_calico_restart=True)
    )
    change, _ = _only_step(result)
    window = change.fail_closed
    # only the development frontend is allowed in: it alone loses its traffic
    assert [c.source for c, _ in window.cells] == ["development/frontend"]
    assert abs(window.seconds - 1.7) < INTERVAL
    assert change.convergence_s is not None
    assert 1.7 <= change.convergence_s < 1.7 + INTERVAL


def test_a_frozen_restart_holds_the_steady_state_and_waits_for_calico() -> None:
    cluster = instant_cluster(blackout=_constant(3.0))
    scenario = chaos_workshop(RestartCalico(), allow_calico_restart=True, hold=0.0)
    result = run_experiment(
        scenario, cluster=cluster, options=ChaosOptions(allow_calico_restart=True)
    )
    (step,) = result.steps
    change, _ = _only_step(result)
    assert step.ok
    assert change.convergence_s == 0.0
    # observed until calico-node was back, though nothing ever deviated
    assert change.observed_s >= 3.0


def test_the_rollback_runs_when_the_action_fails() -> None:
    # change 2 is the step's apply: it takes effect, then its answer is lost
    cluster = instant_cluster(failing_changes=frozenset({2}))
    scenario = chaos_workshop(SwitchVersion("allow-pod"), PROD_NS)
    result = run_experiment(scenario, cluster=cluster)
    failed, after = result.steps
    assert failed.status is StepStatus.FAILED
    assert "answer was lost" in failed.error
    assert failed.change is None
    assert failed.rollback is not None
    assert failed.rollback.held
    # the rollback applied the baseline again, and the cluster is back on it
    kinds = [(s.kind, s.version.name if s.version else "") for s in cluster.timeline.snapshots]
    assert kinds[1:4] == [
        (ChangeKind.APPLY, "allow-pod-namespace"),
        (ChangeKind.APPLY, "allow-pod"),
        (ChangeKind.APPLY, "allow-pod-namespace"),
    ]
    assert {t.new for t in failed.rollback.cells if t.cell.source == "production/frontend"} == {
        Verdict.BLOCKED
    }
    assert after.status is StepStatus.COMPLETED
    assert after.ok


def test_a_failed_rollback_skips_the_steps_after_it() -> None:
    cluster = instant_cluster(failing_changes=frozenset({2, 3}))
    scenario = chaos_workshop(SwitchVersion("allow-pod"), PROD_NS)
    result = run_experiment(scenario, cluster=cluster)
    failed, skipped = result.steps
    assert "answer was lost" in failed.rollback_error
    assert skipped.status is StepStatus.SKIPPED
    assert "rollback of step step-1 failed" in skipped.error
    assert not result.ok


def test_the_rollback_runs_even_when_something_unexpected_is_raised() -> None:
    cluster = instant_cluster()

    def progress(line: str) -> None:
        if line.startswith("step step-1: relabel"):
            raise RuntimeError("the operator pressed ctrl-c")

    with pytest.raises(RuntimeError):
        run_experiment(chaos_workshop(PROD_NS), cluster=cluster, progress=progress)
    last = cluster.timeline.snapshots[-1]
    assert last.kind is ChangeKind.RELABEL
    production = next(ns for ns in last.layout.namespaces if ns.name == "production")
    assert dict(production.labels) == {"purpose": "production"}


def test_a_baseline_that_never_settles_runs_no_step() -> None:
    never = EnforcementWindow("allow-pod-namespace", WindowMode.OVER_ENFORCED)
    cluster = SimulatedCluster(
        faults=FaultConfig(windows=(never,)), timeout_ms=0.0, exec_overhead_ms=0.0
    )
    result = run_experiment(chaos_workshop(PROD_NS, timeout=3.0), cluster=cluster)
    assert result.baseline_phase is not None
    assert not result.baseline_phase.converged
    assert [s.status for s in result.steps] == [StepStatus.SKIPPED]
    assert not result.ok


def test_watch_entries_narrow_the_watched_cells() -> None:
    scenario = chaos_workshop(PROD_NS, watch=[WatchSpec(source_namespace="production")])
    result = run_experiment(scenario, cluster=instant_cluster())
    assert [c.source for c in result.watched] == ["production/unlabelled", "production/frontend"]


def test_the_cap_keeps_the_cells_a_step_changes_first() -> None:
    result = run_experiment(chaos_workshop(PROD_NS, max_watched=1), cluster=instant_cluster())
    assert [c.source for c in result.watched] == ["production/frontend"]
    assert "3 more matching cells not watched" in result.note


def test_only_the_chosen_steps_run_in_scenario_order() -> None:
    steps = (ChaosStep("relabel", PROD_NS), ChaosStep("churn", SwitchVersion("allow-pod")))
    result = run_experiment(
        chaos_workshop(*steps),
        cluster=instant_cluster(),
        options=ChaosOptions(steps=("churn",)),
    )
    assert [s.name for s in result.steps] == ["churn"]


def test_an_unknown_step_is_refused() -> None:
    with pytest.raises(InvalidInput, match="unknown step 'nope'"):
        run_experiment(
            chaos_workshop(PROD_NS),
            cluster=instant_cluster(),
            options=ChaosOptions(steps=("nope",)),
        )


@pytest.mark.parametrize(
    ("in_scenario", "on_command_line", "missing"),
    [
        (False, False, ["allow_calico_restart", "--allow-calico-restart"]),
        (True, False, ["--allow-calico-restart"]),
        (False, True, ["allow_calico_restart"]),
    ],
)
def test_restarting_calico_needs_both_opt_ins(
    in_scenario: bool, on_command_line: bool, missing: list[str]
) -> None:
    scenario = chaos_workshop(RestartCalico(), allow_calico_restart=in_scenario)
    options = ChaosOptions(allow_calico_restart=on_command_line)
    with pytest.raises(InvalidInput) as caught:
        run_experiment(scenario, cluster=instant_cluster(), options=options)
    (problem,) = caught.value.problems
    assert all(word in problem.message for word in missing)


def test_measurement_error_stays_within_the_reported_resolution_when_probes_take_time() -> None:
    # Blocked probes cost 0.1 s each and batches run one after the other: rounds take time,
    # and the phase says how far apart a cell's probes really were.
    cluster = SimulatedCluster(
        perturbations=PerturbationFaults(programming=_constant(2.2)),
        timeout_ms=100.0,
        exec_overhead_ms=5.0,
    )
    result = run_experiment(chaos_workshop(SwitchVersion("allow-pod")), cluster=cluster)
    for phase in _only_step(result):
        assert phase.convergence_s is not None
        assert 2.2 <= phase.convergence_s <= 2.2 + phase.resolution_s
        assert INTERVAL <= phase.resolution_s < INTERVAL + 0.5
