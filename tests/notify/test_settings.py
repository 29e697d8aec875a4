"""Notification settings from the environment."""

from __future__ import annotations

import pytest

from service.errors import FieldPath, InvalidInput
from service.notify.settings import NotifySettings


def test_defaults_apply_when_nothing_is_set() -> None:
    settings = NotifySettings.from_env({})
    assert settings == NotifySettings()
    assert settings.run_link(3) == "/dashboard/runs/3"


def test_the_base_url_makes_absolute_links() -> None:
    settings = NotifySettings.from_env({"NETPOL_DRIFT_BASE_URL": "https://n.example.com/"})
    assert settings.run_link(3) == "https://n.example.com/dashboard/runs/3"


@pytest.mark.parametrize(
    ("failures", "wait"), [(1, 5.0), (2, 10.0), (3, 20.0), (8, 600.0), (30, 600.0)]
)
def test_the_backoff_doubles_up_to_its_ceiling(failures: int, wait: float) -> None:
    assert NotifySettings().backoff(failures) == wait


def test_the_resume_interval_comes_from_the_environment() -> None:
    assert NotifySettings().resume_interval_s == 30.0
    settings = NotifySettings.from_env({"NETPOL_DRIFT_NOTIFY_INTERVAL_S": "2.5"})
    assert settings.resume_interval_s == 2.5


def test_every_bad_variable_is_named() -> None:
    with pytest.raises(InvalidInput) as caught:
        NotifySettings.from_env(
            {
                "NETPOL_DRIFT_BASE_URL": "netpol.example.com",
                "NETPOL_DRIFT_WEBHOOK_ATTEMPTS": "two",
                "NETPOL_DRIFT_WEBHOOK_TIMEOUT_S": "-1",
                "NETPOL_DRIFT_NOTIFY_INTERVAL_S": "0",
            }
        )
    assert {p.path for p in caught.value.problems} == {
        FieldPath(("NETPOL_DRIFT_BASE_URL",)),
        FieldPath(("NETPOL_DRIFT_WEBHOOK_ATTEMPTS",)),
        FieldPath(("NETPOL_DRIFT_WEBHOOK_TIMEOUT_S",)),
        FieldPath(("NETPOL_DRIFT_NOTIFY_INTERVAL_S",)),
    }
