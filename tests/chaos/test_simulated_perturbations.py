"""The simulator's model of perturbations: per-cell programming delays, pods created again
un-isolated, restart blackouts; all seeded, all on the simulated clock."""

from __future__ import annotations

import pytest

from service.cluster.base import Perturbation, ProbeRequest
from service.cluster.faults import BlackoutMode, Delay, DelayKind, FaultConfig, PerturbationFaults
from service.cluster.simulated import SimulatedCluster
from service.errors import ClusterError, InvalidInput
from service.policy.model import Labels, Protocol
from service.scenario.cells import RawOutcome
from service.scenario.plan import Layout, plan_matrix
from tests.runner.builders import WORKSHOP_VERSIONS, workshop

DENY_ALL, ALLOW_POD, ALLOW_NS = WORKSHOP_VERSIONS[1], WORKSHOP_VERSIONS[2], WORKSHOP_VERSIONS[3]
BACKEND = "development/backend"
PROD_FRONTEND = "production/probe-frontend"
DEV_FRONTEND = "development/probe-frontend"
DEV_NOBODY = "development/probe-unlabelled"


def _layout() -> Layout:
    return plan_matrix(workshop(), versions=["none"]).layout


def _cluster(**perturbations: object) -> SimulatedCluster:
    cluster = SimulatedCluster(
        perturbations=PerturbationFaults(**perturbations),  # type: ignore[arg-type]
        timeout_ms=0.0,
        exec_overhead_ms=0.0,
    )
    cluster.set_up(layout=_layout())
    return cluster


def _probe(cluster: SimulatedCluster, source: str, target: str = BACKEND) -> RawOutcome:
    (result,) = cluster.probe(source=source, requests=[ProbeRequest("k", target, 80, Protocol.TCP)])
    return result.outcome


CONNECTED, TIMEOUT = RawOutcome.CONNECTED, RawOutcome.TIMEOUT


@pytest.mark.parametrize(
    ("text", "delay"),
    [
        ("2", Delay(DelayKind.CONSTANT, 2.0)),
        ("constant:0.5", Delay(DelayKind.CONSTANT, 0.5)),
        ("uniform:1,3", Delay(DelayKind.UNIFORM, 1.0, 3.0)),
        ("lognormal:1.5,0.4", Delay(DelayKind.LOGNORMAL, 1.5, 0.4)),
        (" Uniform: 0 , 2 ", Delay(DelayKind.UNIFORM, 0.0, 2.0)),
    ],
)
def test_delays_are_written_as_a_distribution(text: str, delay: Delay) -> None:
    assert Delay.parse(text) == delay


@pytest.mark.parametrize(
    "text", ["", "fast", "uniform:3", "uniform:3,1", "normal:1,1", "-1", "nan"]
)
def test_impossible_delays_are_refused(text: str) -> None:
    with pytest.raises(InvalidInput):
        Delay.parse(text)


@pytest.mark.parametrize(
    ("delay", "u", "seconds"),
    [
        (Delay(DelayKind.CONSTANT, 2.0), 0.9, 2.0),
        (Delay(DelayKind.UNIFORM, 1.0, 3.0), 0.25, 1.5),
        # the median of a lognormal is its first parameter, whatever its shape
        (Delay(DelayKind.LOGNORMAL, 1.5, 0.8), 0.5, 1.5),
    ],
)
def test_a_delay_is_sampled_by_its_quantile(delay: Delay, u: float, seconds: float) -> None:
    assert delay.sample(u) == pytest.approx(seconds)


def test_a_lognormal_tail_is_longer_above_the_median_than_below() -> None:
    delay = Delay(DelayKind.LOGNORMAL, 1.0, 0.7)
    assert delay.sample(0.9) - 1.0 > 1.0 - delay.sample(0.1)


def test_a_policy_change_reaches_a_cell_after_its_programming_delay() -> None:
    cluster = _cluster(programming=Delay(DelayKind.CONSTANT, 2.0))
    cluster.apply_version(version=ALLOW_POD)
    cluster.clock.advance(2.0)
    # allow-pod admits the production frontend...
    assert _probe(cluster, PROD_FRONTEND) is CONNECTED
    cluster.apply_version(version=ALLOW_NS)
    cluster.clock.advance(1.99)
    # ... and allow-pod-namespace, once programmed, does not.
    assert _probe(cluster, PROD_FRONTEND) is CONNECTED
    cluster.clock.advance(0.01)
    assert _probe(cluster, PROD_FRONTEND) is TIMEOUT


def test_per_cell_delays_differ_between_cells_and_repeat_with_the_seed() -> None:
    def delays(seed: int) -> list[float]:
        cluster = SimulatedCluster(
            faults=FaultConfig(seed=seed),
            perturbations=PerturbationFaults(programming=Delay(DelayKind.UNIFORM, 0.0, 10.0)),
        )
        cluster.set_up(layout=_layout())
        cluster.apply_version(version=DENY_ALL)
        return [
            cluster.timeline.programmed_at(
                1, source=source, target=BACKEND, port=80, protocol=Protocol.TCP
            )
            for source in (DEV_FRONTEND, DEV_NOBODY, PROD_FRONTEND)
        ]

    assert delays(1) == delays(1)
    assert len(set(delays(1))) == 3
    assert delays(1) != delays(2)


