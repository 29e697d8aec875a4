"""Health, readiness, metrics, the OpenAPI document and its docs page."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
import redis
from flask.testing import FlaskClient

from service.api.context import services
from service.api.registry import OPERATIONS
from service.store.enums import TokenRole
from tests.api.conftest import issue_tokens, make_app
from tests.api.world import YAML, tiny, wait_finished

Auth = dict[TokenRole, dict[str, str]]
REDIS_URL = "redis://127.0.0.1:6379/13"
LOSSY: dict[str, Any] = {
    "attempts": 1,
    "simulator": {"faults": {"seed": 11, "probe_loss_rate": 0.5}},
}


def test_health_and_readiness_need_no_token(client: FlaskClient) -> None:
    assert client.get("/api/v1/health").get_json() == {"status": "ok"}
    ready = client.get("/api/v1/ready")
    assert ready.status_code == 200
    body = ready.get_json()
    assert body["status"] == "ready"
    assert body["checks"]["database"]["ok"] is True
    assert "broker" not in body["checks"], "no broker configured, none checked"


def test_readiness_fails_while_the_broker_is_unreachable(database: str) -> None:
    app = make_app(database, broker_url="redis://127.0.0.1:1/0")
    try:
        response = app.test_client().get("/api/v1/ready")
        assert response.status_code == 503
        body = response.get_json()
        assert body["status"] == "unavailable"
        assert body["checks"]["broker"]["ok"] is False
        assert body["checks"]["database"]["ok"] is True
    finally:
        services(app).close()


def samples(text: str) -> dict[str, float]:
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            out[name] = float(value)
    return out


def test_metrics_count_runs_regressions_drift_and_durations(
    client: FlaskClient, auth: Auth
) -> None:
    operator = auth[TokenRole.OPERATOR]
    scenario = client.post(
        "/api/v1/scenarios", data=tiny(), headers={**operator, **YAML}
    ).get_json()
    finished = []
    for options in ({}, LOSSY):
        run = client.post(
            "/api/v1/runs",
            json={"scenario_id": scenario["id"], "options": options},
            headers=operator,
        ).get_json()
        finished.append(wait_finished(client, run["id"], operator))
    response = client.get("/metrics", headers=auth[TokenRole.VIEWER])
    assert response.status_code == 200
    assert response.mimetype == "text/plain"
    assert "version=0.0.4" in response.headers["Content-Type"]
    text = response.get_data(as_text=True)
    for family in (
        "netpol_drift_runs",
        "netpol_drift_run_duration_seconds",
        "netpol_drift_drifted_cells",
    ):
        assert f"# TYPE {family} " in text
    values = samples(text)
    statuses = [run["status"] for run in finished]
    for status in ("succeeded", "failed"):
        assert values[f'netpol_drift_runs{{status="{status}"}}'] == statuses.count(status)
    assert values["netpol_drift_regressions_total"] == sum(run["regressions"] for run in finished)
    assert (
        values['netpol_drift_last_run_regressions{scenario="tiny"}'] == finished[1]["regressions"]
    )
    drift = client.get(
        f"/api/v1/compare/runs?head={finished[1]['id']}", headers=operator
    ).get_json()
    assert (
        values['netpol_drift_drifted_cells{scenario="tiny",mark="alarm"}']
        == drift["counts"]["alarm"]
    )
    assert values["netpol_drift_run_duration_seconds_count"] == 2
    assert values['netpol_drift_run_duration_seconds_bucket{le="+Inf"}'] == 2
    buckets = [
        v for k, v in values.items() if k.startswith("netpol_drift_run_duration_seconds_bucket")
    ]
    assert buckets == sorted(buckets), "histogram buckets are cumulative"
    assert values["netpol_drift_queue_depth"] == 0


def test_queue_depth_is_the_broker_queue_length(database: str) -> None:
    broker = redis.Redis.from_url(REDIS_URL)
    try:
        broker.ping()
    except redis.ConnectionError:
        pytest.fail("Redis is not reachable at 127.0.0.1:6379 (.ci/run starts it)")
    broker.delete("netpol-drift")
    broker.rpush("netpol-drift", "a", "b", "c")
    app = make_app(database, broker_url=REDIS_URL, anonymous_read=True)
    try:
        text = app.test_client().get("/metrics").get_data(as_text=True)
        assert samples(text)["netpol_drift_queue_depth"] == 3
        assert app.test_client().get("/api/v1/ready").get_json()["checks"]["broker"]["ok"] is True
    finally:
        broker.delete("netpol-drift")
        broker.close()
        services(app).close()


def _refs(value: Any) -> list[str]:
    if isinstance(value, dict):
        found = [value["$ref"]] if isinstance(value.get("$ref"), str) else []
        return found + [r for v in value.values() for r in _refs(v)]
    if isinstance(value, list):
        return [r for v in value for r in _refs(v)]
    return []


def test_the_openapi_document_describes_every_operation(client: FlaskClient) -> None:
    document = client.get("/api/v1/openapi.json").get_json()
    assert document["openapi"] == "3.1.0"
    documented = {
        (method.upper(), path) for path, item in document["paths"].items() for method in item
    }
    registered = {(op.method, op.path) for op in OPERATIONS if op.in_schema}
    assert documented == registered
    ids = [op["operationId"] for item in document["paths"].values() for op in item.values()]
    assert len(ids) == len(set(ids))
    schemas = document["components"]["schemas"]
    for ref in _refs(document):
        assert ref.startswith("#/components/schemas/"), ref
        assert ref.rsplit("/", 1)[1] in schemas, ref
    for path, item in document["paths"].items():
        names = set(re.findall(r"{(\w+)}", path))
        for op in item.values():
            declared = {p["name"] for p in op.get("parameters", []) if p["in"] == "path"}
            assert declared == names, path
            if op["x-required-role"] is not None:
                assert {"401", "403"} <= set(op["responses"]), path


def test_the_docs_page_uses_local_assets_only(client: FlaskClient) -> None:
    page = client.get("/api/v1/docs")
    assert page.status_code == 200
    assert page.mimetype == "text/html"
    assert "default-src 'none'" in page.headers["Content-Security-Policy"]
    html = page.get_data(as_text=True)
    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert assets
    assert all(not re.match(r"\w+://|//", a) for a in assets)
    for asset in ("docs.js", "docs.css"):
        response = client.get(f"/api/v1/docs/{asset}")
        assert response.status_code == 200
        assert not re.search(r"https?://", response.get_data(as_text=True))
    assert client.get("/api/v1/docs/../app.py").status_code == 404


def test_with_a_broker_a_run_is_queued_for_the_workers(database: str) -> None:
    broker = redis.Redis.from_url(REDIS_URL)
    broker.delete("netpol-drift")
    app = make_app(database, broker_url=REDIS_URL)
    try:
        client = app.test_client()
        operator = issue_tokens(app)[TokenRole.OPERATOR]
        scenario = client.post("/api/v1/scenarios", data=tiny(), headers={**operator, **YAML})
        response = client.post(
            "/api/v1/runs", json={"scenario_id": scenario.get_json()["id"]}, headers=operator
        )
        assert response.status_code == 202
        assert response.get_json()["status"] == "queued", "no worker runs it here"
        queued = [json.loads(m) for m in broker.lrange("netpol-drift", 0, -1)]
        assert queued, "its shards wait in the queue"
        assert {m["headers"]["task"] for m in queued} == {"netpol_drift.run_shard"}
        assert {m["headers"]["argsrepr"].split(",")[0].strip("( ") for m in queued} == {
            str(response.get_json()["id"])
        }
        metrics = client.get("/metrics", headers=operator).get_data(as_text=True)
        assert samples(metrics)["netpol_drift_queue_depth"] == len(queued)
    finally:
        broker.delete("netpol-drift")
        broker.close()
        services(app).close()
