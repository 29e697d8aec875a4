"""/metrics in the Prometheus text exposition format (version 0.0.4), written by hand.

netpol_drift_runs{status="failed"} 3
netpol_drift_regressions_total 17
netpol_drift_last_run_regressions{scenario="shop"} 2
netpol_drift_drifted_cells{scenario="shop",mark="alarm"} 1
netpol_drift_run_duration_seconds_bucket{le="60"} 12
netpol_drift_queue_depth 0
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Final

from service.queries.metrics import MetricsSnapshot

__all__ = ["CONTENT_TYPE", "render_metrics"]

CONTENT_TYPE: Final = "text/plain; version=0.0.4; charset=utf-8"


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _number(value: float) -> str:
    if value == int(value):
        return str(int(value))
    return repr(float(value))


def _family(name: str, kind: str, help_text: str) -> Iterator[str]:
    yield f"# HELP {name} {help_text}"
    yield f"# TYPE {name} {kind}"


def render_metrics(snapshot: MetricsSnapshot, *, queue_depth: int | None, queue_source: str) -> str:
    """The exposition text; ``queue_depth`` None leaves the queue gauge out (unreadable)."""
    lines: list[str] = []
    lines += _family("netpol_drift_runs", "gauge", "Runs in the store by status.")
    for status, count in sorted(snapshot.runs_by_status.items()):
        lines.append(f'netpol_drift_runs{{status="{_label(status)}"}} {count}')

    lines += _family(
        "netpol_drift_regressions_total",
        "counter",
        "Regressions found by every finished run in the store.",
    )
    lines.append(f"netpol_drift_regressions_total {snapshot.regressions_total}")

    lines += _family(
        "netpol_drift_last_run_regressions",
        "gauge",
        "Regressions of each scenario's newest finished run.",
    )
    for item in snapshot.scenarios:
        lines.append(
            f'netpol_drift_last_run_regressions{{scenario="{_label(item.scenario)}"}}'
            f" {item.regressions}"
        )

    lines += _family(
        "netpol_drift_drifted_cells",
        "gauge",
        "Cells whose verdict changed in each scenario's newest finished run since the one"
        " before; alarm: with unchanged policy content.",
    )
    for item in snapshot.scenarios:
        if item.drift is None:
            continue
        scenario = _label(item.scenario)
        for mark, count in (("alarm", item.drift.alarm), ("expected", item.drift.expected)):
            lines.append(
                f'netpol_drift_drifted_cells{{scenario="{scenario}",mark="{mark}"}} {count}'
            )

    durations = snapshot.durations
    lines += _family(
        "netpol_drift_run_duration_seconds",
        "histogram",
        "Duration of finished runs, from start to finish.",
    )
    for bound, count in durations.buckets:
        lines.append(f'netpol_drift_run_duration_seconds_bucket{{le="{_number(bound)}"}} {count}')
    lines.append(f'netpol_drift_run_duration_seconds_bucket{{le="+Inf"}} {durations.count}')
    lines.append(f"netpol_drift_run_duration_seconds_sum {_number(round(durations.sum_s, 6))}")
    lines.append(f"netpol_drift_run_duration_seconds_count {durations.count}")

    if queue_depth is not None:
        lines += _family(
            "netpol_drift_queue_depth",
            "gauge",
            f"Work waiting to be executed ({queue_source}).",
        )
        lines.append(f"netpol_drift_queue_depth {queue_depth}")
    return "\n".join(lines) + "\n"
