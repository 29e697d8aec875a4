"""Felix's evaluation order: tiers, policies, first match, Pass, Log, end of tier, profiles.

policy-semantics.md section 2, "Evaluation per endpoint and direction". Each
test builds the smallest set of policies that can tell the rule apart from its
plausible misreadings, and asks both engines (see builders.allowed).
"""

from __future__ import annotations

import pytest

from service.errors import InvalidInput
from service.policy.calico.model import KUBERNETES_ORDER
from service.policy.evaluate import Evaluator
from service.policy.model import Protocol
from service.policy.truthtable import PortProbe, compute_truth_table
from tests.policy.calico.builders import DEV_DB, DEV_WEB, PROD_CLIENT, PROD_WEB, allowed, cluster

TIERS = """
apiVersion: projectcalico.org/v3
kind: Tier
metadata: {name: first}
spec: {order: 100}
---
apiVersion: projectcalico.org/v3
kind: Tier
metadata: {name: second}
spec: {order: 200}
---
"""


def gnp(name: str, tier: str, action: str, order: str = "null", extra: str = "") -> str:
    """A GlobalNetworkPolicy on dev/db's ingress with one rule of ``action`` for any source."""
    return f"""
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {{name: {name}}}
spec:
  tier: {tier}
  order: {order}
  selector: app == 'db'
  types: [Ingress]
  ingress: [{{action: {action}}}]
  {extra}
---
"""


def test_tiers_are_consulted_in_ascending_order() -> None:
    state = cluster(
        TIERS + gnp("second.deny", "second", "Deny") + gnp("first.ok", "first", "Allow")
    )
    assert allowed(state, DEV_WEB, DEV_DB, 5432)
    state = cluster(TIERS + gnp("second.ok", "second", "Allow") + gnp("first.no", "first", "Deny"))
    assert not allowed(state, DEV_WEB, DEV_DB, 5432)


def test_a_tier_without_order_comes_after_every_ordered_tier() -> None:
    text = """
apiVersion: projectcalico.org/v3
kind: Tier
metadata: {name: aaa}
---
apiVersion: projectcalico.org/v3
kind: Tier
metadata: {name: zzz}
spec: {order: 5000000}
---
"""
    state = cluster(text + gnp("aaa.deny", "aaa", "Deny") + gnp("zzz.ok", "zzz", "Allow"))
    assert allowed(state, DEV_WEB, DEV_DB, 5432)


def test_tiers_of_equal_order_are_taken_by_name() -> None:
    text = """
apiVersion: projectcalico.org/v3
kind: Tier
metadata: {name: beta}
spec: {order: 100}
---
apiVersion: projectcalico.org/v3
kind: Tier
metadata: {name: alpha}
spec: {order: 100}
---
"""
    state = cluster(text + gnp("beta.ok", "beta", "Allow") + gnp("alpha.no", "alpha", "Deny"))
    assert not allowed(state, DEV_WEB, DEV_DB, 5432)


def test_policies_of_a_tier_go_by_order_then_by_name_none_last() -> None:
    by_order = gnp("b", "default", "Deny", order="2") + gnp("a", "default", "Allow", order="1")
    assert allowed(cluster(by_order), DEV_WEB, DEV_DB, 5432)
    by_name = gnp("b", "default", "Allow", order="1") + gnp("a", "default", "Deny", order="1")
    assert not allowed(cluster(by_name), DEV_WEB, DEV_DB, 5432)
    none_last = gnp("a", "default", "Allow") + gnp("z", "default", "Deny", order="9999999")
    assert not allowed(cluster(none_last), DEV_WEB, DEV_DB, 5432)


def test_the_first_matching_rule_decides() -> None:
    text = """
apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata: {name: db, namespace: dev}
spec:
  selector: app == 'db'
  ingress:
    - {action: Allow, source: {selector: app == 'web'}}
    - {action: Deny}
    - {action: Allow}
"""
    state = cluster(text)
    assert allowed(state, DEV_WEB, DEV_DB, 5432)
    assert not allowed(state, PROD_CLIENT, DEV_DB, 5432)


def test_a_log_rule_matches_and_evaluation_goes_on() -> None:
    text = gnp("p", "default", "Log", order="1") + gnp("q", "default", "Allow", order="2")
    assert allowed(cluster(text), DEV_WEB, DEV_DB, 5432)
    text = gnp("p", "default", "Log", order="1") + gnp("q", "default", "Deny", order="2")
    assert not allowed(cluster(text), DEV_WEB, DEV_DB, 5432)


def test_pass_skips_the_rest_of_the_tier_for_the_next_tier() -> None:
    text = TIERS + gnp("first.pass", "first", "Pass", order="1")
    text += gnp("first.deny", "first", "Deny", order="2") + gnp("second.ok", "second", "Allow")
    assert allowed(cluster(text), DEV_WEB, DEV_DB, 5432)


def test_pass_out_of_the_last_tier_falls_to_the_namespace_profile_which_allows() -> None:
    assert allowed(cluster(gnp("p", "default", "Pass")), DEV_WEB, DEV_DB, 5432)


