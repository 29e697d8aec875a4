"""The janitor deletes expired run namespaces and nothing else."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from service.cluster.kubernetes.api import NAMESPACES, PODS, KubeApi
from service.cluster.kubernetes.config import ClusterTarget, connect
from service.cluster.kubernetes.janitor import sweep_expired
from service.cluster.kubernetes.naming import EXPIRES_ANNOTATION, RunNaming
from service.scenario.plan import plan_matrix
from tests.cluster.kubernetes.conftest import ClusterFactory
from tests.cluster.kubernetes.fakeapi import FakeApiServer
from tests.runner.builders import workshop

NOW = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)
OWNED = dict(RunNaming("npd", "dead01").labels)


@pytest.fixture
def api(target: ClusterTarget) -> Iterator[KubeApi]:
    gateway = KubeApi(connect(target))
    yield gateway
    gateway.close()


def _namespace(api: KubeApi, name: str, labels: dict[str, str], expires: str | None) -> None:
    annotations = {EXPIRES_ANNOTATION: expires} if expires is not None else {}
    api.create(
        NAMESPACES, {"metadata": {"name": name, "labels": labels, "annotations": annotations}}
    )


def _names(api: KubeApi) -> set[str]:
    return {ns["metadata"]["name"] for ns in api.list(NAMESPACES)}


def test_expired_run_namespaces_are_deleted_with_their_content(api: KubeApi) -> None:
    _namespace(api, "npd-dead01-development", OWNED, "2026-03-01T11:59:59Z")
    api.create(
        PODS,
        {
            "metadata": {"name": "p", "namespace": "npd-dead01-development"},
            "spec": {"containers": [{"name": "c", "image": "agnhost"}]},
        },
    )
    report = sweep_expired(api, now=NOW)
    assert report.deleted == ("npd-dead01-development",)
    assert "npd-dead01-development" not in _names(api)
    assert api.list(PODS, "npd-dead01-development") == []


def test_namespaces_not_yet_expired_are_kept(api: KubeApi) -> None:
    _namespace(api, "npd-live01-x", OWNED, "2026-03-01T12:00:01Z")
    report = sweep_expired(api, now=NOW)
    assert report.kept == ("npd-live01-x",)
    assert report.deleted == ()
    assert "npd-live01-x" in _names(api)


def test_namespaces_without_the_manager_label_are_never_touched(
    api: KubeApi, fake: FakeApiServer
) -> None:
    # Looks like ours, has an expired expiry, but nobody gave it our manager label.
    _namespace(api, "npd-dead02-x", {"netpol-drift.io/run": "dead02"}, "2020-01-01T00:00:00Z")
    report = sweep_expired(api, now=NOW)
    assert report.deleted == ()
    assert report.kept == ()
    assert report.skipped == ()
    assert "npd-dead02-x" in _names(api)
    assert fake.count("delete", "namespaces") == 0


@pytest.mark.parametrize("expires", [None, "next tuesday"])
def test_managed_namespace_without_a_readable_expiry_is_skipped_and_reported(
    api: KubeApi, expires: str | None
) -> None:
    _namespace(api, "npd-odd001-x", OWNED, expires)
    report = sweep_expired(api, now=NOW)
    assert [name for name, _ in report.skipped] == ["npd-odd001-x"]
    assert EXPIRES_ANNOTATION in report.skipped[0][1]
    assert "npd-odd001-x" in _names(api)


def test_dry_run_deletes_nothing(api: KubeApi, fake: FakeApiServer) -> None:
    _namespace(api, "npd-dead01-x", OWNED, "2026-03-01T00:00:00Z")
    report = sweep_expired(api, now=NOW, dry_run=True)
    assert report.deleted == ("npd-dead01-x",)
    assert "npd-dead01-x" in _names(api)
    assert fake.count("delete", "namespaces") == 0


def test_janitor_removes_what_a_dead_run_left(api: KubeApi, make_cluster: ClusterFactory) -> None:
    # A run that set up and died: no teardown. Its namespaces expire after ttl_s.
    cluster = make_cluster(ttl_s=1.0)
    cluster.set_up(layout=plan_matrix(workshop()).layout)
    assert sweep_expired(api).kept == ("npd-t3st01-development", "npd-t3st01-production")
    later = datetime.now(UTC) + timedelta(minutes=1)
    report = sweep_expired(api, now=later)
    assert report.deleted == ("npd-t3st01-development", "npd-t3st01-production")
    assert not any(name.startswith("npd-t3st01") for name in _names(api))
