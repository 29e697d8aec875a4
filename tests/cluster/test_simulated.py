"""SimulatedCluster: answers from the engine, simulated time, deterministic faults."""

from __future__ import annotations

import pytest

from service.cluster.base import ProbeRequest, ProbeResult
from service.cluster.clock import SimulatedClock
from service.cluster.faults import EnforcementWindow, FaultConfig, WindowMode
from service.cluster.simulated import SimulatedCluster
from service.errors import ClusterError, InvalidInput
from service.scenario.cells import Cell, RawOutcome, verdict_of
from service.scenario.model import Verdict
from service.scenario.plan import Matrix, plan_matrix
from tests.runner.builders import WORKSHOP_VERSIONS, workshop

DENY_ALL = WORKSHOP_VERSIONS[1]
ALLOW_POD = WORKSHOP_VERSIONS[2]


def _matrix() -> Matrix:
    return plan_matrix(workshop(), versions=["none"])


def _request(cell: Cell) -> ProbeRequest:
    assert cell.port_number is not None
    return ProbeRequest(cell.key, cell.target_pod, cell.port_number, cell.protocol)


def _probe_all(cluster: SimulatedCluster, matrix: Matrix) -> dict[str, ProbeResult]:
    """Every cell once, one batch per source pod; results by cell key."""
    out: dict[str, ProbeResult] = {}
    cells = matrix.cells_of(matrix.versions[0].name)
    for source in dict.fromkeys(c.source_pod for c in cells):
        batch = [c for c in cells if c.source_pod == source]
        for result in cluster.probe(source=source, requests=[_request(c) for c in batch]):
            out[result.key] = result
    return out


def _observed(cluster: SimulatedCluster, matrix: Matrix) -> dict[tuple[str, str], Verdict]:
    cells = {c.key: c for c in matrix.cells}
    return {
        (cells[k].source_ref, cells[k].target_ref): verdict_of(r.outcome)
        for k, r in _probe_all(cluster, matrix).items()
    }


def _ready(faults: FaultConfig | None = None) -> tuple[SimulatedCluster, Matrix]:
    matrix = _matrix()
    cluster = SimulatedCluster(faults=faults)
    cluster.set_up(layout=matrix.layout)
    return cluster, matrix


@pytest.mark.parametrize(
    ("outcome", "verdict"),
    [
        (RawOutcome.CONNECTED, Verdict.ALLOWED),
        (RawOutcome.TIMEOUT, Verdict.BLOCKED),
        (RawOutcome.REFUSED, Verdict.ERROR),
        (RawOutcome.DNS_ERROR, Verdict.ERROR),
        (RawOutcome.EXEC_ERROR, Verdict.ERROR),
    ],
)
def test_only_a_timeout_reads_as_blocked(outcome: RawOutcome, verdict: Verdict) -> None:
    assert verdict_of(outcome) is verdict


def test_set_up_gives_every_pod_its_own_address() -> None:
    matrix = _matrix()
    addresses = SimulatedCluster().set_up(layout=matrix.layout)
    assert set(addresses) == {p.ref for p in matrix.layout.pods}
    assert len(set(addresses.values())) == len(addresses)


def test_probes_answer_what_the_engine_says_of_the_applied_version() -> None:
    cluster, matrix = _ready()
    cluster.apply_version(version=ALLOW_POD)
    observed = _observed(cluster, matrix)
    assert observed == {
        ("development/unlabelled", "development/backend"): Verdict.BLOCKED,
        ("development/frontend", "development/backend"): Verdict.ALLOWED,
        ("production/unlabelled", "development/backend"): Verdict.BLOCKED,
        ("production/frontend", "development/backend"): Verdict.ALLOWED,
    }


def test_before_any_version_nothing_is_enforced() -> None:
    cluster, matrix = _ready()
    assert set(_observed(cluster, matrix).values()) == {Verdict.ALLOWED}