def test_end_of_tier_denies_when_its_policies_select_but_no_rule_matches() -> None:
    """The trap: the Kubernetes policy in tier default would allow, but is never consulted."""
    text = (
        TIERS
        + """
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: first.only-prod}
spec:
  tier: first
  selector: app == 'db'
  ingress: [{action: Allow, source: {namespaceSelector: env == 'prod'}}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: db, namespace: dev}
spec:
  podSelector: {}
  ingress: [{}]
"""
    )
    state = cluster(text)
    assert allowed(state, PROD_CLIENT, DEV_DB, 5432)
    assert not allowed(state, DEV_WEB, DEV_DB, 5432)


def test_a_tier_with_default_action_pass_hands_unmatched_traffic_on() -> None:
    text = """
apiVersion: projectcalico.org/v3
kind: Tier
metadata: {name: soft}
spec: {order: 10, defaultAction: Pass}
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: soft.only-prod}
spec:
  tier: soft
  selector: app == 'db'
  ingress: [{action: Deny, source: {namespaceSelector: env == 'prod'}}]
"""
    state = cluster(text)
    assert allowed(state, DEV_WEB, DEV_DB, 5432)
    assert not allowed(state, PROD_CLIENT, DEV_DB, 5432)


def test_a_tier_that_selects_nothing_is_skipped_without_its_end_of_tier_action() -> None:
    text = (
        TIERS
        + """
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: first.other}
spec:
  tier: first
  selector: app == 'nothing-has-this'
  ingress: [{action: Allow}]
"""
    )
    assert allowed(cluster(text), DEV_WEB, DEV_DB, 5432)


def test_a_policy_of_another_direction_does_not_make_the_tier_apply() -> None:
    text = (
        TIERS
        + """
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: first.egress-only}
spec:
  tier: first
  selector: app == 'db'
  types: [Egress]
"""
    )
    state = cluster(text)
    assert allowed(state, DEV_WEB, DEV_DB, 5432)
    assert not allowed(state, DEV_DB, DEV_WEB, 80)


def test_an_endpoint_no_policy_applies_to_is_allowed_by_its_namespace_profile() -> None:
    state = cluster(gnp("p", "default", "Deny"))
    assert allowed(state, DEV_DB, PROD_WEB, 8080)


def test_kubernetes_network_policies_sit_in_tier_default_at_order_1000() -> None:
    assert KUBERNETES_ORDER == 1000
    knp = """
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: db, namespace: dev}
spec:
  podSelector: {matchLabels: {app: db}}
  ingress: [{}]
---
"""
    assert not allowed(cluster(knp + gnp("before", "default", "Deny", "999")), DEV_WEB, DEV_DB, 1)
    assert allowed(cluster(knp + gnp("after", "default", "Deny", "1001")), DEV_WEB, DEV_DB, 1)
    assert allowed(cluster(knp + gnp("last", "default", "Deny")), DEV_WEB, DEV_DB, 1)


def test_equal_orders_are_broken_by_felix_name_knp_default_prefix() -> None:
    """A Kubernetes policy is ``dev/knp.default.<name>`` to Felix: "dev/aaa" sorts before it."""
    knp = """
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: aaa-allow, namespace: dev}
spec:
  podSelector: {matchLabels: {app: db}}
  ingress: [{}]
---
"""

    def calico(name: str) -> str:
        return f"""
apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata: {{name: {name}, namespace: dev}}
spec: {{order: 1000, selector: app == 'db', ingress: [{{action: Deny}}]}}
"""

    assert not allowed(cluster(knp + calico("aaa")), DEV_WEB, DEV_DB, 5432)
    assert allowed(cluster(knp + calico("zzz")), DEV_WEB, DEV_DB, 5432)


def test_types_default_from_the_rules_present() -> None:
    egress_only = """
apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata: {name: out, namespace: dev}
spec:
  selector: app == 'db'
  egress: [{action: Deny}]
"""
    state = cluster(egress_only)
    assert allowed(state, DEV_WEB, DEV_DB, 5432)  # no ingress type: ingress untouched
    assert not allowed(state, DEV_DB, DEV_WEB, 80)
    no_rules = """
apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata: {name: none, namespace: dev}
spec: {selector: app == 'db'}
"""
    state = cluster(no_rules)
    assert not allowed(state, DEV_WEB, DEV_DB, 5432)  # Ingress by default: end of tier
    assert allowed(state, DEV_DB, DEV_WEB, 80)


def test_rules_of_a_type_the_policy_does_not_list_are_ignored() -> None:
    text = """
apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata: {name: p, namespace: dev}
spec:
  selector: app == 'db'
  types: [Ingress]
  ingress: [{action: Allow}]
  egress: [{action: Deny}]
"""
    assert allowed(cluster(text), DEV_DB, DEV_WEB, 80)


DUPLICATED = """
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: g}
spec: {selector: all()}
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: g}
spec: {selector: all()}
"""


def test_a_calico_object_given_twice_is_refused_alike_by_evaluator_and_truth_table() -> None:
    state = cluster(DUPLICATED)
    with pytest.raises(InvalidInput) as by_evaluator:
        Evaluator(state)
    with pytest.raises(InvalidInput) as by_table:
        compute_truth_table(state, [PortProbe(80, Protocol.TCP)])
    assert by_table.value.problems == by_evaluator.value.problems
    assert [p.message for p in by_table.value.problems] == [
        "GlobalNetworkPolicy g is given twice; expected one object per name"
    ]
