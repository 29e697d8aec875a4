"""The Prometheus text of the metrics: families, escaping, cumulative buckets."""

from __future__ import annotations

from service.api.metrics import render_metrics
from service.compare import DriftCounts
from service.queries.metrics import DurationHistogram, MetricsSnapshot, ScenarioLatest


def snapshot() -> MetricsSnapshot:
    return MetricsSnapshot(
        runs_by_status={"succeeded": 2, "failed": 1},
        regressions_total=4,
        scenarios=(
            ScenarioLatest('shop "eu"\\prod', 9, 3, DriftCounts(alarm=2, expected=5)),
            ScenarioLatest("lab", 4, 0, None),
        ),
        durations=DurationHistogram(buckets=((1.0, 1), (5.0, 3)), count=3, sum_s=7.5),
    )


def test_every_sample_line_belongs_to_a_declared_family() -> None:
    text = render_metrics(snapshot(), queue_depth=7, queue_source="the broker")
    declared = {line.split()[2] for line in text.splitlines() if line.startswith("# TYPE")}
    for line in text.splitlines():
        if not line.startswith("#"):
            name = line.split("{")[0].split(" ")[0]
            assert name in declared or name.rsplit("_", 1)[0] in declared, line
    assert "netpol_drift_queue_depth 7" in text


def test_label_values_are_escaped() -> None:
    text = render_metrics(snapshot(), queue_depth=None, queue_source="")
    assert 'scenario="shop \\"eu\\"\\\\prod",mark="alarm"} 2' in text
    assert "netpol_drift_queue_depth" not in text, "left out when unreadable"


def test_a_scenario_without_an_earlier_run_has_no_drift_samples() -> None:
    text = render_metrics(snapshot(), queue_depth=0, queue_source="")
    assert 'netpol_drift_last_run_regressions{scenario="lab"} 0' in text
    assert 'drifted_cells{scenario="lab"' not in text


def test_the_histogram_ends_with_inf_sum_and_count() -> None:
    text = render_metrics(snapshot(), queue_depth=0, queue_source="")
    assert 'netpol_drift_run_duration_seconds_bucket{le="5"} 3' in text
    assert 'netpol_drift_run_duration_seconds_bucket{le="+Inf"} 3' in text
    assert "netpol_drift_run_duration_seconds_sum 7.5" in text
    assert "netpol_drift_run_duration_seconds_count 3" in text