def test_changes_take_effect_in_order_for_each_cell() -> None:
    cluster = _cluster(programming=Delay(DelayKind.CONSTANT, 5.0), relabel=Delay())
    cluster.apply_version(version=ALLOW_NS)
    cluster.clock.advance(1.0)
    # An instant relabel made after a slow apply still waits for the apply.
    cluster.set_namespace_labels(namespace="production", labels=Labels({"purpose": "development"}))
    truth = cluster.timeline.programmed_at(
        2, source=PROD_FRONTEND, target=BACKEND, port=80, protocol=Protocol.TCP
    )
    assert truth == pytest.approx(5.0)


def test_a_relabelled_namespace_is_seen_through_the_policies_once_programmed() -> None:
    cluster = _cluster(relabel=Delay(DelayKind.CONSTANT, 1.0))
    cluster.apply_version(version=ALLOW_NS)
    assert _probe(cluster, PROD_FRONTEND) is TIMEOUT
    cluster.set_namespace_labels(namespace="production", labels=Labels({"purpose": "development"}))
    assert _probe(cluster, PROD_FRONTEND) is TIMEOUT
    cluster.clock.advance(1.0)
    assert _probe(cluster, PROD_FRONTEND) is CONNECTED


def test_a_relabelled_pod_is_seen_through_the_policies() -> None:
    cluster = _cluster()
    cluster.apply_version(version=ALLOW_NS)
    assert _probe(cluster, DEV_FRONTEND) is CONNECTED
    cluster.set_pod_labels(pod=DEV_FRONTEND, labels=Labels({"app": "webapp"}))
    assert _probe(cluster, DEV_FRONTEND) is TIMEOUT


def test_a_pod_created_again_is_ready_after_its_start_and_open_until_isolated() -> None:
    cluster = _cluster(
        pod_start=Delay(DelayKind.CONSTANT, 3.0), isolation=Delay(DelayKind.CONSTANT, 2.0)
    )
    cluster.apply_version(version=DENY_ALL)
    start = cluster.clock.now()
    new = cluster.recreate_pods(pods=[BACKEND])
    assert cluster.clock.now() - start == pytest.approx(3.0)
    assert set(new) == {BACKEND}
    # deny-all selects the backend, but its isolation is not programmed yet
    assert _probe(cluster, DEV_NOBODY) is CONNECTED
    cluster.clock.advance(1.99)
    assert _probe(cluster, DEV_NOBODY) is CONNECTED
    cluster.clock.advance(0.01)
    assert _probe(cluster, DEV_NOBODY) is TIMEOUT


def test_a_pod_created_again_gets_a_new_address() -> None:
    cluster = SimulatedCluster()
    addresses = cluster.set_up(layout=_layout())
    new = cluster.recreate_pods(pods=[BACKEND])
    assert new[BACKEND] != addresses[BACKEND]
    assert new[BACKEND] not in addresses.values()


@pytest.mark.parametrize(
    ("mode", "during"),
    [
        # nothing new is programmed, but the rules in place keep working
        (BlackoutMode.FROZEN, CONNECTED),
        (BlackoutMode.BLOCKED, TIMEOUT),
        (BlackoutMode.OPEN, CONNECTED),
    ],
)
def test_a_calico_restart_blacks_out_the_dataplane_as_its_mode_says(
    mode: BlackoutMode, during: RawOutcome
) -> None:
    cluster = _cluster(blackout=Delay(DelayKind.CONSTANT, 4.0), blackout_mode=mode)
    cluster.apply_version(version=ALLOW_NS)
    cluster.restart_calico()
    assert not cluster.calico_ready()
    assert _probe(cluster, DEV_FRONTEND) is during
    cluster.clock.advance(4.0)
    assert cluster.calico_ready()
    assert _probe(cluster, DEV_FRONTEND) is CONNECTED


def test_an_open_blackout_lets_through_what_the_policies_block() -> None:
    cluster = _cluster(blackout=Delay(DelayKind.CONSTANT, 4.0), blackout_mode=BlackoutMode.OPEN)
    cluster.apply_version(version=DENY_ALL)
    cluster.restart_calico()
    assert _probe(cluster, DEV_NOBODY) is CONNECTED


def test_a_change_due_during_a_restart_takes_effect_when_calico_is_back() -> None:
    cluster = _cluster(
        programming=Delay(DelayKind.CONSTANT, 1.0), blackout=Delay(DelayKind.CONSTANT, 6.0)
    )
    cluster.apply_version(version=ALLOW_NS)
    cluster.clock.advance(1.0)
    cluster.restart_calico()
    cluster.apply_version(version=DENY_ALL)
    cluster.clock.advance(5.0)
    # due at 1 s after the apply, but calico-node is down until 6 s after the restart
    assert _probe(cluster, DEV_FRONTEND) is CONNECTED
    cluster.clock.advance(1.0)
    assert _probe(cluster, DEV_FRONTEND) is TIMEOUT


def test_a_failing_change_takes_effect_and_still_raises() -> None:
    cluster = _cluster(failing_changes=frozenset({1}))
    with pytest.raises(ClusterError, match="answer was lost"):
        cluster.apply_version(version=DENY_ALL)
    assert _probe(cluster, DEV_FRONTEND) is TIMEOUT


def test_the_simulator_can_make_every_perturbation() -> None:
    assert SimulatedCluster().supported_perturbations == frozenset(Perturbation)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda c: c.set_namespace_labels(namespace="staging", labels=Labels()), "staging"),
        (lambda c: c.set_pod_labels(pod="development/nobody", labels=Labels()), "nobody"),
        (lambda c: c.recreate_pods(pods=["development/nobody"]), "nobody"),
    ],
)
def test_perturbing_what_the_layout_lacks_is_a_cluster_error(call: object, message: str) -> None:
    cluster = _cluster()
    with pytest.raises(ClusterError, match=message):
        call(cluster)  # type: ignore[operator]
