"""The bodies a webhook is sent: a generic JSON document, or a Slack message.

Generic (``format: generic``)::

    {"event": "run.alarming", "run": {"id": 42, "status": "failed", "url": "https://…/runs/42",
     "scenario": {"id": 1, "name": "shop"}, "schedule_id": 3, "cells": 36,
     "previous_run_id": 41},
     "reasons": ["regressions", "alarm-drift"],
     "counts": {"regressions": 2, "alarm_drift": 2, "expected_drift": 0, "new_flakes": 0},
     "regressions": [{"version": "locked", "cell": "web/frontend -> api/api 80/TCP",
                      "expected": "blocked", "observed": "allowed", "explanation": "…"}],
     "new_flakes": ["3f2a…"]}

Slack (``format: slack``): an incoming-webhook message, ``text`` for
notifications and ``blocks`` (mrkdwn sections) for the channel, with the
link to the run page. Slack's mrkdwn gives ``&``, ``<`` and ``>`` meaning,
so every value we did not write is escaped the way Slack asks.
"""

from __future__ import annotations

import json
from typing import Any, Final

from service.notify.findings import Reason, RunFindings
from service.store.notify_models import WebhookFormat

__all__ = ["EVENT", "generic_body", "headline", "render_body", "slack_body", "slack_escape"]

EVENT: Final = "run.alarming"
# Slack refuses a section text over 3000 characters.
_SLACK_TEXT_MAX: Final = 2900
_HEADLINES: Final = {
    Reason.REGRESSIONS: "{n} regression{s}",
    Reason.ALARM_DRIFT: "{n} cell{s} drifted with unchanged policy",
    Reason.NEW_FLAKES: "{n} new flaky cell{s}",
}


def _plural(n: int) -> str:
    return "" if n == 1 else "s"


def headline(findings: RunFindings) -> str:
    """``shop: run 42 found 2 regressions, 2 cells drifted with unchanged policy``."""
    parts = [_HEADLINES[f.reason].format(n=f.count, s=_plural(f.count)) for f in findings.findings]
    what = ", ".join(parts) if parts else "nothing alarming"
    return f"{findings.scenario}: run {findings.run_id} found {what}"


def generic_body(findings: RunFindings, link: str) -> dict[str, Any]:
    return {
        "event": EVENT,
        "summary": headline(findings),
        "run": {
            "id": findings.run_id,
            "status": findings.status.value,
            "url": link,
            "scenario": {"id": findings.scenario_id, "name": findings.scenario},
            "schedule_id": findings.schedule_id,
            "cells": findings.cells,
            "previous_run_id": findings.previous_run_id,
        },
        "reasons": [r.value for r in findings.reasons],
        "counts": {
            "regressions": findings.regressions,
            "alarm_drift": findings.alarm_drift,
            "expected_drift": findings.expected_drift,
            "new_flakes": len(findings.new_flakes),
        },
        "regressions": [
            {
                "version": note.version,
                "cell": note.cell,
                "expected": note.expected,
                "observed": note.observed,
                "explanation": note.explanation,
            }
            for note in findings.quoted
        ],
        "new_flakes": list(findings.new_flakes),
    }


def slack_escape(text: str) -> str:
    """Text shown literally in Slack mrkdwn (its three control characters escaped)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _clip(text: str, limit: int = _SLACK_TEXT_MAX) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def slack_body(findings: RunFindings, link: str) -> dict[str, Any]:
    title = slack_escape(headline(findings))
    # A relative link is no link in Slack: only an absolute one is made clickable.
    linked = link.startswith(("http://", "https://"))
    anchor = f"<{link}|run {findings.run_id}>" if linked else f"run {findings.run_id}"
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": _clip(f"*{title}*\n{anchor}")}}
    ]
    if findings.quoted:
        lines = []
        for note in findings.quoted:
            lines.append(
                f"• `{slack_escape(note.version)}` {slack_escape(note.cell)}: expected "
                f"{note.expected}, observed *{note.observed}*"
            )
        more = findings.regressions - len(findings.quoted)
        if more > 0:
            lines.append(f"… and {more} more")
        blocks.append(
            {"type": "section", "text": {"type": "mrkdwn", "text": _clip("\n".join(lines))}}
        )
    return {"text": f"{title} ({link})" if linked else title, "blocks": blocks}


def render_body(kind: WebhookFormat, findings: RunFindings, link: str) -> str:
    body = (
        slack_body(findings, link) if kind is WebhookFormat.SLACK else generic_body(findings, link)
    )
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"))
