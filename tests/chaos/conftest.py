"""Chaos tests that store experiments do it in a database of their own."""

from __future__ import annotations

from pathlib import Path

import pytest

from service.store.engine import DATABASE_URL_ENV


@pytest.fixture
def store_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"sqlite:///{tmp_path / 'store' / 'netpol-drift.db'}"
    (tmp_path / "store").mkdir()
    monkeypatch.setenv(DATABASE_URL_ENV, url)
    return url
