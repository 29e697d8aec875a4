"""Notification settings, from NETPOL_DRIFT_* variables (12-factor).

=====================================  ================================================
``NETPOL_DRIFT_BASE_URL``              where people reach the dashboard, for the link
                                       to the run page (e.g. https://netpol.example.com);
                                       unset: the link is the path alone
``NETPOL_DRIFT_WEBHOOK_TIMEOUT_S``     seconds one POST may take (10)
``NETPOL_DRIFT_WEBHOOK_ATTEMPTS``      attempts before a delivery is given up (6)
``NETPOL_DRIFT_WEBHOOK_BACKOFF_S``     the wait after the first failure; doubled after
                                       each further one (5)
``NETPOL_DRIFT_WEBHOOK_BACKOFF_MAX_S`` the longest wait between attempts (600)
``NETPOL_DRIFT_FLAKE_WINDOW``          runs looked at for new flakes (10)
``NETPOL_DRIFT_NOTIFY_INTERVAL_S``     how often owed notifications and due deliveries
                                       are looked for and sent (30): by the in-process
                                       notifier, or with a broker by Celery beat
                                       (:mod:`workers.config` reads it there)
=====================================  ================================================
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from service.compare import DEFAULT_WINDOW
from service.errors import FieldPath, InvalidInput, Problem

__all__ = ["NOTIFY_INTERVAL_ENV", "RESUME_INTERVAL_S", "RUN_PAGE_PATH", "NotifySettings"]

# The dashboard's run page (service.dashboard serves it there; a test checks they agree).
RUN_PAGE_PATH: Final = "/dashboard/runs/{run_id}"
NOTIFY_INTERVAL_ENV: Final = "NETPOL_DRIFT_NOTIFY_INTERVAL_S"
# The resume sweep is the safety net, not the way things are normally sent: a lost
# notification goes out within this long.
RESUME_INTERVAL_S: Final = 30.0

_ENV: Final = {
    "base_url": "NETPOL_DRIFT_BASE_URL",
    "timeout_s": "NETPOL_DRIFT_WEBHOOK_TIMEOUT_S",
    "attempts": "NETPOL_DRIFT_WEBHOOK_ATTEMPTS",
    "backoff_s": "NETPOL_DRIFT_WEBHOOK_BACKOFF_S",
    "backoff_max_s": "NETPOL_DRIFT_WEBHOOK_BACKOFF_MAX_S",
    "flake_window": "NETPOL_DRIFT_FLAKE_WINDOW",
    "resume_interval_s": NOTIFY_INTERVAL_ENV,
}


@dataclass(frozen=True, slots=True)
class NotifySettings:
    base_url: str = ""
    timeout_s: float = 10.0
    attempts: int = 6
    backoff_s: float = 5.0
    backoff_max_s: float = 600.0
    flake_window: int = DEFAULT_WINDOW
    resume_interval_s: float = RESUME_INTERVAL_S

    def run_link(self, run_id: int) -> str:
        return self.base_url.rstrip("/") + RUN_PAGE_PATH.format(run_id=run_id)

    def backoff(self, failures: int) -> float:
        """Seconds to wait after the ``failures``-th failed attempt (1, 2, ...)."""
        doubled: float = self.backoff_s * 2.0 ** max(0, failures - 1)
        return min(self.backoff_max_s, doubled)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> NotifySettings:
        """Read the environment; InvalidInput names every variable that does not fit."""
        env = os.environ if environ is None else environ
        problems: list[Problem] = []

        def number(name: str, default: float, *, integer: bool) -> float:
            variable = _ENV[name]
            text = env.get(variable, "").strip()
            if not text:
                return default
            try:
                value = float(int(text)) if integer else float(text)
            except ValueError:
                value = math.nan
            if not (math.isfinite(value) and value > 0):
                kind = "a whole number" if integer else "a number"
                problems.append(
                    Problem(f"expected {kind} > 0, got {text!r}", path=FieldPath((variable,)))
                )
                return default
            return value

        base_url = env.get(_ENV["base_url"], "").strip()
        if base_url and not base_url.startswith(("http://", "https://")):
            problems.append(
                Problem(
                    f"expected an http:// or https:// URL, got {base_url!r}",
                    path=FieldPath((_ENV["base_url"],)),
                )
            )
            base_url = ""
        settings = cls(
            base_url=base_url,
            timeout_s=number("timeout_s", _DEFAULTS.timeout_s, integer=False),
            attempts=int(number("attempts", _DEFAULTS.attempts, integer=True)),
            backoff_s=number("backoff_s", _DEFAULTS.backoff_s, integer=False),
            backoff_max_s=number("backoff_max_s", _DEFAULTS.backoff_max_s, integer=False),
            flake_window=int(number("flake_window", _DEFAULTS.flake_window, integer=True)),
            resume_interval_s=number(
                "resume_interval_s", _DEFAULTS.resume_interval_s, integer=False
            ),
        )
        InvalidInput.collect(problems)
        return settings


_DEFAULTS: Final = NotifySettings()
