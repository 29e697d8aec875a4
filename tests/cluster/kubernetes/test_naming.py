"""Run-scoped names, ownership labels and expiry."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from service.cluster.kubernetes.naming import (
    MANAGED_BY_LABEL,
    RUN_LABEL,
    RunNaming,
    format_expiry,
    is_managed,
    new_run_id,
    parse_expiry,
)
from service.errors import InvalidInput
from service.policy.syntax import dns1123_label_error

NAMING = RunNaming("npd", "3f9a1c")
NAMESPACE_NAMES = st.from_regex(r"[a-z]([a-z0-9-]{0,61}[a-z0-9])?", fullmatch=True)


def test_namespace_name_is_prefix_run_id_and_original() -> None:
    assert NAMING.namespace("development") == "npd-3f9a1c-development"


@settings(max_examples=150)
@given(original=NAMESPACE_NAMES)
def test_every_run_namespace_is_a_valid_namespace_name(original: str) -> None:
    name = NAMING.namespace(original)
    assert dns1123_label_error(name) is None
    assert name.startswith("npd-3f9a1c-")


@settings(max_examples=150)
@given(a=NAMESPACE_NAMES, b=NAMESPACE_NAMES)
def test_distinct_originals_never_share_a_run_namespace(a: str, b: str) -> None:
    if a != b:
        assert NAMING.namespace(a) != NAMING.namespace(b)


def test_long_original_is_cut_to_63_characters_and_ends_in_its_hash() -> None:
    original = "a" * 40 + "-" + "b" * 22
    name = NAMING.namespace(original)
    assert len(name) == 63
    assert name.startswith("npd-3f9a1c-aaaa")
    assert NAMING.namespace(original) == name  # a pure function of the original


def test_other_runs_get_other_namespaces() -> None:
    assert RunNaming("npd", "000001").namespace("x") != NAMING.namespace("x")


@pytest.mark.parametrize(
    ("prefix", "run_id", "field"),
    [
        ("NPD", "3f9a1c", "namespace_prefix"),
        ("-npd", "3f9a1c", "namespace_prefix"),
        ("n" * 21, "3f9a1c", "namespace_prefix"),
        ("npd", "ABC123", "run_id"),
        ("npd", "abc", "run_id"),
        ("npd", "a-b-c-d", "run_id"),
    ],
)
def test_bad_prefix_or_run_id_is_invalid_input_naming_the_field(
    prefix: str, run_id: str, field: str
) -> None:
    with pytest.raises(InvalidInput) as caught:
        RunNaming(prefix, run_id)
    assert [str(p.path) for p in caught.value.problems] == [field]


def test_new_run_ids_are_short_valid_and_distinct() -> None:
    ids = {new_run_id() for _ in range(50)}
    assert len(ids) == 50
    for run_id in ids:
        RunNaming("npd", run_id)
        assert len(run_id) == 6


def test_ownership_needs_both_the_manager_and_this_run() -> None:
    ours = {"metadata": {"labels": dict(NAMING.labels)}}
    other_run = {"metadata": {"labels": {MANAGED_BY_LABEL: "netpol-drift", RUN_LABEL: "999999"}}}
    run_label_only = {"metadata": {"labels": {RUN_LABEL: "3f9a1c"}}}
    assert NAMING.owns(ours)
    assert not NAMING.owns(other_run)
    assert not NAMING.owns(run_label_only)
    assert not NAMING.owns({"metadata": {}})
    assert is_managed(other_run)
    assert not is_managed(run_label_only)


def test_selector_selects_exactly_the_ownership_labels() -> None:
    assert NAMING.selector == "netpol-drift.io/managed-by=netpol-drift,netpol-drift.io/run=3f9a1c"


def test_expiry_round_trips_in_utc() -> None:
    now = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)
    text = format_expiry(now, timedelta(hours=6))
    assert text == "2026-03-01T18:00:00Z"
    assert parse_expiry(text) == now + timedelta(hours=6)


@pytest.mark.parametrize("value", [None, "", "tomorrow", "2026-03-01 18:00:00", 42])
def test_unreadable_expiry_is_none(value: object) -> None:
    assert parse_expiry(value) is None
