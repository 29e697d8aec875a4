"""How stored values are shown, and the CSV and JUnit renderings of stored cells."""

from __future__ import annotations

import csv
import io
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from typing import Any

import pytest

from service.queries.cells import CellView
from service.queries.exports import render_csv, render_junit
from service.queries.formats import iso, labels_object, port_value


@pytest.mark.parametrize(
    ("text", "labels"),
    [
        ("", {}),
        ("app=web", {"app": "web"}),
        ("app=web,tier=front", {"app": "web", "tier": "front"}),
        ("example.com/team=a,empty=", {"example.com/team": "a", "empty": ""}),
    ],
)
def test_stored_label_text_reads_back_as_the_label_map(text: str, labels: dict[str, str]) -> None:
    assert labels_object(text) == labels


@pytest.mark.parametrize(
    ("text", "port"), [("80", 80), ("8080", 8080), ("http", "http"), ("h2c", "h2c")]
)
def test_a_numeric_port_is_a_number_and_a_named_port_its_name(text: str, port: int | str) -> None:
    assert port_value(text) == port


def test_times_are_utc_with_a_z() -> None:
    assert iso(datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)) == "2025-01-02T03:04:05Z"
    assert iso(None) is None


def cell(**fields: Any) -> CellView:
    base: dict[str, Any] = {
        "key": "0" * 16,
        "pair_key": "1" * 16,
        "ordinal": 0,
        "version": "v1",
        "source_namespace": "ns",
        "source": "client",
        "source_labels": {"app": "client"},
        "target_namespace": "ns",
        "target": "web",
        "port": 80,
        "port_number": 80,
        "protocol": "TCP",
        "loopback": False,
        "expected": "allowed",
        "observed": "allowed",
        "raw_outcome": "connected",
        "latency_ms": 2.0,
        "attempts": 1,
        "regression": False,
        "flaky": False,
        "explanation": "because",
    }
    base.update(fields)
    return CellView(**base)  # type: ignore[typeddict-item,no-any-return]


def test_csv_text_that_a_spreadsheet_would_run_is_quoted_as_text() -> None:
    text = render_csv([cell(version="=HYPERLINK(1)", source="-x", target="@y")])
    row = next(csv.DictReader(io.StringIO(text)))
    assert row["version"] == "'=HYPERLINK(1)"
    assert row["source"] == "'-x"
    assert row["target"] == "'@y"
    assert row["port"] == "80", "numbers are not text"


def test_junit_counts_failures_errors_and_skips_per_version() -> None:
    cells = [
        cell(ordinal=0, key="a" * 16),
        cell(ordinal=1, key="b" * 16, observed="blocked", regression=True),
        cell(ordinal=2, key="c" * 16, observed="error", raw_outcome="exec-error", regression=True),
        cell(ordinal=3, key="d" * 16, version="v2", observed="invalid", expected="invalid"),
    ]
    run: Any = {"scenario": "shop", "duration_s": 1.5}
    root = ET.fromstring(render_junit(run, cells))
    assert (root.get("tests"), root.get("failures"), root.get("errors")) == ("4", "1", "1")
    first, second = root.findall("testsuite")
    assert (first.get("name"), first.get("failures"), first.get("errors")) == ("shop.v1", "1", "1")
    assert (second.get("name"), second.get("skipped")) == ("shop.v2", "1")
    failure = first.find("testcase/failure")
    assert failure is not None
    assert failure.get("message") == "expected allowed, observed blocked"
    assert failure.text == "because"