def test_a_batch_costs_its_slowest_probe_plus_the_exec() -> None:
    clock = SimulatedClock()
    matrix = _matrix()
    cluster = SimulatedCluster(clock=clock, timeout_ms=1000.0, exec_overhead_ms=20.0)
    cluster.set_up(layout=matrix.layout)
    cluster.apply_version(version=DENY_ALL)
    cell = matrix.cells[0]
    before = clock.now()
    (result,) = cluster.probe(source=cell.source_pod, requests=[_request(cell)])
    assert result.outcome is RawOutcome.TIMEOUT
    assert clock.now() - before == pytest.approx(1.020)


def test_same_seed_gives_the_same_outcomes_and_latencies() -> None:
    faults = FaultConfig(seed=11, probe_loss_rate=0.5)
    runs = []
    for _ in range(2):
        cluster, matrix = _ready(faults)
        cluster.apply_version(version=WORKSHOP_VERSIONS[0])
        runs.append([_probe_all(cluster, matrix) for _ in range(4)])
    assert runs[0] == runs[1]


def test_another_seed_gives_other_losses() -> None:
    seen = set()
    for seed in range(6):
        cluster, matrix = _ready(FaultConfig(seed=seed, probe_loss_rate=0.5))
        rounds = [_probe_all(cluster, matrix) for _ in range(3)]
        seen.add(tuple(r.outcome for round_ in rounds for r in round_.values()))
    assert len(seen) > 1


def test_outcomes_do_not_depend_on_how_cells_are_batched() -> None:
    faults = FaultConfig(seed=5, probe_loss_rate=0.5)
    cluster, matrix = _ready(faults)
    together = _probe_all(cluster, matrix)
    alone_cluster, _ = _ready(faults)
    alone = {}
    for cell in reversed(matrix.cells):
        (result,) = alone_cluster.probe(source=cell.source_pod, requests=[_request(cell)])
        alone[result.key] = result
    assert {k: r.outcome for k, r in together.items()} == {k: r.outcome for k, r in alone.items()}


def test_probe_loss_turns_only_connecting_probes_into_timeouts() -> None:
    cluster, matrix = _ready(FaultConfig(seed=1, probe_loss_rate=1.0))
    cluster.apply_version(version=ALLOW_POD)
    results = _probe_all(cluster, matrix)
    assert {r.outcome for r in results.values()} == {RawOutcome.TIMEOUT}
    lost = [r for r in results.values() if "probe loss" in r.detail]
    assert len(lost) == 2  # the two frontend cells; the blocked ones were never answered


def test_enforcement_delay_keeps_the_previous_version_in_force() -> None:
    clock = SimulatedClock()
    matrix = _matrix()
    cluster = SimulatedCluster(clock=clock, faults=FaultConfig(enforcement_delay_s=5.0))
    cluster.set_up(layout=matrix.layout)
    cluster.apply_version(version=DENY_ALL)
    assert set(_observed(cluster, matrix).values()) == {Verdict.ALLOWED}  # nothing yet
    clock.advance(5.0)
    assert set(_observed(cluster, matrix).values()) == {Verdict.BLOCKED}
    cluster.apply_version(version=ALLOW_POD)
    assert set(_observed(cluster, matrix).values()) == {Verdict.BLOCKED}  # deny-all still
    clock.advance(5.0)
    assert set(_observed(cluster, matrix).values()) == {Verdict.ALLOWED, Verdict.BLOCKED}


