"""The dashboard's own static files and settings."""

from __future__ import annotations

import re

import pytest

from service.dashboard.settings import DashboardSettings
from service.errors import InvalidInput
from service.export.palette import MISSING, REGRESSION, VERDICT_COLOURS
from tests.dashboard.conftest import repo_path

STATIC = repo_path("service", "dashboard", "static")


def _css_variables() -> dict[str, str]:
    css = (STATIC / "dashboard.css").read_text(encoding="utf-8")
    return dict(re.findall(r"--([a-z-]+):\s*(#[0-9a-fA-F]{6})\s*;", css))


def test_the_stylesheet_colours_verdicts_as_the_exports_do() -> None:
    variables = _css_variables()
    for verdict, colour in VERDICT_COLOURS.items():
        assert variables[verdict].lower() == colour.lower()
    assert variables["regression"].lower() == REGRESSION.lower()
    assert variables["missing"].lower() == MISSING.lower()


def _luminance(colour: str) -> float:
    channels = [int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def _contrast(a: str, b: str) -> float:
    high, low = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


@pytest.mark.parametrize("verdict", ["allowed", "blocked", "error"])
def test_probed_verdicts_stand_out_against_white_as_wcag_asks_of_graphics(verdict: str) -> None:
    assert _contrast(VERDICT_COLOURS[verdict], "#ffffff") >= 3.0


def test_allowed_and_blocked_differ_in_lightness_not_only_in_hue() -> None:
    assert _contrast(VERDICT_COLOURS["allowed"], VERDICT_COLOURS["blocked"]) >= 2.0


def test_the_script_writes_data_as_text_only() -> None:
    script = (STATIC / "dashboard.js").read_text(encoding="utf-8")
    assert "innerHTML" not in script
    assert "outerHTML" not in script
    assert "insertAdjacentHTML" not in script
    assert "eval(" not in script
    assert "document.write" not in script


def test_settings_come_from_the_environment_and_the_api_wins_on_anonymous_reading() -> None:
    env = {"NETPOL_DRIFT_ANONYMOUS_READ": "true", "NETPOL_DRIFT_HISTORY_RUNS": "12"}
    assert DashboardSettings.from_env(env).anonymous_read
    assert DashboardSettings.from_env(env).history_runs == 12
    assert not DashboardSettings.from_env(env, anonymous_read=False).anonymous_read


def test_bad_settings_name_their_variables() -> None:
    with pytest.raises(InvalidInput) as caught:
        DashboardSettings.from_env(
            {"NETPOL_DRIFT_SECURE_COOKIES": "maybe", "NETPOL_DRIFT_HISTORY_RUNS": "0"}
        )
    assert sorted(str(p.path) for p in caught.value.problems) == [
        "NETPOL_DRIFT_HISTORY_RUNS",
        "NETPOL_DRIFT_SECURE_COOKIES",
    ]
