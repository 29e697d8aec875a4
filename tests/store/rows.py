"""Rows the store tests write: a scenario with a revision and its cells, runs, cell results."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from service.policy.model import Protocol
from service.scenario.cells import RawOutcome
from service.scenario.model import Verdict
from service.store import Backend, Run, Scenario, ScenarioRevision, Trigger


def at(hour: int, minute: int = 0) -> datetime:
    return datetime(2025, 11, 26, hour, minute, tzinfo=UTC)


def add_scenario(session: Session, name: str = "workshop") -> ScenarioRevision:
    scenario = Scenario(name=name)
    revision = ScenarioRevision(
        scenario=scenario,
        content_hash="a" * 64,
        source_text="name: workshop\n",
        canonical_json='{"name":"workshop"}',
    )
    session.add_all([scenario, revision])
    session.flush()
    return revision


def add_run(session: Session, revision: ScenarioRevision, **fields: Any) -> Run:
    run = Run(
        scenario_id=revision.scenario_id,
        revision_id=revision.id,
        trigger=fields.pop("trigger", Trigger.CLI),
        backend=fields.pop("backend", Backend.SIMULATED),
        **fields,
    )
    session.add(run)
    session.flush()
    return run


def revision_cell_row(revision_id: int, cell_key: str, **overrides: Any) -> dict[str, Any]:
    """A complete planned cell of a revision, as run creation writes it."""
    row: dict[str, Any] = {
        "revision_id": revision_id,
        "cell_key": cell_key,
        "pair_key": "p" + cell_key,
        "ordinal": 0,
        "version": "v1",
        "source_namespace": "x",
        "source_name": "frontend",
        "source_labels": "app=frontend",
        "target_namespace": "y",
        "target_name": "backend",
        "port": "80",
        "resolved_port": 80,
        "protocol": Protocol.TCP,
        "loopback": False,
        "expected": Verdict.ALLOWED,
        "explanation": "ingress: not isolated",
    }
    row.update(overrides)
    return row


def cell_row(run_id: int, cell_key: str, **overrides: Any) -> dict[str, Any]:
    """A complete cell result row as a shard would write it."""
    row: dict[str, Any] = {
        "run_id": run_id,
        "cell_key": cell_key,
        "observed": Verdict.ALLOWED,
        "raw_outcome": RawOutcome.CONNECTED,
        "latency_ms": 1.5,
        "attempts": 1,
        "attempt_details": None,
        "regression": False,
        "flaky": False,
        "expected_override": None,
        "explanation_override": None,
    }
    row.update(overrides)
    return row
