"""The folder a scenario of the loading tests lives in, with its one policy file."""

from pathlib import Path

import pytest

# The tests edit_case_tests makes assert in load_world: rewritten, their failures show the
# values, as in a test module. Registered before the module is first imported, below.
pytest.register_assert_rewrite("tests.scenario.load_world")

from tests.scenario.load_world import DENY_ALL  # noqa: E402


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "policies").mkdir()
    (tmp_path / "policies" / "deny-all.yaml").write_text(DENY_ALL)
    return tmp_path
