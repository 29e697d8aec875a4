"""The OpenAPI 3.1 document, generated from the registered operations and their models.

Schemas come from pydantic: the request models (validation), the read side's
TypedDicts and the API's response shapes (serialization), all in one
``components.schemas`` with shared definitions. Objects list exactly their
properties (``additionalProperties: false``), so a client or a conformance
test can tell an unexpected field from a documented one.
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Iterator
from http import HTTPStatus
from typing import Any, Final

from pydantic import TypeAdapter
from pydantic.json_schema import JsonSchemaMode

from service import __version__
from service.api.models.common import MAX_ID, Problem
from service.api.problems import PROBLEM_JSON
from service.api.registry import OPERATIONS, Operation, Reply
from service.store.enums import TokenRole

__all__ = ["openapi_document"]

_REF: Final = "#/components/schemas/{model}"
_SECURITY: Final = "bearerAuth"
_PATH_SCHEMAS: Final[dict[str, dict[str, Any]]] = {
    "id": {"type": "integer", "minimum": 1, "maximum": MAX_ID},
    "cellkey": {"type": "string", "pattern": "^[0-9a-f]{16}$"},
    "string": {"type": "string", "minLength": 1},
}
_TAGS: Final = (
    ("scenarios", "Scenarios and their revisions; validation; mutation analysis."),
    ("runs", "Runs: start (ad hoc), list, progress, cancel."),
    ("results", "A run's cells, a version's matrix, downloads."),
    ("compare", "Run against run (drift); version against version."),
    (
        "chaos",
        "Stored chaos experiments (read only): steps, convergence, fail-open and"
        " fail-closed windows, timelines.",
    ),
    ("schedules", "Cron schedules of scenarios, with their next fire times."),
    ("tokens", "API tokens (admin)."),
    ("system", "Health, readiness, metrics and this document."),
)
_DESCRIPTION: Final = """\
The REST API of netpol-drift: scenarios, ad-hoc and scheduled runs, their results,
drift and version diffs.

