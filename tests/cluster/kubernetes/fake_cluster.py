"""The fake API server as pytest fixtures: how it behaves, the running server, a kubeconfig
that points at it, and a guard against the cluster the user's environment names.

A conftest (or a test module) imports the fixtures it wants and re-exports them in
``__all__``, as tests/runs/conftest.py does with the store's database fixtures. What differs
between the places that use them is a fixture they override, not another copy:

- ``behaviour``: a module overrides it to make the fake misbehave (or have more nodes);
- ``kubeconfig_context``: the context the kubeconfig names and selects;
- ``no_cluster_from_the_environment``: requested (or wrapped in an autouse fixture) where a
  test must reach no cluster it does not name itself.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cluster.kubernetes.fakeapi import Behaviour, FakeApiServer

# The variables that would otherwise pick a cluster when no option names one.
CLUSTER_ENV = ("NETPOL_DRIFT_KUBECONFIG", "NETPOL_DRIFT_CONTEXT", "NETPOL_DRIFT_CLUSTERS")


@pytest.fixture
def behaviour() -> Behaviour:
    """How the fake API server behaves; a test module overrides it to make it misbehave."""
    return Behaviour()


@pytest.fixture
def fake(behaviour: Behaviour) -> Iterator[FakeApiServer]:
    with FakeApiServer(behaviour) as server:
        yield server


@pytest.fixture
def kubeconfig_context() -> str:
    """The context ``kubeconfig`` names: ``lab``, the cluster the CLI and runs tests select."""
    return "lab"


@pytest.fixture
def kubeconfig(fake: FakeApiServer, tmp_path: Path, kubeconfig_context: str) -> Path:
    """A kubeconfig whose current context, ``kubeconfig_context``, is the fake API server."""
    return fake.write_kubeconfig(tmp_path / "kubeconfig", context=kubeconfig_context)


@pytest.fixture
def no_cluster_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No cluster is picked from the environment: only what a test passes reaches one."""
    for name in CLUSTER_ENV:
        monkeypatch.delenv(name, raising=False)
