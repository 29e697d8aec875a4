"""The rewriting of Calico objects for a run, without a cluster: selectors and names."""

from __future__ import annotations

import pytest

from service.cluster.kubernetes.calico_rewrite import RunScope, calico_manifests
from service.cluster.kubernetes.calico_selectors import SelectorRewrite, UnsafeRewriteError
from service.cluster.kubernetes.naming import RunNaming
from tests.cluster.kubernetes.calico_builders import RUN, SECURITY_TIER, calico

RENAMES = {"development": "npd-r1-development", "production": "npd-r1-production"}


@pytest.mark.parametrize(
    ("written", "for_the_run"),
    [
        (
            "projectcalico.org/name == 'development'",
            'projectcalico.org/name == "npd-r1-development"',
        ),
        (
            "kubernetes.io/metadata.name in {'development', 'kube-system'}",
            'kubernetes.io/metadata.name in {"kube-system", "npd-r1-development"}',
        ),
        (
            "projectcalico.org/namespace != 'production'",
            'projectcalico.org/namespace != "npd-r1-production"',
        ),
        (
            "pcns.projectcalico.org/name not in {'production'}",
            'pcns.projectcalico.org/name not in {"npd-r1-production"}',
        ),
        ("projectcalico.org/name == 'kube-system'", "projectcalico.org/name == 'kube-system'"),
        (
            "projectcalico.org/namespace starts with 'dev'",
            '(projectcalico.org/namespace starts with "dev" || '
            'projectcalico.org/namespace in {"npd-r1-development"})',
        ),
        (
            "projectcalico.org/namespace ends with 'tion'",
            '(projectcalico.org/namespace ends with "tion" || '
            'projectcalico.org/namespace in {"npd-r1-production"})',
        ),
        (
            "projectcalico.org/namespace ends with 'xyz'",
            "projectcalico.org/namespace ends with 'xyz'",
        ),
        ("purpose == 'development'", "purpose == 'development'"),
    ],
)
def test_selectors_naming_the_runs_namespaces_name_their_run_copies(
    written: str, for_the_run: str
) -> None:
    assert SelectorRewrite(RENAMES).rewrite(written) == for_the_run


@pytest.mark.parametrize(
    "written",
    [
        "projectcalico.org/name contains 'npd'",
        "projectcalico.org/namespace starts with 'npd-r1'",
        "projectcalico.org/name contains '-'",
    ],
)
def test_selectors_no_rewrite_keeps_exact_are_refused(written: str) -> None:
    with pytest.raises(UnsafeRewriteError):
        SelectorRewrite(RENAMES).rewrite(written)


@pytest.mark.parametrize(
    ("kind", "name", "tier", "namespace", "on_the_cluster"),
    [
        ("GlobalNetworkPolicy", "security.deny", "security", None, f"{RUN}security.deny"),
        ("GlobalNetworkPolicy", "deny", "security", None, f"{RUN}security.deny"),
        ("NetworkPolicy", "security.deny", "security", "development", f"{RUN}security.deny"),
        ("GlobalNetworkPolicy", "deny", None, None, f"{RUN}deny"),
        ("GlobalNetworkPolicy", "default.deny", "default", None, f"default.{RUN}deny"),
        ("NetworkPolicy", "deny", None, "development", "deny"),
        ("GlobalNetworkPolicy", "kube-admin.deny", "kube-admin", None, f"kube-admin.{RUN}deny"),
        ("StagedGlobalNetworkPolicy", "deny", "kube-admin", None, f"kube-admin.{RUN}deny"),
    ],
)
def test_tiered_policies_are_named_as_calico_requires_for_the_runs_tiers(
    kind: str, name: str, tier: str | None, namespace: str | None, on_the_cluster: str
) -> None:
    spec = {"tier": tier} if tier else {}
    meta = {"namespace": namespace} if namespace else {}
    policy = calico(kind, name, spec, **meta)
    scope = RunScope(
        naming=RunNaming("npd", "t3st01"),
        namespaces=frozenset({"development"}),
        labels={},
        annotations={},
    )
    found = calico_manifests([SECURITY_TIER, policy], version="v", scope=scope)
    assert found[-1].name == on_the_cluster
    assert found[-1].body["spec"].get("tier", "default") == (
        f"{RUN}security" if tier == "security" else (tier or "default")
    )
