"""Errors as RFC 9457 problem details (``application/problem+json``).

Every error the API returns is one of these, including Flask's own (404 for an
unknown path, 405 for a wrong method, 413 for a body over the limit). A
validation error lists each problem with its field path (``options.attempts``),
the same as a JSON pointer (``/options/attempts``), and, for scenario
documents, the line (and file) it was found at:

    {"type": "urn:netpol-drift:problem:invalid-input", "title": "Invalid input",
     "status": 422, "detail": "2 problems in the request",
     "errors": [{"path": "matrix.sources", "pointer": "/matrix/sources",
                 "message": "...", "line": 12, ...}]}

Status codes: 400 a request that cannot be read (malformed JSON or YAML, a
bad query parameter or cursor), 401 no or a wrong token, 403 a token whose
role is too weak, 404 nothing there, 409 a conflict with what is stored (a
name taken, a run already finished), 413 a body over the limit, 415 a body
of another media type, 422 a well-formed body that is not acceptable.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from http import HTTPStatus
from typing import Any, Final

from flask import Flask, Response, request
from sqlalchemy.exc import OperationalError
from werkzeug.exceptions import HTTPException

from service.auth import TokenNameTakenError
from service.errors import FieldPath, InvalidInput, Problem

__all__ = [
    "INVALID_INPUT",
    "PROBLEM_JSON",
    "ApiError",
    "bad_request",
    "conflict",
    "not_found",
    "problem_response",
    "register_error_handlers",
    "unprocessable",
]

log = logging.getLogger(__name__)

PROBLEM_JSON: Final = "application/problem+json"
# URNs name the problem types without pretending to be pages one could open.
INVALID_INPUT: Final = "urn:netpol-drift:problem:invalid-input"
_BLANK: Final = "about:blank"


class ApiError(Exception):
    """An error answered as a problem document."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        problems: Sequence[Problem] = (),
        type_: str = _BLANK,
        title: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.problems = tuple(problems)
        self.type = type_
        self.title = title if title is not None else HTTPStatus(status).phrase
        self.headers = dict(headers or {})


def not_found(detail: str) -> ApiError:
    return ApiError(404, detail)


def conflict(detail: str) -> ApiError:
    return ApiError(409, detail)


def _summary(problems: Sequence[Problem]) -> str:
    if len(problems) == 1:
        return str(problems[0])
    return f"{len(problems)} problems in the request; see errors"


def bad_request(problems: Sequence[Problem]) -> ApiError:
    """The request could not be read (syntax, query parameters)."""
    return ApiError(
        400, _summary(problems), problems=problems, type_=INVALID_INPUT, title="Bad request"
    )


def unprocessable(problems: Sequence[Problem]) -> ApiError:
    """The request was read and is not acceptable (validation)."""
    return ApiError(
        422, _summary(problems), problems=problems, type_=INVALID_INPUT, title="Invalid input"
    )


def _pointer(path: FieldPath) -> str:
    return "".join("/" + str(part).replace("~", "~0").replace("/", "~1") for part in path.parts)


def _error(problem: Problem) -> dict[str, Any]:
    return {
        "path": str(problem.path),
        "pointer": _pointer(problem.path),
        "message": problem.message,
        "file": problem.file,
        "document": problem.document,
        "line": problem.line,
        "column": problem.column,
    }


def problem_response(
    status: int,
    detail: str,
    *,
    title: str | None = None,
    type_: str = _BLANK,
    problems: Sequence[Problem] = (),
    headers: Mapping[str, str] | None = None,
) -> Response:
    body: dict[str, Any] = {
        "type": type_,
        "title": title if title is not None else HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
        "instance": request.path,
    }
    if problems:
        body["errors"] = [_error(p) for p in problems]
    response = Response(json.dumps(body, ensure_ascii=False), status=status, mimetype=PROBLEM_JSON)
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def _api_error(err: ApiError) -> Response:
    return problem_response(
        err.status,
        err.detail,
        title=err.title,
        type_=err.type,
        problems=err.problems,
        headers=err.headers,
    )


def _invalid_input(err: InvalidInput) -> Response:
    return _api_error(unprocessable(err.problems))


def _http(err: HTTPException) -> Response:
    status = err.code or 500
    headers = {}
    original = err.get_response()
    # Keep what the protocol needs: Allow on 405, WWW-Authenticate, Retry-After.
    for name in ("Allow", "WWW-Authenticate", "Retry-After"):
        if name in original.headers:
            headers[name] = original.headers[name]
    detail = err.description or HTTPStatus(status).phrase
    if status == 413:
        limit = request.max_content_length
        detail = f"the request body is over the limit of {limit} bytes" if limit else detail
    return problem_response(status, detail, title=err.name, headers=headers)


def _token_name_taken(err: TokenNameTakenError) -> Response:
    return problem_response(409, str(err))


def _database_unavailable(err: OperationalError) -> Response:
    log.warning("database unavailable: %s", err.orig)
    return problem_response(
        503, "the database is not reachable; try again shortly", headers={"Retry-After": "5"}
    )


def _unexpected(err: Exception) -> Response:
    log.exception("unexpected error on %s %s", request.method, request.path, exc_info=err)
    return problem_response(500, "an unexpected error occurred; it was logged")


def register_error_handlers(app: Flask) -> None:
    app.register_error_handler(ApiError, _api_error)
    app.register_error_handler(InvalidInput, _invalid_input)
    app.register_error_handler(HTTPException, _http)
    app.register_error_handler(TokenNameTakenError, _token_name_taken)
    app.register_error_handler(OperationalError, _database_unavailable)
    app.register_error_handler(Exception, _unexpected)