Authentication: `Authorization: Bearer <token>`. Roles nest: viewer (read),
operator (scenarios, runs, schedules), admin (tokens, deleting scenarios); each
operation says the role it needs (`x-required-role`). Errors are RFC 9457
problem documents (`application/problem+json`); validation errors list every
problem with its field path. Lists page by cursor: pass a page's `next_cursor`
as `cursor`. Answers about a run carry an ETag; send it back in `If-None-Match`
to get 304 while nothing changed.
"""


def _is_type(schema: Any) -> bool:
    return not isinstance(schema, dict) and schema is not None


def _types(operations: list[Operation]) -> Iterator[tuple[Any, JsonSchemaMode]]:
    yield Problem, "serialization"
    for op in operations:
        if op.query is not None:
            yield op.query, "validation"
        if op.body is not None:
            if op.body.model is not None:
                yield op.body.model, "validation"
            for schema in op.body.schemas.values():
                if _is_type(schema):
                    yield schema, "validation"
        for reply in op.replies:
            if _is_type(reply.schema):
                yield reply.schema, "serialization"


def _close_objects(schema: Any) -> None:
    """``additionalProperties: false`` on every object schema listing properties without
    saying (TypedDicts), so that undocumented fields are errors."""
    if isinstance(schema, dict):
        if "properties" in schema and "additionalProperties" not in schema:
            schema["additionalProperties"] = False
        for value in schema.values():
            _close_objects(value)
    elif isinstance(schema, list):
        for item in schema:
            _close_objects(item)


def _problem_response(status: int) -> dict[str, Any]:
    response: dict[str, Any] = {
        "description": HTTPStatus(status).phrase,
        "content": {PROBLEM_JSON: {"schema": {"$ref": _REF.format(model="Problem")}}},
    }
    if status == 401:
        response["headers"] = {
            "WWW-Authenticate": {"schema": {"type": "string"}, "description": "Bearer"}
        }
    return response


def _error_statuses(op: Operation) -> list[int]:
    statuses = set(op.errors)
    if op.role is not None:
        statuses |= {401, 403}
    if op.query is not None or op.body is not None:
        statuses.add(400)
    if op.body is not None:
        statuses |= {413, 415, 422}
    if op.path_parameters:
        statuses.add(404)
    return sorted(statuses)


def _reply(reply: Reply, refs: dict[Any, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"description": reply.description}
    if reply.schema is not None:
        schema = refs[(reply.schema, "serialization")] if _is_type(reply.schema) else reply.schema
        out["content"] = {reply.media_type: {"schema": schema}}
    if reply.headers:
        out["headers"] = {
            name: {"schema": {"type": "string"}, "description": name} for name in reply.headers
        }
    return out


def _parameters(op: Operation, defs: dict[str, Any], refs: dict[Any, Any]) -> list[Any]:
    params: list[dict[str, Any]] = [
        {
            "name": name,
            "in": "path",
            "required": True,
            "schema": _PATH_SCHEMAS.get(converter, _PATH_SCHEMAS["string"]),
        }
        for name, converter in op.path_parameters
    ]
    if op.query is not None:
        ref = refs[(op.query, "validation")]["$ref"]
        model = defs[ref.rsplit("/", 1)[1]]
        required = set(model.get("required", ()))
        for name, prop in model.get("properties", {}).items():
            schema = copy.deepcopy(prop)
            description = schema.pop("description", None)
            schema.pop("title", None)
            param: dict[str, Any] = {
                "name": name,
                "in": "query",
                "required": name in required,
                "schema": schema,
            }
            if description:
                param["description"] = description
            if _is_array(schema):
                param["style"] = "form"
                param["explode"] = True
            params.append(param)
    if op.etag:
        params.append(
            {
                "name": "If-None-Match",
                "in": "header",
                "required": False,
                "schema": {"type": "string"},
                "description": "An ETag this API returned: 304 while it is current.",
            }
        )
    return params


def _is_array(schema: dict[str, Any]) -> bool:
    if schema.get("type") == "array":
        return True
    return any(_is_array(s) for s in schema.get("anyOf", ()) if isinstance(s, dict))


def _request_body(op: Operation, refs: dict[Any, Any]) -> dict[str, Any] | None:
    if op.body is None:
        return None
    content: dict[str, Any] = {}
    if op.body.model is not None and not op.body.raw:
        content["application/json"] = {"schema": refs[(op.body.model, "validation")]}
    for media, schema in op.body.schemas.items():
        content[media] = {"schema": refs[(schema, "validation")] if _is_type(schema) else schema}
    body: dict[str, Any] = {"required": True, "content": content}
    if op.body.description:
        body["description"] = op.body.description
    return body


def _security(op: Operation, anonymous_read: bool) -> list[dict[str, list[str]]]:
    if op.role is None:
        return []
    if op.role is TokenRole.VIEWER and anonymous_read:
        return [{}, {_SECURITY: []}]
    return [{_SECURITY: []}]


@functools.cache
def openapi_document(*, anonymous_read: bool = False) -> dict[str, Any]:
    """The document (built once per setting; callers must not change it)."""
    operations = [op for op in OPERATIONS if op.in_schema]
    wanted: dict[tuple[Any, JsonSchemaMode], None] = dict.fromkeys(_types(operations))
    adapters = [(kind, mode, TypeAdapter(kind)) for kind, mode in wanted]
    refs, generated = TypeAdapter.json_schemas(adapters, ref_template=_REF)
    defs: dict[str, Any] = dict(generated.get("$defs", {}))
    _close_objects(defs)
    paths: dict[str, dict[str, Any]] = {}
    for op in operations:
        spec: dict[str, Any] = {
            "operationId": op.id,
            "summary": op.summary,
            "tags": [op.tag],
            "security": _security(op, anonymous_read),
            "x-required-role": op.role.value if op.role is not None else None,
            "parameters": _parameters(op, defs, refs),
            "responses": {str(r.status): _reply(r, refs) for r in op.replies},
        }
        if op.description:
            spec["description"] = op.description
        body = _request_body(op, refs)
        if body is not None:
            spec["requestBody"] = body
        if op.etag:
            spec["responses"]["304"] = {"description": "Not modified: your copy is current."}
        for status in _error_statuses(op):
            spec["responses"].setdefault(str(status), _problem_response(status))
        if not spec["parameters"]:
            del spec["parameters"]
        paths.setdefault(op.path, {})[op.method.lower()] = spec
    return {
        "openapi": "3.1.0",
        "info": {"title": "netpol-drift", "version": __version__, "description": _DESCRIPTION},
        "tags": [{"name": name, "description": text} for name, text in _TAGS],
        "paths": paths,
        "components": {
            "schemas": defs,
            "securitySchemes": {
                _SECURITY: {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "A token from `netpol-drift token create`.",
                }
            },
        },
    }
