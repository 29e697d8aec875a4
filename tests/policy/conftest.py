"""Asserts in the shared rule-table checks report their values, as in a test module."""

import pytest

pytest.register_assert_rewrite("tests.policy.rules_world")
