"""Reading a request: query parameters and JSON bodies into pydantic models, text bodies.

Query parameters that are not declared are refused (a typo such as
``stauts=failed`` would otherwise silently list everything); so are values
that do not fit. Bodies must be of a declared media type (415), within the
size limit (413, enforced by Werkzeug while reading), well-formed (400) and
valid (422, with each field's path).
"""

from __future__ import annotations

import types
import typing
from collections.abc import Sequence
from functools import cache
from typing import Any, Final, TypeVar

from flask import request
from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from service.api.problems import ApiError, bad_request, unprocessable
from service.errors import FieldPath, Problem

__all__ = [
    "JSON_TYPES",
    "YAML_TYPES",
    "parse_json_body",
    "parse_query",
    "problems_of",
    "read_text_body",
]

M = TypeVar("M", bound=BaseModel)

JSON_TYPES: Final = ("application/json",)
YAML_TYPES: Final = ("application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml")


def problems_of(err: ValidationError, *, prefix: FieldPath | None = None) -> list[Problem]:
    start = prefix if prefix is not None else FieldPath()
    return [_problem(detail, start) for detail in err.errors(include_url=False)]


def _problem(detail: ErrorDetails, prefix: FieldPath) -> Problem:
    parts = tuple(
        part
        for part in detail["loc"]
        # Pydantic names the member of a union it tried ("function-after[...]", "str").
        if isinstance(part, int) or not (part.endswith("]") or part in _TYPE_WORDS)
    )
    message = detail["msg"]
    if detail["type"] == "extra_forbidden":
        message = "unknown field"
    elif detail["type"] == "missing":
        message = "required"
    return Problem(message, path=FieldPath((*prefix.parts, *parts)))


_TYPE_WORDS: Final = frozenset({"str", "int", "float", "bool", "list", "dict", "none"})


@cache
def _parameters(model: type[BaseModel]) -> tuple[frozenset[str], frozenset[str]]:
    """The query parameters ``model`` takes, and those of them that may be repeated
    (``?verdict=allowed&verdict=error``); worked out once per model, not per request."""
    names = {info.alias or name: info for name, info in model.model_fields.items()}
    lists = frozenset(name for name, info in names.items() if _is_list(info.annotation))
    return frozenset(names), lists


def _is_list(annotation: Any) -> bool:
    origin = typing.get_origin(annotation)
    if origin in (list, tuple):
        return True
    if origin in (typing.Union, types.UnionType):
        return any(_is_list(arg) for arg in typing.get_args(annotation))
    return False


def parse_query(model: type[M]) -> M:
    """The request's query parameters as ``model``; ApiError 400 when they do not fit."""
    known, lists = _parameters(model)
    problems = [
        Problem(
            f"unknown query parameter; expected one of: {', '.join(sorted(known))}",
            path=FieldPath((key,)),
        )
        for key in request.args
        if key not in known
    ]
    data: dict[str, Any] = {}
    for key in request.args:
        if key not in known:
            continue
        values = request.args.getlist(key)
        if key in lists:
            data[key] = values
        elif len(values) > 1:
            problems.append(Problem("expected one value, got several", path=FieldPath((key,))))
        else:
            data[key] = values[0]
    if problems:
        raise bad_request(problems)
    try:
        return model.model_validate(data)
    except ValidationError as err:
        raise bad_request(problems_of(err)) from err


def _media_type() -> str:
    return (request.mimetype or "").lower()


def _require_media_type(accepted: Sequence[str]) -> str:
    media = _media_type()
    if media not in accepted and not (
        "application/json" in accepted
        and media.startswith("application/")
        and media.endswith("+json")
    ):
        raise ApiError(
            415,
            f"expected a body of type {' or '.join(accepted)}, got {media or 'none'}",
        )
    return media


def parse_json_body(model: type[M]) -> M:
    """The JSON body as ``model``: 415 other media, 413 too large, 400 malformed, 422 invalid."""
    _require_media_type(JSON_TYPES)
    raw = request.get_data(cache=True)
    try:
        return model.model_validate_json(raw)
    except ValidationError as err:
        errors = err.errors(include_url=False)
        malformed = [e for e in errors if e["type"] == "json_invalid"]
        if malformed:
            raise bad_request(
                [Problem(f"malformed JSON: {malformed[0]['msg']}", path=FieldPath())]
            ) from err
        raise unprocessable(problems_of(err)) from err


def read_text_body(accepted: Sequence[str]) -> tuple[str, str]:
    """The body as text and its media type; 415, 413, and 400 for bytes that are not UTF-8."""
    media = _require_media_type(accepted)
    raw = request.get_data(cache=True)
    try:
        return raw.decode("utf-8"), media
    except UnicodeDecodeError as err:
        raise bad_request(
            [Problem(f"the body is not UTF-8 text (byte {err.start})", path=FieldPath())]
        ) from err
