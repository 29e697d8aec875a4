"""Staged policies are never enforced but their effect is reported; explanations name
tier, policy, rule index and action, and point out the end-of-tier trap."""

from __future__ import annotations

from service.policy.connections import ConnectionSet
from service.policy.evaluate import Evaluator
from service.policy.model import WorkloadRef
from service.policy.verdict import Action
from service.report.connlist import DiffType, render_staged_diff, staged_diff
from tests.policy.calico.builders import DEV_DB, DEV_WEB, PROD_CLIENT, TCP, allowed, cluster

STAGED_DENY = """
apiVersion: projectcalico.org/v3
kind: StagedNetworkPolicy
metadata: {name: lock-db, namespace: dev}
spec:
  selector: app == 'db'
  ingress: [{action: Allow, source: {selector: app == 'web'}}]
"""


def test_staged_policies_are_never_enforced() -> None:
    state = cluster(STAGED_DENY)
    assert allowed(state, PROD_CLIENT, DEV_DB, 5432)
    assert not allowed(state, PROD_CLIENT, DEV_DB, 5432, with_staged=True)
    assert allowed(state, DEV_WEB, DEV_DB, 5432, with_staged=True)


def test_staged_set_replaces_and_staged_delete_removes_the_enforced_policy_of_that_name() -> None:
    enforced = """
apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata: {name: lock-db, namespace: dev}
spec: {selector: app == 'db'}
---
"""
    state = cluster(enforced + STAGED_DENY)
    assert not allowed(state, DEV_WEB, DEV_DB, 5432)
    assert allowed(state, DEV_WEB, DEV_DB, 5432, with_staged=True)  # Set: the staged spec wins
    delete = STAGED_DENY.replace("spec:", "spec:\n  stagedAction: Delete")
    state = cluster(enforced + delete)
    assert allowed(state, PROD_CLIENT, DEV_DB, 5432, with_staged=True)  # Delete: no policy left


def test_the_staged_diff_lists_each_pair_whose_connections_would_change() -> None:
    changes = staged_diff(cluster(STAGED_DENY, pods=(DEV_WEB, DEV_DB, PROD_CLIENT)))
    by_pair = {(str(c.source), str(c.destination)): c for c in changes}
    outside = "0.0.0.0-255.255.255.255[External]"
    assert set(by_pair) == {(outside, "dev/db[Pod]"), ("prod/client[Pod]", "dev/db[Pod]")}
    change = by_pair[("prod/client[Pod]", "dev/db[Pod]")]
    assert change.kind is DiffType.REMOVED
    assert change.enforced == ConnectionSet.all()
    assert not change.staged
    text = render_staged_diff(changes)
    assert text.splitlines() == [
        "Staged policies (never enforced) would change 2 connection(s):",
        f"  diff-type: removed, source: {outside}, destination: dev/db[Pod],"
        " enforced: All Connections, staged: No Connections",
        "  diff-type: removed, source: prod/client[Pod], destination: dev/db[Pod],"
        " enforced: All Connections, staged: No Connections",
    ]
    assert isinstance(change.source, WorkloadRef)


def test_without_staged_policies_there_is_no_diff() -> None:
    assert staged_diff(cluster("")) == ()


TIERED = """
apiVersion: projectcalico.org/v3
kind: Tier
metadata: {name: security}
spec: {order: 100}
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: security.db}
spec:
  tier: security
  selector: app == 'db'
  ingress:
    - {action: Log}
    - {action: Deny, source: {namespaceSelector: env == 'prod'}}
    - {action: Pass, source: {selector: app == 'web'}}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: db, namespace: dev}
spec:
  podSelector: {matchLabels: {app: db}}
  ingress:
    - from: [{podSelector: {}}, {podSelector: {matchLabels: {app: web}}}]
      ports: [{port: pg}]
"""


def test_explanations_name_tier_policy_rule_index_and_action() -> None:
    explanation = Evaluator(cluster(TIERED)).explain(DEV_WEB, DEV_DB, port=5432, protocol=TCP)
    assert explanation.allowed
    matches = explanation.ingress.matches
    assert [(m.tier, m.policy, m.rule_index, m.action) for m in matches[:3]] == [
        ("security", "GlobalNetworkPolicy security.db", 0, Action.LOG),
        ("security", "GlobalNetworkPolicy security.db", 2, Action.PASS),
        ("default", "NetworkPolicy dev/db", 0, Action.ALLOW),
    ]
    # A Kubernetes rule is named by its own rule, peer and port indexes.
    assert (matches[2].peer_index, matches[2].port_index) == (0, 0)
    assert explanation.ingress.isolating_policies == (
        "GlobalNetworkPolicy security.db",
        "NetworkPolicy dev/db",
    )
    text = explanation.render()
    assert "tier security: GlobalNetworkPolicy security.db ingress[2] -> Pass" in text
    assert "tier default: NetworkPolicy dev/db ingress[0] (peer 0, port 0) -> Allow" in text


def test_a_deny_is_explained_by_its_rule() -> None:
    explanation = Evaluator(cluster(TIERED)).explain(PROD_CLIENT, DEV_DB, port=5432, protocol=TCP)
    assert not explanation.allowed
    last = explanation.ingress.matches[-1]
    assert (last.tier, last.rule_index, last.action) == ("security", 1, Action.DENY)


def test_the_explanation_points_out_the_end_of_tier_trap() -> None:
    trap = TIERED.replace("- {action: Pass, source: {selector: app == 'web'}}", "")
    explanation = Evaluator(cluster(trap)).explain(DEV_WEB, DEV_DB, port=5432, protocol=TCP)
    assert not explanation.allowed
    reason = explanation.ingress.reason
    assert "tier security: GlobalNetworkPolicy security.db apply to dev/db but no rule" in reason
    assert "end of tier -> Deny" in reason
    assert "the end-of-tier trap: tier default (NetworkPolicy dev/db) never consulted" in reason
