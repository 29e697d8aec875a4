"""What the API tests work with: small scenarios, tokens by role, and waiting for runs."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from flask.testing import FlaskClient
from werkzeug.test import TestResponse

# Two namespaces, two targets (one port each), two sources, two versions:
# 2 versions x 2 namespaces x 2 sources x 2 targets = 16 cells.
TINY = """\
name: tiny
description: two namespaces, two targets, two sources, two versions
namespaces:
  front: {team: front}
  back: {team: back}
targets:
  - {name: web, namespace: front, labels: {app: web}, ports: [{port: 80, name: http}]}
  - {name: db, namespace: back, labels: {app: db}, ports: [{port: 5432, name: pg}]}
matrix:
  sources:
    client: {app: client}
    web: {app: web}
versions:
  - name: open
    description: no policy
  - name: locked
    description: the database accepts only the web pods
    policies:
      - apiVersion: networking.k8s.io/v1
        kind: NetworkPolicy
        metadata: {name: db-from-web, namespace: back}
        spec:
          podSelector: {matchLabels: {app: db}}
          ingress:
            - from:
                - namespaceSelector: {}
                  podSelector: {matchLabels: {app: web}}
"""
TINY_CELLS = 16


def tiny(name: str = "tiny", *, description: str | None = None) -> str:
    text = TINY.replace("name: tiny", f"name: {name}", 1)
    if description is not None:
        text = text.replace(
            "description: two namespaces, two targets, two sources, two versions",
            f"description: {description}",
            1,
        )
    return text


YAML = {"Content-Type": "application/yaml"}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def wait_finished(
    client: FlaskClient, run_id: int, headers: Mapping[str, str], timeout_s: float = 60.0
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while True:
        response = client.get(f"/api/v1/runs/{run_id}", headers=dict(headers))
        assert response.status_code == 200, response.get_data(as_text=True)
        body: dict[str, Any] = response.get_json()
        if body["status"] not in ("queued", "running"):
            return body
        if time.monotonic() > deadline:
            raise AssertionError(f"run {run_id} still {body['status']} after {timeout_s} s")
        time.sleep(0.05)


def problem(response: TestResponse, status: int) -> dict[str, Any]:
    """The problem document of ``response``, checked to be one with ``status``."""
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json", response.mimetype
    body: dict[str, Any] = response.get_json()
    assert body["status"] == status
    assert {"type", "title", "detail", "instance"} <= set(body)
    return body


def error_paths(body: Mapping[str, Any]) -> list[str]:
    return [e["path"] for e in body.get("errors") or []]
