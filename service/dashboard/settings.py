"""The dashboard's settings, from the app (when the API made it) and NETPOL_DRIFT_* variables.

=====================================  ================================================
``NETPOL_DRIFT_ANONYMOUS_READ``        ``true``: pages can be read without a token
                                       (default false; the API's setting when it has one)
``NETPOL_DRIFT_SECRET_KEY``            signs the dashboard's session cookie; set it when
                                       several processes serve (default: random per
                                       process, so a restart logs everyone out)
``NETPOL_DRIFT_SECURE_COOKIES``        ``true``: the session cookie is sent over HTTPS only
``NETPOL_DRIFT_HISTORY_RUNS``          runs on a scenario's history page (30)
``NETPOL_DRIFT_FLAKE_WINDOW``          runs looked at for flakes (10)
``NETPOL_DRIFT_DASHBOARD_TABLE_CELLS`` cells a run page draws as HTML tables; above it,
                                       canvases and namespace groups (1500)
=====================================  ================================================
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from service.compare import DEFAULT_WINDOW
from service.errors import FieldPath, InvalidInput, Problem

__all__ = ["DashboardSettings"]

_TRUE: Final = frozenset({"1", "true", "yes", "on"})
_FALSE: Final = frozenset({"0", "false", "no", "off", ""})
_TABLE_CELLS: Final = 1500


@dataclass(frozen=True, slots=True)
class DashboardSettings:
    anonymous_read: bool = False
    secret_key: str | None = None
    secure_cookies: bool = False
    history_runs: int = 30
    flake_window: int = DEFAULT_WINDOW
    # Above this many cells on a run page, versions are drawn on canvases, with groups.
    table_cells: int = _TABLE_CELLS

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str] | None = None, *, anonymous_read: bool | None = None
    ) -> DashboardSettings:
        """Read the environment; ``anonymous_read`` given (the API's) wins over it."""
        env = os.environ if environ is None else environ
        problems: list[Problem] = []

        def flag(name: str) -> bool:
            text = env.get(name, "").strip().lower()
            if text in _TRUE | _FALSE:
                return text in _TRUE
            problems.append(Problem(f"expected true or false, got {text!r}", FieldPath((name,))))
            return False

        def count(name: str, default: int) -> int:
            text = env.get(name, "").strip()
            if not text:
                return default
            if not text.isdigit() or int(text) < 1:
                problems.append(
                    Problem(f"expected a whole number >= 1, got {text!r}", FieldPath((name,)))
                )
                return default
            return int(text)

        anonymous = (
            anonymous_read if anonymous_read is not None else flag("NETPOL_DRIFT_ANONYMOUS_READ")
        )
        settings = cls(
            anonymous_read=anonymous,
            secret_key=env.get("NETPOL_DRIFT_SECRET_KEY", "").strip() or None,
            secure_cookies=flag("NETPOL_DRIFT_SECURE_COOKIES"),
            history_runs=count("NETPOL_DRIFT_HISTORY_RUNS", 30),
            flake_window=count("NETPOL_DRIFT_FLAKE_WINDOW", DEFAULT_WINDOW),
            table_cells=count("NETPOL_DRIFT_DASHBOARD_TABLE_CELLS", _TABLE_CELLS),
        )
        InvalidInput.collect(problems)
        return settings
