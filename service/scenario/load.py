"""Reading a scenario file: YAML -> shape check (schema) -> cross-checks (resolve) -> Scenario.

Every way a scenario can be wrong ends in one :class:`~service.errors.InvalidInput`
whose problems each name the file, the line, the field and what was expected;
the CLI prints them and exits with status 2. The reader is bounded like the
manifest reader it builds on: a size limit, an alias budget, no custom tags,
no duplicate keys.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import ValidationError

from service.errors import InvalidInput, Problem
from service.manifests.source import Document, parse_documents, read_documents
from service.policy.syntax import describe
from service.scenario.model import Scenario
from service.scenario.problems import translate
from service.scenario.resolve import resolve
from service.scenario.schema import ScenarioModel

__all__ = ["MAX_SCENARIO_BYTES", "load_scenario", "parse_scenario", "scenario_from_documents"]

# A scenario with inline policies for a large estate is tens of KiB; policy files
# have their own (larger) limit in the manifest reader.
MAX_SCENARIO_BYTES = 1024 * 1024

_EXPECTED = "a scenario: a mapping with name, namespaces, targets, matrix and versions"


def load_scenario(path: Path | str) -> Scenario:
    """The scenario in the file at ``path``; policy paths are relative to its folder."""
    file = Path(path)
    documents = read_documents(file, display_name=str(path), max_bytes=MAX_SCENARIO_BYTES)
    return scenario_from_documents(documents, file=str(path), base_dir=file.parent)


def parse_scenario(text: str, *, file: str, base_dir: Path) -> Scenario:
    """The scenario in ``text``, named ``file`` in problems; policy paths are under ``base_dir``."""
    size = len(text.encode("utf-8"))
    if size > MAX_SCENARIO_BYTES:
        raise InvalidInput(
            Problem(
                f"the scenario is {size} bytes, over the limit of {MAX_SCENARIO_BYTES} bytes",
                file=file,
            )
        )
    return scenario_from_documents(parse_documents(text, file=file), file=file, base_dir=base_dir)


def scenario_from_documents(documents: list[Document], *, file: str, base_dir: Path) -> Scenario:
    """The scenario in already parsed ``documents`` (for a caller that looked at them first)."""
    if not documents:
        raise InvalidInput(Problem(f"the file is empty: expected {_EXPECTED}", file=file))
    if len(documents) > 1:
        raise InvalidInput(
            Problem(
                f"expected one YAML document, found {len(documents)}: a scenario is one"
                " document (put policies in their own files)",
                file=file,
                line=documents[1].line,
            )
        )
    document = documents[0]
    if not isinstance(document.data, dict):
        raise InvalidInput(
            Problem(
                f"expected {_EXPECTED}, got {describe(document.data)}",
                file=file,
                line=document.line,
            )
        )
    try:
        model = ScenarioModel.model_validate(document.data)
    except ValidationError as err:
        raise InvalidInput(translate(err, document)) from err
    return resolve(model, document, base_dir=base_dir)
