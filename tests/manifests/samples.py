"""Manifest snippets and helpers shared by the loader's tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from service.errors import InvalidInput
from service.manifests import load_manifests

DATA = Path(__file__).parent / "data"


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def problems_loading(*paths: Path | str) -> list[str]:
    with pytest.raises(InvalidInput) as err:
        load_manifests(list(paths))
    return [str(p) for p in err.value.problems]


def pod_yaml(name: str, namespace: str = "prod", extra_metadata: str = "") -> str:
    return f"""\
apiVersion: v1
kind: Pod
metadata:
  name: {name}
  namespace: {namespace}
  labels:
    app: {name}
{extra_metadata}spec:
  containers:
    - name: main
"""


def workload_yaml(kind: str, api_version: str, name: str, *, owner: str = "") -> str:
    template = "jobTemplate:\n    spec:\n      template:" if kind == "CronJob" else "template:"
    indent = "        " if kind == "CronJob" else "    "
    selector = (
        f"  selector:\n    matchLabels:\n      app: {name}\n" if api_version == "apps/v1" else ""
    )
    return f"""\
apiVersion: {api_version}
kind: {kind}
metadata:
  name: {name}
  namespace: prod
{owner}spec:
{selector}  {template}
{indent}  metadata:
{indent}    labels:
{indent}      app: {name}
{indent}  spec:
{indent}    containers:
{indent}      - name: main
{indent}        ports:
{indent}          - name: http
{indent}            containerPort: 8080
"""
