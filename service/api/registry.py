"""Operations: each route declared once, with what it takes, answers and needs.

A view is registered through :func:`operation`, which records an
:class:`Operation` (its path, method, role, query and body models, replies)
and wraps the view so that, before it runs, the caller is authorised
(:mod:`service.api.security`) and the query parameters and JSON body are
parsed into their models (:mod:`service.api.parsing`). The OpenAPI document
(:mod:`service.api.openapi`) is generated from the same records, so the
document cannot drift from what the code does.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from flask import Blueprint, Response
from pydantic import BaseModel

from service.api.parsing import parse_json_body, parse_query
from service.api.problems import bad_request
from service.api.security import authorize
from service.errors import InvalidInput
from service.store.enums import TokenRole

__all__ = [
    "OPERATIONS",
    "PREFIX",
    "BodySpec",
    "Operation",
    "Reply",
    "json_response",
    "openapi_path",
    "operation",
]

PREFIX: Final = "/api/v1"

View = Callable[..., Response]


@dataclass(frozen=True, slots=True)
class Reply:
    """A documented response. ``schema`` (a type pydantic can describe, or a JSON
    Schema dict for non-JSON bodies) describes the body; None: no body."""

    status: int
    description: str
    schema: Any = None
    media_type: str = "application/json"
    headers: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class BodySpec:
    """A request body: ``model`` is parsed from JSON by the wrapper; with ``raw`` the view
    reads the body itself and ``schemas`` document each media type it takes."""

    model: type[BaseModel] | None = None
    raw: bool = False
    schemas: Mapping[str, Any] = field(default_factory=dict)
    description: str = ""


@dataclass(frozen=True, slots=True)
class Operation:
    id: str
    method: str
    rule: str
    summary: str
    description: str
    tag: str
    role: TokenRole | None
    query: type[BaseModel] | None
    body: BodySpec | None
    replies: tuple[Reply, ...]
    # Error statuses the view itself may answer, beyond those implied (401/403 by a role,
    # 400 by a query or body, 413/415/422 by a body, 404 by path parameters).
    errors: tuple[int, ...] = ()
    etag: bool = False
    writes: bool = False
    in_schema: bool = True

    @property
    def path(self) -> str:
        return openapi_path(self.rule)

    @property
    def path_parameters(self) -> list[tuple[str, str]]:
        """(name, converter) of each path parameter, in order."""
        return [
            (m.group("name"), m.group("converter") or "string")
            for m in _PARAMETER.finditer(self.rule)
        ]


OPERATIONS: list[Operation] = []

_PARAMETER: Final = re.compile(r"<(?:(?P<converter>\w+):)?(?P<name>\w+)>")


def openapi_path(rule: str) -> str:
    """``/runs/<id:run_id>`` -> ``/runs/{run_id}``."""
    return _PARAMETER.sub(lambda m: "{" + m.group("name") + "}", rule)


def operation(
    blueprint: Blueprint,
    method: str,
    rule: str,
    *,
    id: str,
    summary: str,
    tag: str,
    role: TokenRole | None,
    replies: tuple[Reply, ...],
    description: str = "",
    query: type[BaseModel] | None = None,
    body: BodySpec | None = None,
    errors: tuple[int, ...] = (),
    etag: bool = False,
    writes: bool = False,
    in_schema: bool = True,
) -> Callable[[View], View]:
    """Register the decorated view on ``blueprint`` and in :data:`OPERATIONS`.

    The view is called with the path parameters, plus ``query=`` (the parsed
    query model) when ``query`` is given and ``body=`` (the parsed JSON body)
    when ``body.model`` is given and the body is not ``raw``.
    """
    op = Operation(
        id=id,
        method=method.upper(),
        rule=rule,
        summary=summary,
        description=description,
        tag=tag,
        role=role,
        query=query,
        body=body,
        replies=replies,
        errors=errors,
        etag=etag,
        writes=writes,
        in_schema=in_schema,
    )

    def register(view: View) -> View:
        @functools.wraps(view)
        def wrapper(**path: Any) -> Response:
            authorize(op.role, write=op.writes)
            kwargs = dict(path)
            if op.query is not None:
                kwargs["query"] = parse_query(op.query)
            if op.body is not None and op.body.model is not None and not op.body.raw:
                kwargs["body"] = parse_json_body(op.body.model)
            try:
                return view(**kwargs)
            except InvalidInput as err:
                # The core found a query parameter wrong (a cursor of another list):
                # a request that cannot be read, not an invalid body.
                if op.query is not None and all(
                    p.path.parts[:1] and p.path.parts[0] in op.query.model_fields
                    for p in err.problems
                ):
                    raise bad_request(err.problems) from err
                raise

        blueprint.add_url_rule(rule, endpoint=id, view_func=wrapper, methods=[op.method])
        OPERATIONS.append(op)
        return wrapper

    return register


def json_response(
    data: object,
    status: int = 200,
    *,
    headers: Mapping[str, str] | None = None,
) -> Response:
    response = Response(
        json.dumps(data, ensure_ascii=False, separators=(",", ":")),
        status=status,
        mimetype="application/json",
    )
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response
