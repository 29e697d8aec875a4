"""The bodies sent: a generic JSON document and a Slack message, with user text kept inert."""

from __future__ import annotations

import json

from service.notify.findings import RegressionNote, RunFindings
from service.notify.payloads import generic_body, headline, render_body, slack_body, slack_escape
from service.store.enums import RunStatus
from service.store.notify_models import WebhookFormat

LINK = "https://netpol.example.com/dashboard/runs/7"


def _findings(**changes: object) -> RunFindings:
    values: dict[str, object] = {
        "run_id": 7,
        "scenario_id": 1,
        "scenario": "shop",
        "status": RunStatus.FAILED,
        "schedule_id": None,
        "cells": 36,
        "regressions": 1,
        "alarm_drift": 2,
        "expected_drift": 0,
        "new_flakes": (),
        "previous_run_id": 6,
        "quoted": (
            RegressionNote(
                version="locked",
                cell="web/<b>front</b> -> api/api 80/TCP",
                expected="blocked",
                observed="allowed",
                explanation="policy api/allow-web allows it",
            ),
        ),
    }
    values.update(changes)
    return RunFindings(**values)  # type: ignore[arg-type]


def test_the_headline_counts_each_reason_in_words() -> None:
    assert headline(_findings()) == (
        "shop: run 7 found 1 regression, 2 cells drifted with unchanged policy"
    )
    assert headline(_findings(regressions=0, alarm_drift=0, new_flakes=("a", "b"))) == (
        "shop: run 7 found 2 new flaky cells"
    )


def test_the_generic_body_carries_the_run_link_reasons_and_counts() -> None:
    body = generic_body(_findings(new_flakes=("k1",)), LINK)
    assert body["run"]["url"] == LINK
    assert body["reasons"] == ["regressions", "alarm-drift", "new-flakes"]
    assert body["counts"] == {
        "regressions": 1,
        "alarm_drift": 2,
        "expected_drift": 0,
        "new_flakes": 1,
    }
    assert body["regressions"][0]["explanation"] == "policy api/allow-web allows it"
    assert body["new_flakes"] == ["k1"]


def test_slack_control_characters_in_names_are_escaped() -> None:
    assert slack_escape("<!channel> & <@U1>") == "&lt;!channel&gt; &amp; &lt;@U1&gt;"
    message = slack_body(_findings(), LINK)
    text = json.dumps(message)
    assert "<b>" not in text
    assert "&lt;b&gt;front&lt;/b&gt;" in text
    assert f"<{LINK}|run 7>" in message["blocks"][0]["text"]["text"]


def test_a_relative_link_is_not_made_a_slack_link() -> None:
    message = slack_body(_findings(), "/dashboard/runs/7")
    assert "|run 7>" not in json.dumps(message)


def test_more_regressions_than_quoted_are_counted() -> None:
    message = slack_body(_findings(regressions=12), LINK)
    assert "… and 11 more" in message["blocks"][1]["text"]["text"]


def test_render_body_picks_the_format() -> None:
    assert "blocks" in json.loads(render_body(WebhookFormat.SLACK, _findings(), LINK))
    assert json.loads(render_body(WebhookFormat.GENERIC, _findings(), LINK))["event"] == (
        "run.alarming"
    )
