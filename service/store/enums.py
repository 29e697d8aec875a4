"""The closed sets of words the store keeps in string columns.

Each is stored as its value (a short string) with a CHECK constraint, never as
a native database enum: adding a member is then a one-line migration that
rewrites a CHECK, the same on SQLite and PostgreSQL.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = ["Backend", "RunStatus", "TokenRole", "Trigger"]


class Trigger(StrEnum):
    """What started a run."""

    SCHEDULE = "schedule"
    API = "api"
    CLI = "cli"


class Backend(StrEnum):
    """Which cluster a run probed."""

    SIMULATED = "simulated"
    KUBERNETES = "kubernetes"


class RunStatus(StrEnum):
    """queued -> running -> succeeded | failed | cancelled."""

    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def finished(self) -> bool:
        return self in (RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.CANCELLED)


class TokenRole(StrEnum):
    """API token roles, each including the rights of the ones before it."""

    VIEWER = "viewer"
    OPERATOR = "operator"
    ADMIN = "admin"
