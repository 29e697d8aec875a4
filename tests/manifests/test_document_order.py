"""The analysis does not depend on the order of manifest documents (issue 2, item 7).

Every document of the sample folders is put into one multi-document file in an
order hypothesis chooses; the connectivity list and the truth table must be the
same as for the files read in their natural order.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from service.manifests import load_manifests
from service.policy.model import Protocol
from service.policy.truthtable import PortProbe, compute_truth_table
from service.report.connlist import compute_connlist, render_connlist
from tests.manifests.samples import DATA

SAMPLES = (DATA / "cluster", Path(__file__).parent.parent / "cli" / "data" / "shop")
PROBES = (PortProbe(80), PortProbe(8080), PortProbe(53, Protocol.UDP))


def _documents(folder: Path) -> list[object]:
    documents: list[object] = []
    for path in sorted(folder.rglob("*")):
        if path.suffix in {".yaml", ".yml", ".json"} and not any(
            part.startswith(".") for part in path.relative_to(folder).parts
        ):
            documents.extend(d for d in yaml.safe_load_all(path.read_text()) if d is not None)
    return documents


def _facts(paths: list[Path]) -> tuple[str, dict[tuple[str, str, str], bool]]:
    state = load_manifests(paths).state
    connlist = render_connlist(compute_connlist(state))
    table = compute_truth_table(state, PROBES)
    cells = {
        (table.pods[s].ref, table.pods[d].ref, str(table.probes[k])): table.allowed(s, d, k)
        for k in range(len(table.probes))
        for s in range(len(table.pods))
        for d in range(len(table.pods))
    }
    return connlist, cells


@given(data=st.data())
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
def test_result_does_not_depend_on_the_order_of_documents(
    data: st.DataObject, tmp_path_factory: pytest.TempPathFactory
) -> None:
    for folder in SAMPLES:
        expected = _facts([folder])
        documents = data.draw(st.permutations(_documents(folder)), label=folder.name)
        target = tmp_path_factory.mktemp("shuffled") / "all.yaml"
        target.write_text(yaml.safe_dump_all(documents, sort_keys=False))
        assert _facts([target]) == expected