@pytest.mark.parametrize(
    ("mode", "verdict"),
    [(WindowMode.FAIL_OPEN, Verdict.ALLOWED), (WindowMode.OVER_ENFORCED, Verdict.BLOCKED)],
)
def test_enforcement_window_overrides_the_version_for_its_duration(
    mode: WindowMode, verdict: Verdict
) -> None:
    clock = SimulatedClock()
    matrix = _matrix()
    # Probing all four sources takes about two seconds (blocked probes wait out the timeout).
    window = EnforcementWindow("allow-pod", mode, start_s=10.0, duration_s=10.0)
    cluster = SimulatedCluster(clock=clock, faults=FaultConfig(windows=(window,)))
    cluster.set_up(layout=matrix.layout)
    cluster.apply_version(version=ALLOW_POD)
    enforced = _observed(cluster, matrix)
    assert set(enforced.values()) == {Verdict.ALLOWED, Verdict.BLOCKED}
    clock.advance(12.0 - clock.now())
    assert set(_observed(cluster, matrix).values()) == {verdict}
    clock.advance(25.0 - clock.now())
    assert _observed(cluster, matrix) == enforced


def test_window_of_another_version_changes_nothing() -> None:
    window = EnforcementWindow("deny-all", WindowMode.FAIL_OPEN)
    cluster, matrix = _ready(FaultConfig(windows=(window,)))
    cluster.apply_version(version=ALLOW_POD)
    assert Verdict.BLOCKED in _observed(cluster, matrix).values()


def test_refusing_target_refuses_what_policy_lets_through_and_drops_the_rest() -> None:
    cluster, matrix = _ready(FaultConfig(refusing_targets=frozenset({"development/backend"})))
    cluster.apply_version(version=ALLOW_POD)
    observed = _observed(cluster, matrix)
    assert observed[("development/frontend", "development/backend")] is Verdict.ERROR
    assert observed[("development/unlabelled", "development/backend")] is Verdict.BLOCKED


def test_exec_failure_is_an_exec_error_never_a_timeout() -> None:
    cluster, matrix = _ready(FaultConfig(exec_failure_rate=1.0))
    cluster.apply_version(version=DENY_ALL)
    results = _probe_all(cluster, matrix)
    assert {r.outcome for r in results.values()} == {RawOutcome.EXEC_ERROR}


def test_probing_from_a_pod_outside_the_layout_is_a_cluster_error() -> None:
    cluster, matrix = _ready()
    with pytest.raises(ClusterError, match="no probe pod"):
        cluster.probe(source="development/backend", requests=[_request(matrix.cells[0])])


def test_probing_before_set_up_is_a_cluster_error() -> None:
    cell = _matrix().cells[0]
    with pytest.raises(ClusterError, match="set_up"):
        SimulatedCluster().probe(source=cell.source_pod, requests=[_request(cell)])


def test_tear_down_forgets_the_layout() -> None:
    cluster, matrix = _ready()
    with cluster:
        cluster.apply_version(version=DENY_ALL)
    cell = matrix.cells[0]
    with pytest.raises(ClusterError):
        cluster.probe(source=cell.source_pod, requests=[_request(cell)])


@pytest.mark.parametrize(
    ("faults", "path"),
    [
        ({"probe_loss_rate": 1.5}, "faults.probe_loss_rate"),
        ({"exec_failure_rate": -0.1}, "faults.exec_failure_rate"),
        ({"enforcement_delay_s": -1.0}, "faults.enforcement_delay_s"),
        ({"enforcement_delay_s": float("inf")}, "faults.enforcement_delay_s"),
        (
            {"windows": (EnforcementWindow("v", WindowMode.FAIL_OPEN, duration_s=0.0),)},
            "faults.windows[0].duration_s",
        ),
        ({"refusing_targets": frozenset({"backend"})}, "faults.refusing_targets"),
    ],
)
def test_fault_config_rejects_impossible_values(faults: dict[str, object], path: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        FaultConfig(**faults)  # type: ignore[arg-type]
    assert [str(p.path) for p in caught.value.problems] == [path]


def test_fault_config_reports_every_problem_at_once() -> None:
    with pytest.raises(InvalidInput) as caught:
        FaultConfig(probe_loss_rate=2.0, exec_failure_rate=2.0, enforcement_delay_s=-1.0)
    assert len(caught.value.problems) == 3
