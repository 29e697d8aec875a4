"""Every CLI test stores its runs in a database of its own, never in the user's data folder,
and reaches no cluster the user's environment names: a test that wants a cluster asks for
``kubeconfig``, the fake API server's (context ``lab``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from service.store.engine import DATABASE_URL_ENV
from tests.cluster.kubernetes.fake_cluster import (
    behaviour,
    fake,
    kubeconfig,
    kubeconfig_context,
    no_cluster_from_the_environment,
)

__all__ = [
    "behaviour",
    "fake",
    "kubeconfig",
    "kubeconfig_context",
    "no_cluster_from_the_environment",
]


@pytest.fixture(autouse=True)
def store_database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "store" / "netpol-drift.db"
    monkeypatch.setenv(DATABASE_URL_ENV, f"sqlite:///{path}")
    return path


@pytest.fixture(autouse=True)
def _every_test_ignores_the_cluster_environment(no_cluster_from_the_environment: None) -> None:
    """A command with no cluster option must not find the developer's cluster instead."""
