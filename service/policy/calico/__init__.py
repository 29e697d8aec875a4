"""Calico's own policy model in the engine (policy-semantics.md section 2; docs/calico.md).

Modules, by job:

- :mod:`.selector`, :mod:`.selector_parse`: the selector language (syntax tree,
  evaluation, canonical printing; lexer and parser with located errors);
- :mod:`.model`: values (tiers, policies, rules with Allow/Deny/Pass/Log, entity
  rules, network sets) and :class:`~.model.CalicoEntry`, which carries a Calico
  object in a list of NetworkPolicies;
- :mod:`.parse`, :mod:`.parse_rules`, :mod:`.admin`: projectcalico.org/v3 and
  policy.networking.k8s.io objects, validated as their API servers do;
- :mod:`.translate`: Kubernetes NetworkPolicies and label selectors as Calico
  sees them (tier default, order 1000);
- :mod:`.tiers`: the tiered model of a set of policies, staged ones apart;
- :mod:`.scope`, :mod:`.rules`, :mod:`.evaluate`: Felix's evaluation, one
  connection at a time, with explanations;
- :mod:`.columns`, :mod:`.vectors`, :mod:`.vector`: the same, vectorised over pod
  equivalence classes for the truth table.

:class:`service.policy.evaluate.Evaluator` and
:func:`service.policy.truthtable.compute_truth_table` switch to this model by
themselves when a state holds Calico objects.
"""

from service.policy.calico.model import (
    CalicoEntry,
    CalicoPolicy,
    NetworkSet,
    Tier,
    calico_entry,
    has_calico,
)
from service.policy.calico.parse import is_calico_kind, parse_calico, parse_calico_entry
from service.policy.calico.selector import Selector
from service.policy.calico.selector_parse import SelectorSyntaxError, parse_selector
from service.policy.calico.translate import translate_network_policy

__all__ = [
    "CalicoEntry",
    "CalicoPolicy",
    "NetworkSet",
    "Selector",
    "SelectorSyntaxError",
    "Tier",
    "calico_entry",
    "has_calico",
    "is_calico_kind",
    "parse_calico",
    "parse_calico_entry",
    "parse_selector",
    "translate_network_policy",
]
