"""Convergence polling on the simulated clock: canaries, the time measured, what is stored."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence

import pytest

from service.cluster.base import ProbeRequest, ProbeResult
from service.cluster.faults import EnforcementWindow, FaultConfig, WindowMode
from service.cluster.simulated import SimulatedCluster
from service.errors import InvalidInput
from service.runner import ConvergenceOptions, RunOptions, run_scenario
from service.runner.concurrency import probe_concurrency
from service.runner.convergence import await_convergence, pick_canaries
from service.scenario.model import Verdict
from service.scenario.plan import plan_matrix, plan_version
from tests.runner.builders import twins, workshop

SETTLE = ConvergenceOptions(settle_s=30.0, poll_interval_s=1.0)


def test_canaries_are_the_cells_whose_expected_verdict_changes() -> None:
    matrix = plan_matrix(workshop())
    deny_all = plan_version(matrix, "deny-all")
    allow_pod = plan_version(matrix, "allow-pod")
    canaries = pick_canaries(allow_pod, deny_all, limit=10)
    # allow-pod re-admits the frontend pods, from both namespaces.
    assert sorted(c.source_ref for c in canaries) == ["development/frontend", "production/frontend"]
    before = {c.pair_key: deny_all.expected[c.key].verdict for c in deny_all.cells}
    for cell in canaries:
        assert before[cell.pair_key] is Verdict.BLOCKED
        assert allow_pod.expected[cell.key].verdict is Verdict.ALLOWED


def test_first_version_is_compared_with_no_policy_at_all() -> None:
    matrix = plan_matrix(workshop())
    assert pick_canaries(plan_version(matrix, "none"), None, limit=10) == ()
    blocked = pick_canaries(plan_version(matrix, "deny-all"), None, limit=10)
    assert len(blocked) == 4


def test_canaries_are_spread_over_source_pods_up_to_the_limit() -> None:
    matrix = plan_matrix(workshop())
    canaries = pick_canaries(plan_version(matrix, "deny-all"), None, limit=2)
    assert len({c.source_pod for c in canaries}) == 2


def test_convergence_time_is_the_enforcement_delay_rounded_up_to_a_poll() -> None:
    cluster = SimulatedCluster(faults=FaultConfig(enforcement_delay_s=4.5))
    result = run_scenario(
        workshop(), cluster=cluster, options=RunOptions(attempts=1), convergence=SETTLE
    )
    assert result.ok  # cells are probed only once the dataplane has caught up
    for version in result.versions[1:]:
        settled = version.convergence
        assert settled is not None
        assert settled.settled
        assert settled.seconds is not None
        assert 4.5 <= settled.seconds < 4.5 + 2.5
        assert settled.polls >= 2


def test_version_that_never_converges_is_reported_and_probed_anyway() -> None:
    window = EnforcementWindow("deny-all", WindowMode.FAIL_OPEN)
    cluster = SimulatedCluster(faults=FaultConfig(windows=(window,)))
    result = run_scenario(
        workshop(),
        cluster=cluster,
        versions=["none", "deny-all"],
        options=RunOptions(attempts=2),
        convergence=ConvergenceOptions(settle_s=5.0, poll_interval_s=1.0),
    )
    settled = result.version("deny-all").convergence
    assert settled is not None
    assert not settled.settled
    assert settled.seconds is None
    assert settled.waited_s >= 5.0
    assert "still differ" in settled.note
    assert len(result.version("deny-all").regressions) == 4


def test_version_changing_nothing_has_nothing_to_wait_for() -> None:
    cluster = SimulatedCluster()
    result = run_scenario(workshop(), cluster=cluster, versions=["none"], convergence=SETTLE)
    settled = result.version("none").convergence
    assert settled is not None
    assert settled.settled
    assert settled.seconds == 0.0
    assert settled.polls == 0
    assert settled.canaries == ()


def test_canaries_that_cannot_be_probed_are_dropped_not_waited_on() -> None:
    cluster = SimulatedCluster(faults=FaultConfig(exec_failure_rate=1.0))
    matrix = plan_matrix(workshop(), versions=["deny-all"])
    cluster.set_up(layout=matrix.layout)
    cluster.apply_version(version=matrix.versions[0])
    plan = plan_version(matrix, "deny-all")
    settled = await_convergence(cluster=cluster, plan=plan, previous=None, options=SETTLE)
    assert not settled.settled
    assert settled.seconds is None
    assert settled.polls == 1
    assert "could not be probed" in settled.note


def test_without_convergence_nothing_is_polled() -> None:
    cluster = SimulatedCluster()
    result = run_scenario(workshop(), cluster=cluster)
    assert all(v.convergence is None for v in result.versions)
    assert result.to_dict()["versions"][0]["convergence"] is None


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"settle_s": -1.0}, "settle_s"),
        ({"poll_interval_s": float("nan")}, "poll_interval_s"),
        ({"canaries": 0}, "canaries"),
    ],
)
def test_bad_convergence_options_are_invalid_input(changes: dict[str, float], field: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        ConvergenceOptions(**changes)  # type: ignore[arg-type]
    assert [str(p.path) for p in caught.value.problems] == [field]


class _Concurrent(SimulatedCluster):
    """A simulator that says it takes several probes at once and records the overlap."""

    probe_concurrency = 4

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()
        self.in_flight = 0
        self.most_in_flight = 0

    def probe(self, *, source: str, requests: Sequence[ProbeRequest]) -> tuple[ProbeResult, ...]:
        with self._lock:
            self.in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self.in_flight)
        time.sleep(0.05)
        with self._lock:
            results = super().probe(source=source, requests=requests)
            self.in_flight -= 1
        return results


def test_a_cluster_taking_concurrent_probes_gets_its_sources_at_once() -> None:
    cluster = _Concurrent()
    assert probe_concurrency(cluster) == 4
    assert probe_concurrency(SimulatedCluster()) == 1
    result = run_scenario(twins(), cluster=cluster)
    assert result.ok
    assert cluster.most_in_flight == 4  # four source pods, one round
    # Results stay in plan order whatever order the execs finished in.
    planned = [c.key for c in plan_matrix(twins()).cells]
    assert [r.cell.key for r in result.cells] == planned
