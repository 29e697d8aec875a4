"""The building blocks of the scenario schema: strict models, names, labels, port references.

Shared by :mod:`service.scenario.schema` (the scenario file) and
:mod:`service.scenario.chaos_schema` (its chaos section), so that a name, a
label set or a port is checked, and its error worded, the same way wherever it
appears. Every validator raises the :data:`CUSTOM_ERROR` type with a message
that is already ours; :mod:`service.scenario.problems` shows it as it is.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, TypeAlias

from pydantic import BaseModel, ConfigDict, PlainValidator, WithJsonSchema
from pydantic_core import PydanticCustomError

from service.scenario import syntax
from service.scenario.syntax import PortRef, ValueSyntaxError

__all__ = [
    "CUSTOM_ERROR",
    "LABEL_RULE",
    "TAG_PREFIX",
    "LabelsInput",
    "NameRule",
    "NamespaceName",
    "OptionalLabelsInput",
    "PortRefInput",
    "ScenarioName",
    "SourceName",
    "StrictModel",
    "TargetName",
    "VersionName",
    "custom_error",
    "expect_string",
    "validator",
]

# The pydantic error type our validators raise; its message is already ours.
CUSTOM_ERROR = "scenario"
# Union members are tagged with names no field can have, so error paths can drop them.
TAG_PREFIX = "<"


def custom_error(message: str) -> PydanticCustomError:
    # The message goes through the context so braces in it are never read as a template.
    return PydanticCustomError(CUSTOM_ERROR, "{message}", {"message": message})


def validator(func: Callable[[Any], Any]) -> PlainValidator:
    def run(value: Any) -> Any:
        try:
            return func(value)
        except ValueSyntaxError as err:
            raise custom_error(str(err)) from err

    return PlainValidator(run)


def expect_string(value: object, what: str) -> str:
    if not isinstance(value, str):
        raise ValueSyntaxError(f"expected {what} as a string{syntax.yaml_type_hint(value)}")
    return value


@dataclass(frozen=True, slots=True)
class NameRule:
    """A name field's rule, for its validator and its JSON Schema alike."""

    what: str
    pattern: re.Pattern[str]
    rule: str
    max_length: int = 63

    def check(self, value: object) -> str:
        text = expect_string(value, self.what)
        if not text or len(text) > self.max_length or not self.pattern.match(text):
            raise ValueSyntaxError(
                f"{self.what} {text!r}: expected {self.rule}, at most {self.max_length} characters"
            )
        return text

    @property
    def validator(self) -> PlainValidator:
        return validator(self.check)

    @property
    def json_schema(self) -> WithJsonSchema:
        return WithJsonSchema(
            {
                "type": "string",
                "pattern": self.pattern.pattern,
                "maxLength": self.max_length,
                "description": f"{self.what}: {self.rule}",
            }
        )


LABEL_RULE = "lowercase letters, digits and '-', starting and ending with a letter or digit"
SCENARIO = NameRule("scenario name", syntax.DNS_LABEL, LABEL_RULE)
NAMESPACE = NameRule("namespace name", syntax.DNS_LABEL, LABEL_RULE)
SOURCE = NameRule("source name", syntax.DNS_LABEL, LABEL_RULE)
# Targets become pods and Services, and a Service name must start with a letter.
TARGET = NameRule(
    "target name",
    syntax.DNS_1035_LABEL,
    "lowercase letters, digits and '-', starting with a letter and ending with a letter or digit",
)
VERSION = NameRule(
    "version name",
    re.compile(r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$"),
    "lowercase letters, digits, '-' and '.', starting and ending with a letter or digit",
)
ScenarioName: TypeAlias = Annotated[str, SCENARIO.validator, SCENARIO.json_schema]
NamespaceName: TypeAlias = Annotated[str, NAMESPACE.validator, NAMESPACE.json_schema]
SourceName: TypeAlias = Annotated[str, SOURCE.validator, SOURCE.json_schema]
TargetName: TypeAlias = Annotated[str, TARGET.validator, TARGET.json_schema]
VersionName: TypeAlias = Annotated[str, VERSION.validator, VERSION.json_schema]

LABELS_SCHEMA: dict[str, Any] = {
    "description": (
        "Labels as a mapping ({app: web}) or a string of key=value pairs separated by"
        ' commas ("app=web,role=api"); empty means no labels.'
    ),
    "oneOf": [
        {"type": "object", "additionalProperties": {"type": "string"}},
        {"type": "string"},
        {"type": "null"},
    ],
}
LabelsInput = Annotated[
    dict[str, str], validator(syntax.parse_labels), WithJsonSchema(LABELS_SCHEMA)
]
# For a field that may be absent: absent is None, while an explicit empty value
# (null, "" or {}) means "no labels".
OptionalLabelsInput = Annotated[
    dict[str, str] | None, validator(syntax.parse_labels), WithJsonSchema(LABELS_SCHEMA)
]

PORT_REF_SCHEMA: dict[str, Any] = {
    "description": (
        "A port number or a port name, optionally with /TCP, /UDP or /SCTP"
        " (default TCP): 80, 80/TCP, http/TCP, 53/UDP."
    ),
    "oneOf": [
        {"type": "integer", "minimum": 1, "maximum": 65535},
        {
            "type": "string",
            "pattern": r"^\s*[a-z0-9-]+\s*(/\s*(TCP|UDP|SCTP|tcp|udp|sctp)\s*)?$",
        },
    ],
}
PortRefInput = Annotated[PortRef, validator(syntax.parse_port_ref), WithJsonSchema(PORT_REF_SCHEMA)]


class StrictModel(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)
