"""The fake API server holds to Calico's rules: tiers, tiered names, validation, its API."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from service.errors import ClusterError
from service.scenario.plan import plan_matrix
from tests.cluster.kubernetes.calico_builders import (
    GNPS,
    NO_PRODUCTION,
    SECURITY_TIER,
    TIERS,
    version,
)
from tests.cluster.kubernetes.conftest import ClusterFactory
from tests.cluster.kubernetes.fakeapi import Behaviour, FakeApiServer
from tests.cluster.kubernetes.fakeapi.store import ApiError
from tests.runner.builders import workshop


def test_cluster_without_calicos_api_server_is_an_error_saying_so(
    make_cluster: ClusterFactory, behaviour: Behaviour
) -> None:
    behaviour.calico_api = False
    cluster = make_cluster()
    cluster.set_up(layout=plan_matrix(workshop()).layout)
    with pytest.raises(ClusterError, match="Calico's API server"):
        cluster.apply_version(version=version("tiered", SECURITY_TIER, NO_PRODUCTION))


def _body(kind: str, name: str, spec: Mapping[str, Any], **meta: Any) -> dict[str, Any]:
    return {
        "apiVersion": "projectcalico.org/v3",
        "kind": kind,
        "metadata": {"name": name, **meta},
        "spec": dict(spec),
    }


def test_fake_refuses_a_policy_in_a_tier_that_does_not_exist(fake: FakeApiServer) -> None:
    with pytest.raises(ApiError) as caught:
        fake.store.create(GNPS, None, _body("GlobalNetworkPolicy", "ops.a", {"tier": "ops"}))
    assert caught.value.code == 404


@pytest.mark.parametrize(
    ("tier", "name", "prefix_required", "accepted"),
    [
        ("ops", "ops.allow", True, True),
        ("ops", "allow", True, False),
        ("ops", "other.allow", True, False),
        ("default", "allow", True, True),
        ("default", "default.allow", True, True),
        ("default", "x.allow", True, False),
        ("ops", "allow", False, True),
    ],
)
def test_fake_tiered_policy_names_follow_calicos_rule(
    fake: FakeApiServer, tier: str, name: str, prefix_required: bool, accepted: bool
) -> None:
    fake.behaviour.calico_tier_prefix = prefix_required
    fake.store.create(TIERS, None, _body("Tier", "ops", {"order": 50}))
    body = _body("GlobalNetworkPolicy", name, {"tier": tier})
    if accepted:
        created = fake.store.create(GNPS, None, body)
        assert created["metadata"]["labels"]["projectcalico.org/tier"] == tier
    else:
        with pytest.raises(ApiError, match="Incorrectly formatted policy name"):
            fake.store.create(GNPS, None, body)


def test_fake_keeps_tiers_that_hold_policies_and_the_built_in_ones(fake: FakeApiServer) -> None:
    fake.store.create(TIERS, None, _body("Tier", "ops", {"order": 50}))
    fake.store.create(GNPS, None, _body("GlobalNetworkPolicy", "ops.a", {"tier": "ops"}))
    for tier in ("ops", "default"):
        with pytest.raises(ApiError) as caught:
            fake.store.delete(TIERS, None, tier, {})
        assert caught.value.code == 400
    fake.store.delete(GNPS, None, "ops.a", {})
    fake.store.delete(TIERS, None, "ops", {})


def test_fake_validates_calico_objects_as_calicos_api_server(fake: FakeApiServer) -> None:
    bad = _body("GlobalNetworkPolicy", "a", {"selector": "app == web"})
    with pytest.raises(ApiError) as caught:
        fake.store.create(GNPS, None, bad)
    assert caught.value.code == 422
    assert "spec.selector" in caught.value.message
