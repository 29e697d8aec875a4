"""Schemathesis against the served OpenAPI document: no 5xx, no response that breaks it.

Every documented operation gets generated requests (valid and invalid ones) with
an admin token, in-process through the WSGI app, against a database holding a
scenario, a finished run and a schedule. The checks that must pass: no server
error; status codes, content types, headers and bodies as documented; and, for
request bodies, invalid data refused. Examples per operation are bounded
so the whole test stays well under a minute.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import negative_data_rejection, positive_data_acceptance

from service.api.context import services
from service.api.registry import OPERATIONS
from service.store.enums import TokenRole
from tests.api.conftest import issue_tokens, make_app, truncate
from tests.api.world import YAML, tiny, wait_finished

# Per operation and mode: about 30 operations x 2 modes x this stays under a minute.
EXAMPLES = 20


@pytest.fixture(scope="module")
def seeded_app(migrated_database: str) -> Iterator[tuple[Flask, dict[str, str]]]:
    truncate(migrated_database)
    app = make_app(migrated_database)
    admin = issue_tokens(app)[TokenRole.ADMIN]
    client = app.test_client()
    created = client.post("/api/v1/scenarios", data=tiny(), headers={**admin, **YAML}).get_json()
    run = client.post("/api/v1/runs", json={"scenario_id": created["id"]}, headers=admin).get_json()
    wait_finished(client, run["id"], admin)
    client.post(
        "/api/v1/schedules", json={"scenario_id": created["id"], "cron": "@daily"}, headers=admin
    )
    try:
        yield app, admin
    finally:
        services(app).close()


@pytest.fixture(scope="module")
def api_schema(seeded_app: tuple[Flask, dict[str, str]]) -> Any:
    app, _ = seeded_app
    return schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)


# Parametrised from our registry (known at import), each resolved in the served document;
# schemathesis's own lazy parametrisation does not run on this pytest.
BY_ROUTE = {(op.path, op.method): op for op in OPERATIONS}
# Negative data needs something to make invalid: a parameter or a body.
CASES = sorted(
    (op.path, op.method, mode)
    for op in OPERATIONS
    if op.in_schema
    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
    if mode is GenerationMode.POSITIVE
    or op.query is not None
    or op.body is not None
    or op.path_parameters
    or op.etag
)


@pytest.mark.parametrize(("path", "method", "mode"), CASES)
def test_every_operation_conforms_to_the_document(
    api_schema: Any,
    seeded_app: tuple[Flask, dict[str, str]],
    path: str,
    method: str,
    mode: GenerationMode,
) -> None:
    _, admin = seeded_app
    operation = api_schema[path][method]
    # "Schema-valid data must be accepted" cannot hold where validity needs the store
    # (an unknown cursor, a cron that parses, a scenario that plans). "Invalid data must
    # be refused" misfires on query strings, where an invalid boolean serialises to a
    # valid string ("false"); it is checked on bodies, and test_bad_input checks
    # rejections one by one.
    excluded = [positive_data_acceptance]
    if BY_ROUTE[(path, method)].body is None:
        excluded.append(negative_data_rejection)

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def check(case: Any) -> None:
        case.call_and_validate(headers=admin, excluded_checks=excluded)

    check()
