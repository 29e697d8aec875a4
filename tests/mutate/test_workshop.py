"""The mutation score of the Calico workshop scenario, against a hand analysis.

The workshop (scenarios/calico-workshop.yaml): namespaces development
(purpose=development) and production (purpose=production); one target,
development/backend (app=webapp, role=backend) on 80/TCP; sources unlabelled
({}) and frontend (app=webapp, role=frontend) in both namespaces: four cells per
version. Versions: none; deny-all (backend-policy selects the backend, Ingress,
no rules); allow-pod (from namespaceSelector {} + podSelector frontend);
allow-pod-namespace (from namespaceSelector purpose=development + podSelector
frontend). The policies have no ports, so no port mutation exists.

The hand analysis, mutation by mutation (the cell is the first one of plan
order that catches it: development before production, unlabelled before
frontend):

deny-all, allow-pod and allow-pod-namespace alike
- drop the policy: development/unlabelled -> backend, blocked -> allowed.
- policyTypes [Ingress] -> [Egress]: ingress opens: the same cell.
- policyTypes [Ingress] -> [Ingress, Egress]: survives; it denies the backend's
  egress and no cell starts at a backend pod.
- empty spec.podSelector, or drop app / role from it: survive; they isolate more
  pods of development, but the only target there is the backend, already isolated.

allow-pod
- drop ingress rule 0: development/frontend -> backend, allowed -> blocked.
- drop the (only) peer, so the rule admits everyone: development/unlabelled,
  blocked -> allowed.
- drop the peer's namespaceSelector ({}): the peer shrinks to development, so
  production/frontend -> backend, allowed -> blocked.
- drop or empty the peer's podSelector: every pod of every namespace:
  development/unlabelled, blocked -> allowed.
- drop app=webapp or role=frontend from the peer's podSelector: survive; every
  probed source has both labels or neither.
- (the namespaceSelector is {} already: nothing to empty.)

allow-pod-namespace
- drop rule, drop peer, drop or empty the peer's podSelector: as for allow-pod.
- empty the namespaceSelector: production/frontend -> backend, blocked -> allowed.
- drop the namespaceSelector: EQUIVALENT. The peer then means "frontend pods of
  development", and development is the only namespace labelled
  purpose=development: no pod anywhere in the scenario sees a change.
- drop app / role from the peer's podSelector: survive, as for allow-pod.

namespaces (every version)
- development purpose=development -> purpose=other: development/frontend ->
  backend under allow-pod-namespace, allowed -> blocked.
- production purpose=production -> purpose=development: production/frontend ->
  backend under allow-pod-namespace, blocked -> allowed.

So 18 killed, 16 survived, 1 equivalent: score 18/34.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from service.mutate import (
    AddSource,
    AddTarget,
    MutantResult,
    MutationKind,
    MutationReport,
    Outcome,
    mutate_scenario,
    patch_document,
)
from service.mutate.render import render_json
from service.policy.model import Labels
from service.scenario.load import load_scenario, parse_scenario

REPO = Path(__file__).resolve().parents[2]
WORKSHOP = REPO / "scenarios" / "calico-workshop.yaml"

K = MutationKind
DROP_POLICY, FLIP = K.DROP_POLICY, K.FLIP_POLICY_TYPES
SPEC_SEL = "spec.podSelector"
PEER = "spec.ingress[0].from[0]"
DEV_UNLABELLED = ("development/unlabelled", "blocked", "allowed")
DEV_FRONTEND_CUT = ("development/frontend", "allowed", "blocked")
PROD_FRONTEND_CUT = ("production/frontend", "allowed", "blocked")
PROD_FRONTEND_IN = ("production/frontend", "blocked", "allowed")

SURVIVES = Outcome.SURVIVED
EQUIVALENT = Outcome.EQUIVALENT
TYPES = "spec.policyTypes"
# (version, kind, path, new policyTypes for a flip) -> the catching cell (source,
# expected, mutant) or the outcome.
Key = tuple[str | None, MutationKind, str, str]
HAND: dict[Key, tuple[str, str, str] | Outcome] = {}
for _v in ("deny-all", "allow-pod", "allow-pod-namespace"):
    HAND.update(
        {
            (_v, DROP_POLICY, "", ""): DEV_UNLABELLED,
            (_v, FLIP, TYPES, "[Ingress, Egress]"): SURVIVES,
            (_v, FLIP, TYPES, "[Egress]"): DEV_UNLABELLED,
            (_v, K.EMPTY_SELECTOR, SPEC_SEL, ""): SURVIVES,
            (_v, K.DROP_MATCH_LABEL, f"{SPEC_SEL}.matchLabels.app", ""): SURVIVES,
            (_v, K.DROP_MATCH_LABEL, f"{SPEC_SEL}.matchLabels.role", ""): SURVIVES,
        }
    )
for _v in ("allow-pod", "allow-pod-namespace"):
    HAND.update(
        {
            (_v, K.DROP_RULE, "spec.ingress[0]", ""): DEV_FRONTEND_CUT,
            (_v, K.DROP_PEER, PEER, ""): DEV_UNLABELLED,
            (_v, K.DROP_SELECTOR, f"{PEER}.podSelector", ""): DEV_UNLABELLED,
            (_v, K.EMPTY_SELECTOR, f"{PEER}.podSelector", ""): DEV_UNLABELLED,
            (_v, K.DROP_MATCH_LABEL, f"{PEER}.podSelector.matchLabels.app", ""): SURVIVES,
            (_v, K.DROP_MATCH_LABEL, f"{PEER}.podSelector.matchLabels.role", ""): SURVIVES,
        }
    )
HAND.update(
    {
        ("allow-pod", K.DROP_SELECTOR, f"{PEER}.namespaceSelector", ""): PROD_FRONTEND_CUT,
        ("allow-pod-namespace", K.DROP_SELECTOR, f"{PEER}.namespaceSelector", ""): EQUIVALENT,
        ("allow-pod-namespace", K.EMPTY_SELECTOR, f"{PEER}.namespaceSelector", ""): (
            PROD_FRONTEND_IN
        ),
        (None, K.RELABEL_NAMESPACE, "namespaces.development.purpose", ""): DEV_FRONTEND_CUT,
        (None, K.RELABEL_NAMESPACE, "namespaces.production.purpose", ""): PROD_FRONTEND_IN,
    }
)


def _key(result: MutantResult) -> Key:
    m = result.mutation
    # Two flips share a path; the new policyTypes tell them apart.
    detail = m.description.rsplit(" -> ", 1)[1] if m.kind is FLIP else ""
    return (m.version, m.kind, m.path, detail)


@pytest.fixture(scope="module")
def report() -> MutationReport:
    return mutate_scenario(load_scenario(WORKSHOP))


def test_every_workshop_mutation_is_in_the_hand_analysis_and_none_is_missing(
    report: MutationReport,
) -> None:
    assert sorted(map(str, (_key(r) for r in report.results))) == sorted(map(str, HAND))


@pytest.mark.parametrize("key", list(HAND), ids=[" ".join(map(str, k)).strip() for k in HAND])
def test_workshop_mutation_outcome_matches_the_hand_analysis(
    report: MutationReport, key: Key
) -> None:
    (result,) = [r for r in report.results if _key(r) == key]
    expected = HAND[key]
    if isinstance(expected, Outcome):
        assert result.outcome is expected
        return
    source, before, after = expected
    assert result.outcome is Outcome.KILLED
    evidence = result.evidence
    assert evidence is not None
    assert evidence.in_matrix
    assert (evidence.source, evidence.target, evidence.port) == (source, "development/backend", 80)
    assert (str(evidence.expected), str(evidence.mutated)) == (before, after)


def test_workshop_score_is_killed_over_killed_and_survived(report: MutationReport) -> None:
    assert (report.killed, report.survived, report.equivalent) == (18, 16, 1)
    assert report.score == pytest.approx(18 / 34)
    assert report.universe.exhaustive


def test_a_survivor_shows_where_a_matrix_would_see_it(report: MutationReport) -> None:
    for result in report.of(Outcome.SURVIVED):
        assert result.evidence is not None
        assert not result.evidence.in_matrix
        assert result.evidence.expected is not result.evidence.mutated


def _patched(report: MutationReport, count: int | None = None) -> MutationReport:
    data = yaml.safe_load(WORKSHOP.read_text())
    suggestions = report.suggestions if count is None else report.suggestions[:count]
    text = yaml.safe_dump(patch_document(data, suggestions), sort_keys=False)
    scenario = parse_scenario(text, file="patched.yaml", base_dir=WORKSHOP.parent)
    return mutate_scenario(scenario, suggestions=False)


def test_suggestions_kill_every_survivor_they_claim_when_pasted(report: MutationReport) -> None:
    assert report.suggestions
    assert not report.unkillable
    claimed = [i for s in report.suggestions for i in s.kills]
    assert sorted(claimed) == sorted(r.mutation.id for r in report.of(Outcome.SURVIVED))
    for count in range(1, len(report.suggestions) + 1):
        after = _patched(report, count)
        for suggestion in report.suggestions[:count]:
            for mutation_id in suggestion.kills:
                mutation = report.result(mutation_id).mutation
                (now,) = [r for r in after.results if _key(r) == _key(report.result(mutation_id))]
                assert now.outcome is Outcome.KILLED, (count, mutation)
        assert after.killed == report.killed + sum(len(s.kills) for s in report.suggestions[:count])


def test_pasting_every_suggestion_raises_the_score_to_one_and_keeps_the_equivalent(
    report: MutationReport,
) -> None:
    after = _patched(report)
    assert after.score == 1.0
    assert after.equivalent == report.equivalent
    assert {_key(r) for r in after.results} == {_key(r) for r in report.results}


def _suggestion_for(report: MutationReport, key: Key) -> list[Any]:
    (result,) = [r for r in report.results if _key(r) == key]
    (suggestion,) = [s for s in report.suggestions if result.mutation.id in s.kills]
    return list(suggestion.edits)


def _new_target_in_development(edits: list[Any], wanted: Any) -> bool:
    return any(
        isinstance(e, AddTarget) and e.namespace == "development" and wanted(e.labels)
        for e in edits
    )


def _source(edits: list[Any], wanted: Any) -> bool:
    return any(isinstance(e, AddSource) and wanted(e.labels) for e in edits)


def _is(labels: Labels, key: str, value: str) -> bool:
    return labels.get(key) == value


@pytest.mark.parametrize("version", ["deny-all", "allow-pod", "allow-pod-namespace"])
def test_the_suggestion_for_each_survivor_adds_what_the_hand_analysis_needs(
    report: MutationReport, version: str
) -> None:
    # Emptying the policy's podSelector: any other pod of development as a target.
    edits = _suggestion_for(report, (version, K.EMPTY_SELECTOR, SPEC_SEL, ""))
    assert _new_target_in_development(
        edits, lambda lb: not (_is(lb, "app", "webapp") and _is(lb, "role", "backend"))
    )
    # Dropping app=webapp: a role=backend target in development that is not app=webapp.
    edits = _suggestion_for(
        report, (version, K.DROP_MATCH_LABEL, f"{SPEC_SEL}.matchLabels.app", "")
    )
    assert _new_target_in_development(
        edits, lambda lb: _is(lb, "role", "backend") and not _is(lb, "app", "webapp")
    )
    # Dropping role=backend: an app=webapp target in development that is not role=backend.
    edits = _suggestion_for(
        report, (version, K.DROP_MATCH_LABEL, f"{SPEC_SEL}.matchLabels.role", "")
    )
    assert _new_target_in_development(
        edits, lambda lb: _is(lb, "app", "webapp") and not _is(lb, "role", "backend")
    )
    # Adding Egress: a source the policy selects (a backend-labelled pod) that is probed
    # to some other target.
    edits = _suggestion_for(report, (version, FLIP, TYPES, "[Ingress, Egress]"))
    assert _source(edits, lambda lb: _is(lb, "app", "webapp") and _is(lb, "role", "backend"))


@pytest.mark.parametrize("version", ["allow-pod", "allow-pod-namespace"])
def test_peer_label_survivors_need_a_source_with_one_frontend_label(
    report: MutationReport, version: str
) -> None:
    # Dropping app=webapp admits role=frontend pods without app=webapp; and vice versa.
    edits = _suggestion_for(
        report, (version, K.DROP_MATCH_LABEL, f"{PEER}.podSelector.matchLabels.app", "")
    )
    assert _source(edits, lambda lb: _is(lb, "role", "frontend") and not _is(lb, "app", "webapp"))
    edits = _suggestion_for(
        report, (version, K.DROP_MATCH_LABEL, f"{PEER}.podSelector.matchLabels.role", "")
    )
    assert _source(edits, lambda lb: _is(lb, "app", "webapp") and not _is(lb, "role", "frontend"))


def test_suggestion_snippets_are_the_yaml_the_patch_adds(report: MutationReport) -> None:
    for suggestion in report.suggestions:
        pasted = yaml.safe_load(suggestion.yaml)
        patched = patch_document({"targets": [], "matrix": {"sources": {}}}, [suggestion])
        for target in pasted.get("targets", []):
            assert target in patched["targets"]
        for name, labels in pasted.get("matrix", {}).get("sources", {}).items():
            assert patched["matrix"]["sources"][name] == labels


def test_the_same_scenario_gives_the_same_report(report: MutationReport) -> None:
    again = mutate_scenario(load_scenario(WORKSHOP))
    assert again == report
    assert render_json(again) == render_json(report)


def test_the_report_does_not_depend_on_the_hash_seed(report: MutationReport) -> None:
    code = (
        "import sys; from service.scenario.load import load_scenario;"
        "from service.mutate import mutate_scenario; from service.mutate.render import render_json;"
        f"sys.stdout.write(render_json(mutate_scenario(load_scenario({str(WORKSHOP)!r}))))"
    )
    outputs = set()
    for seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        done = subprocess.run(
            [sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True
        )
        assert done.returncode == 0, done.stderr
        outputs.add(done.stdout)
    assert outputs == {render_json(report)}
