"""The scenario file format, as strict pydantic models; the JSON Schema is generated from them.

These models check the *shape* of a scenario file: field names (unknown ones
are refused), types (strict: YAML's ``80`` is not the string ``"80"``), and the
small languages inside values (labels, port references, cron, time zones).
Cross-references (an expectation naming an undeclared target, a policy in an
undeclared namespace) are checked afterwards by :mod:`service.scenario.resolve`,
which also builds the immutable :class:`~service.scenario.model.Scenario`.

Regenerate the published schema after changing anything here::

    python -m service.scenario.schema > docs/scenario.schema.json
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Discriminator, Field, Tag, WithJsonSchema

from service.policy.syntax import describe
from service.scenario import syntax
from service.scenario.chaos_schema import ChaosModel
from service.scenario.fields import (
    CUSTOM_ERROR,
    TAG_PREFIX,
    LabelsInput,
    NamespaceName,
    OptionalLabelsInput,
    PortRefInput,
    ScenarioName,
    SourceName,
    StrictModel,
    TargetName,
    VersionName,
    expect_string,
    validator,
)
from service.scenario.syntax import ValueSyntaxError

__all__ = [
    "CUSTOM_ERROR",
    "TAG_PREFIX",
    "ChaosModel",
    "ExpectationModel",
    "MatrixModel",
    "PortModel",
    "ProbeModel",
    "ScenarioModel",
    "ScheduleModel",
    "ServiceModel",
    "TargetModel",
    "VersionModel",
    "json_schema",
]


def _port_name(value: object) -> str:
    text = expect_string(value, "a port name")
    syntax.check_port_name(text)
    return text


PortName = Annotated[
    str,
    validator(_port_name),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$",
            "maxLength": 15,
            "description": "An IANA service name, as Kubernetes requires of container port names.",
        }
    ),
]


def _cron(value: object) -> str:
    return syntax.parse_cron(expect_string(value, "a cron expression"))


def _timezone(value: object) -> str:
    return syntax.parse_timezone(expect_string(value, "a time zone"))


Cron = Annotated[
    str,
    validator(_cron),
    WithJsonSchema(
        {
            "type": "string",
            "description": (
                "Five cron fields (minute hour day-of-month month day-of-week) or a macro"
                " such as @daily."
            ),
            "examples": ["0 3 * * *", "*/30 8-18 * * mon-fri", "@daily"],
        }
    ),
]
TimeZone = Annotated[
    str,
    validator(_timezone),
    WithJsonSchema(
        {
            "type": "string",
            "description": "An IANA time zone name.",
            "examples": ["UTC", "Europe/Stockholm"],
        }
    ),
]


def _inline_or_path(value: object) -> str | dict[str, Any]:
    if isinstance(value, str):
        if not value.strip():
            raise ValueSyntaxError("expected a file or folder path, got an empty string")
        return value
    if isinstance(value, dict):
        return value
    raise ValueSyntaxError(
        "expected a path (relative to the scenario file) or an inline manifest mapping,"
        f" got {describe(value)}"
    )


PolicyEntry = Annotated[
    str | dict[str, Any],
    validator(_inline_or_path),
    WithJsonSchema(
        {
            "description": (
                "A YAML or JSON file, or a folder of them, relative to the scenario file"
                " (it may not leave the scenario's folder), or an inline NetworkPolicy manifest."
            ),
            "oneOf": [
                {"type": "string", "minLength": 1},
                {"type": "object", "required": ["apiVersion", "kind"]},
            ],
        }
    ),
]


class PortModel(StrictModel):
    """A port the target serves."""

    port: int = Field(ge=1, le=65535, description="The container port number.")
    protocol: Literal["TCP", "UDP", "SCTP"] = Field(default="TCP", description="Default TCP.")
    name: PortName | None = Field(
        default=None, description="The container port name, which policies may refer to."
    )


class ServiceModel(StrictModel):
    """A Service in front of the target."""

    name: TargetName | None = Field(default=None, description="Default: the target's name.")
    ports: list[PortModel] | None = Field(
        default=None,
        min_length=1,
        description="Ports the Service exposes (each one the target serves). Default: all.",
    )


def _service_kind(value: object) -> str | None:
    if isinstance(value, bool):
        return TAG_PREFIX + "bool>"
    if isinstance(value, dict):
        return TAG_PREFIX + "mapping>"
    return None


ServiceInput = Annotated[
    Annotated[bool, Tag(TAG_PREFIX + "bool>")]
    | Annotated[ServiceModel, Tag(TAG_PREFIX + "mapping>")],
    Discriminator(
        _service_kind,
        custom_error_type=CUSTOM_ERROR,
        custom_error_message="expected true, false, or a mapping with name and ports",
    ),
]


class TargetModel(StrictModel):
    """A workload the probes connect to: pods with these labels serving these ports."""

    name: TargetName = Field(description="Unique among targets; also the pod and Service name.")
    namespace: NamespaceName = Field(description="A namespace declared under `namespaces`.")
    labels: LabelsInput = Field(default_factory=dict)
    ports: list[PortModel] = Field(min_length=1)
    service: ServiceInput = Field(
        default=False,
        description="true: a Service with the target's name and ports; or name/ports.",
    )


class MatrixModel(StrictModel):
    """What is probed: every source label set in every source namespace, to every target port."""

    sources: dict[SourceName, LabelsInput] = Field(
        min_length=1,
        description="Source label sets by name; one probe pod per source and source namespace.",
    )
    namespaces: list[NamespaceName] | None = Field(
        default=None, min_length=1, description="Source namespaces. Default: every namespace."
    )
    targets: list[TargetName] | None = Field(
        default=None, min_length=1, description="Target names. Default: every target."
    )
    ports: list[PortRefInput] | None = Field(
        default=None,
        min_length=1,
        description="Probed ports. Default: every port each target declares.",
    )


class VersionModel(StrictModel):
    """A named set of policies; versions run in the order written."""

    name: VersionName
    description: str = ""
    policies: list[PolicyEntry] = Field(default_factory=list)


class ExpectationModel(StrictModel):
    """A verdict the user expects for some cells, checked against every run."""

    from_: NamespaceName = Field(alias="from", description="The source namespace.")
    source: SourceName | None = Field(default=None, description="A source name from the matrix.")
    labels: OptionalLabelsInput = Field(
        default=None, description="Or the source's labels; must equal a matrix source's labels."
    )
    to: TargetName = Field(description="The target name.")
    port: PortRefInput | None = Field(
        default=None, description="Default: every probed port of the target."
    )
    expect: Literal["allowed", "blocked"]
    versions: list[VersionName] | None = Field(
        default=None, min_length=1, description="Versions it applies to. Default: all."
    )
    note: str = Field(default="", description="Free text: why, or where it comes from.")


class ScheduleModel(StrictModel):
    """When the scenario runs on its own."""

    cron: Cron
    timezone: TimeZone = "UTC"


class ProbeModel(StrictModel):
    """Probe settings. None are accepted yet; timeouts and retries will live here."""


class ScenarioModel(StrictModel):
    """A netpol-drift scenario: what to deploy, what to probe, which policy versions to apply."""

    model_config = ConfigDict(title="netpol-drift scenario")

    name: ScenarioName
    description: str = ""
    namespaces: dict[NamespaceName, LabelsInput] = Field(
        min_length=1, description="Namespaces by name, each with its labels."
    )
    targets: list[TargetModel] = Field(min_length=1)
    matrix: MatrixModel
    versions: list[VersionModel] = Field(min_length=1)
    expectations: list[ExpectationModel] = Field(default_factory=list)
    schedule: ScheduleModel | None = None
    probe: ProbeModel | None = None
    chaos: ChaosModel | None = Field(
        default=None,
        description="Chaos steps, run in order while watched cells are probed (docs/chaos.md).",
    )


def json_schema() -> dict[str, Any]:
    """The JSON Schema of the scenario format, as published in docs/scenario.schema.json."""
    schema = ScenarioModel.model_json_schema(by_alias=True, mode="validation")
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", **schema}


def render_json_schema() -> str:
    return json.dumps(json_schema(), indent=2, sort_keys=False, ensure_ascii=False) + "\n"


if __name__ == "__main__":
    print(render_json_schema(), end="")
