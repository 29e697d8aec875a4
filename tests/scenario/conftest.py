"""The folder a scenario of the loading tests lives in, with its one policy file."""

from pathlib import Path

import pytest

from tests.scenario.load_world import DENY_ALL


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "policies").mkdir()
    (tmp_path / "policies" / "deny-all.yaml").write_text(DENY_ALL)
    return tmp_path
