"""Every CLI test stores its runs in a database of its own, never in the user's data folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from service.store.engine import DATABASE_URL_ENV


@pytest.fixture(autouse=True)
def store_database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "store" / "netpol-drift.db"
    monkeypatch.setenv(DATABASE_URL_ENV, f"sqlite:///{path}")
    return path
