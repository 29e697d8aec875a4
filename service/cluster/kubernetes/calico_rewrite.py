"""A version's Calico objects as a run applies them: rewritten so they touch the run alone.

A scenario's Calico objects ride in its versions as
:class:`~service.policy.calico.model.CalicoEntry` values carrying the manifest
as written. Building a networking.k8s.io NetworkPolicy from one would apply an
empty policy (deny-all ingress) instead, so they go to the API they belong to
(projectcalico.org/v3, policy.networking.k8s.io), rewritten from the manifest:

- **Namespaced objects** (NetworkPolicy, StagedNetworkPolicy,
  StagedKubernetesNetworkPolicy, NetworkSet) move into the run's namespaces.
- **Cluster-scoped objects** (Tier, GlobalNetworkPolicy, StagedGlobalNetworkPolicy,
  GlobalNetworkSet, AdminNetworkPolicy, ClusterNetworkPolicy) get run-scoped
  names (the namespace scheme: ``npd-<run>-<name>``), and every policy among
  them is narrowed to the run's namespaces: a (Staged)GlobalNetworkPolicy's
  ``namespaceSelector`` is ANDed with ``projectcalico.org/name in {<run's
  namespaces>}``, an admin policy's subject gets ``kubernetes.io/metadata.name
  In [...]``. So a run's global policy never applies to another workload.
- **Tiers** are renamed like global objects; a policy in a renamed tier gets
  the tier's new name and the ``<tier>.<name>`` form Calico before v3.30
  requires (and later versions accept). Tiers every Calico cluster has
  (default, kube-admin, kube-baseline) are not created: they exist, and a
  version may only restate them as they are.
- **Selectors** name the run's namespaces and read network-set labels where
  the run moved them (:mod:`.calico_selectors`).
- Every object carries the run's ownership labels, the version and expiry
  annotations (the janitor deletes expired cluster-scoped objects too) and the
  name it had in the scenario.

What cannot be made safe is refused, with the object and the reason, before
anything of the version is created: GlobalNetworkPolicies with doNotTrack,
preDNAT or applyOnForward (host endpoints and forwarded traffic, which a run's
namespaces cannot contain); the BaselineAdminNetworkPolicy (a singleton the
cluster's own would have to make way for); selectors reading netpol-drift's
ownership labels, or naming namespaces in a way no rewrite keeps exact; a
built-in tier restated with other settings; an object without its manifest.
"""

from __future__ import annotations

import copy
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from service.cluster.kubernetes.api import Kind
from service.cluster.kubernetes.calico_selectors import (
    CALICO_NAME_LABEL,
    SelectorRewrite,
    UnsafeRewriteError,
    moved_key,
    selector_keys,
)
from service.cluster.kubernetes.naming import (
    EXPIRES_ANNOTATION,
    RESERVED_PREFIX,
    VERSION_ANNOTATION,
    RunNaming,
)
from service.errors import FieldPath, InvalidInput, Problem
from service.policy.calico.model import BUILTIN_TIERS, CalicoEntry, NetworkSet, Tier
from service.policy.model import NAMESPACE_NAME_LABEL, NetworkPolicy

__all__ = [
    "CALICO_KINDS",
    "ORIGINAL_NAME_ANNOTATION",
    "CalicoManifest",
    "RunScope",
    "calico_manifests",
    "calico_problems",
    "run_annotations",
    "scenario_namespaces",
]

ORIGINAL_NAME_ANNOTATION: Final = RESERVED_PREFIX + "original-name"
_CALICO = "projectcalico.org"
_ADMIN = "policy.networking.k8s.io"


def _calico(resource: str, *, namespaced: bool = True) -> Kind:
    return Kind(resource, group=_CALICO, version="v3", namespaced=namespaced)


# By kind as written; the order is the order of creation (a policy needs its tier).
CALICO_KINDS: Final[Mapping[str, Kind]] = {
    "Tier": _calico("tiers", namespaced=False),
    "NetworkSet": _calico("networksets"),
    "GlobalNetworkSet": _calico("globalnetworksets", namespaced=False),
    "NetworkPolicy": _calico("networkpolicies"),
    "StagedNetworkPolicy": _calico("stagednetworkpolicies"),
    "StagedKubernetesNetworkPolicy": _calico("stagedkubernetesnetworkpolicies"),
    "GlobalNetworkPolicy": _calico("globalnetworkpolicies", namespaced=False),
    "StagedGlobalNetworkPolicy": _calico("stagedglobalnetworkpolicies", namespaced=False),
    "AdminNetworkPolicy": Kind(
        "adminnetworkpolicies", group=_ADMIN, version="v1alpha1", namespaced=False
    ),
    "ClusterNetworkPolicy": Kind(
        "clusternetworkpolicies", group=_ADMIN, version="v1alpha2", namespaced=False
    ),
}
_TIERED = frozenset(
    {"NetworkPolicy", "StagedNetworkPolicy", "GlobalNetworkPolicy", "StagedGlobalNetworkPolicy"}
)
_GLOBAL_POLICIES = frozenset({"GlobalNetworkPolicy", "StagedGlobalNetworkPolicy"})
_ADMIN_POLICIES = frozenset({"AdminNetworkPolicy", "ClusterNetworkPolicy"})
_SETS = frozenset({"NetworkSet", "GlobalNetworkSet"})
_HOST_FLAGS = {
    "doNotTrack": "applies before connection tracking, to host endpoints only",
    "preDNAT": "applies to host endpoints before DNAT",
    "applyOnForward": "applies to traffic forwarded through host endpoints",
}


@dataclass(frozen=True, slots=True)
class RunScope:
    """What a run's objects are rewritten for. ``namespaces``: the scenario's names of the
    run's namespaces; ``labels``/``annotations``: what every object carries."""

    naming: RunNaming
    namespaces: frozenset[str]
    labels: Mapping[str, str]
    annotations: Mapping[str, str]


@dataclass(frozen=True, slots=True)
class CalicoManifest:
    """One object as the run applies it; ``original`` names it as the scenario does."""

    kind: Kind
    body: dict[str, Any]
    original: str

    @property
    def name(self) -> str:
        return str(self.body["metadata"]["name"])

    @property
    def namespace(self) -> str | None:
        found = self.body["metadata"].get("namespace")
        return str(found) if found else None

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.kind.qualified, self.namespace or "", self.name)

    @property
    def rank(self) -> int:
        """Creation order: tiers, then network sets, then policies (deletion reverses it)."""
        if self.kind.resource == "tiers":
            return 0
        return 1 if self.kind.resource in ("networksets", "globalnetworksets") else 2

    def __str__(self) -> str:
        where = f"{self.namespace}/" if self.namespace else ""
        return f"{self.kind.qualified} {where}{self.name}"


def _kind_of(entry: CalicoEntry) -> str:
    manifest = entry.manifest or {}
    return str(manifest.get("kind", ""))


def _base(entry: CalicoEntry, version: str) -> FieldPath:
    return FieldPath(("versions", version, "policies", entry.ref))


def calico_problems(policies: Sequence[NetworkPolicy], *, version: str) -> list[Problem]:
    """Why some Calico objects of a version cannot go onto a shared cluster, whatever the run.

    (Namespace names that no rewrite keeps exact depend on the run's names: they are
    found by :func:`calico_manifests`.)
    """
    problems: list[Problem] = []
    for entry in policies:
        if not isinstance(entry, CalicoEntry):
            continue
        base = _base(entry, version)
        manifest = entry.manifest
        kind = _kind_of(entry)
        if manifest is None:
            problems.append(Problem("has no manifest to apply to a cluster", base))
            continue
        if kind == "BaselineAdminNetworkPolicy":
            problems.append(
                Problem(
                    "a BaselineAdminNetworkPolicy is a cluster singleton named 'default': a run"
                    " cannot create one without replacing the cluster's own, so it cannot be"
                    " probed on a shared cluster",
                    base,
                )
            )
            continue
        if kind not in CALICO_KINDS:
            problems.append(Problem(f"kind {kind!r} cannot be applied by a run", base / "kind"))
            continue
        spec = manifest.get("spec")
        spec = spec if isinstance(spec, Mapping) else {}
        if kind in _GLOBAL_POLICIES:
            for flag, what in _HOST_FLAGS.items():
                if spec.get(flag) is True:
                    problems.append(
                        Problem(
                            f"{flag}: true {what}; a run's pods have none of those, and the"
                            " policy cannot be narrowed to the run's namespaces",
                            base / "spec" / flag,
                        )
                    )
        if isinstance(entry.calico, Tier) and entry.calico.name in BUILTIN_TIERS:
            builtin = BUILTIN_TIERS[entry.calico.name]
            if entry.calico.default_action != builtin.default_action:
                problems.append(
                    Problem(
                        f"tier {builtin.name!r} exists on every Calico cluster with defaultAction"
                        f" {builtin.default_action}; a run cannot change it for the whole cluster",
                        base / "spec" / "defaultAction",
                    )
                )
        for path, text in _selectors(kind, spec, base / "spec"):
            reserved = sorted(k for k in selector_keys(text) if k.startswith(RESERVED_PREFIX))
            if reserved:
                problems.append(
                    Problem(
                        f"selects on {', '.join(reserved)}: keys under {RESERVED_PREFIX} are"
                        " netpol-drift's ownership labels and cannot be used by scenario policies",
                        path,
                    )
                )
    return problems


def calico_manifests(
    policies: Sequence[NetworkPolicy], *, version: str, scope: RunScope
) -> list[CalicoManifest]:
    """The version's Calico objects rewritten for the run, in creation order.

    Raises InvalidInput with every problem (see :func:`calico_problems`) before
    anything is created.
    """
    entries = [p for p in policies if isinstance(p, CalicoEntry)]
    problems = calico_problems(entries, version=version)
    InvalidInput.collect(problems)
    naming = scope.naming
    moved = {
        key: moved_key(naming.run_id, key)
        for entry in entries
        if isinstance(entry.calico, NetworkSet)
        for key in entry.calico.labels
    }
    rewriter = _Rewriter(
        scope=scope,
        selectors=SelectorRewrite(
            namespaces={n: naming.namespace(n) for n in scope.namespaces}, moved=moved
        ),
        problems=problems,
    )
    out = []
    for entry in entries:
        found = rewriter.manifest(entry, _base(entry, version))
        if found is not None:
            out.append(found)
    InvalidInput.collect(problems)
    return sorted(out, key=lambda m: m.rank)


# --- rewriting -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Rewriter:
    scope: RunScope
    selectors: SelectorRewrite
    problems: list[Problem]

    def manifest(self, entry: CalicoEntry, base: FieldPath) -> CalicoManifest | None:
        manifest = entry.manifest or {}
        kind = _kind_of(entry)
        meta = manifest.get("metadata")
        meta = meta if isinstance(meta, Mapping) else {}
        spec_in = manifest.get("spec")
        spec: dict[str, Any] = copy.deepcopy(dict(spec_in)) if isinstance(spec_in, Mapping) else {}
        if isinstance(entry.calico, Tier) and entry.calico.name in BUILTIN_TIERS:
            return None  # every Calico cluster has it, as the engine checked it restates
        path = base / "spec"
        labels = {str(k): str(v) for k, v in (meta.get("labels") or {}).items()}
        namespace: str | None = None
        if CALICO_KINDS[kind].namespaced:
            namespace = self.scope.naming.namespace(entry.namespace)
        name = self._name(kind, entry, spec)
        if kind in _TIERED:
            self._tiered_spec(kind, spec, path)
        elif kind == "StagedKubernetesNetworkPolicy":
            self._kubernetes_peers(spec, ("ingress", "from"), ("egress", "to"))
        elif kind in _ADMIN_POLICIES:
            self._admin_spec(spec)
        elif kind in _SETS:
            labels = {self.selectors.moved.get(k, k): v for k, v in labels.items()}
        labels.update(self.scope.labels)
        annotations = {str(k): str(v) for k, v in (meta.get("annotations") or {}).items()}
        annotations.update(self.scope.annotations)
        annotations[ORIGINAL_NAME_ANNOTATION] = entry.calico.ref
        metadata: dict[str, Any] = {"name": name, "labels": labels, "annotations": annotations}
        if namespace is not None:
            metadata["namespace"] = namespace
        body = {
            "apiVersion": str(manifest.get("apiVersion")),
            "kind": kind,
            "metadata": metadata,
            "spec": spec,
        }
        return CalicoManifest(CALICO_KINDS[kind], body, entry.ref)

    # --- names ---------------------------------------------------------------------------

    def _tier(self, tier: str) -> str:
        return tier if tier in BUILTIN_TIERS else self.scope.naming.namespace(tier)

    def _name(self, kind: str, entry: CalicoEntry, spec: Mapping[str, Any]) -> str:
        name = entry.calico.name
        naming = self.scope.naming
        namespaced = CALICO_KINDS[kind].namespaced
        if kind not in _TIERED:
            return name if namespaced else naming.namespace(name)
        tier = str(spec.get("tier") or "default")
        prefixed = name.startswith(f"{tier}.")
        rest = name[len(tier) + 1 :] if prefixed else name
        if tier in BUILTIN_TIERS and not namespaced:
            rest = naming.namespace(rest)  # a renamed tier already makes the name the run's
        if tier == "default":
            return f"default.{rest}" if prefixed else rest
        # <tier>.<name>: what Calico before v3.30 requires outside tier default (and later
        # versions accept).
        return f"{self._tier(tier)}.{rest}"

    # --- specs ---------------------------------------------------------------------------

    def _rewrite(self, text: object, path: FieldPath, *, move_keys: bool = False) -> str | None:
        if not isinstance(text, str) or not text:
            return None
        try:
            return self.selectors.rewrite(text, move_keys=move_keys)
        except UnsafeRewriteError as err:
            self.problems.append(
                Problem(
                    f"selector {text!r} names namespaces in a way the run cannot keep: {err};"
                    " name namespaces with ==, !=, in or not in",
                    path,
                )
            )
            return text

    def _tiered_spec(self, kind: str, spec: dict[str, Any], path: FieldPath) -> None:
        if spec.get("tier"):
            spec["tier"] = self._tier(str(spec["tier"]))
        for key in ("selector", "serviceAccountSelector", "namespaceSelector"):
            found = self._rewrite(spec.get(key), path / key)
            if found is not None:
                spec[key] = found
        if kind in _GLOBAL_POLICIES:
            # The policy applies to the run's namespaces and nothing else in the cluster.
            names = tuple(self.selectors.namespaces.values())
            spec["namespaceSelector"] = self.selectors.restrict(
                spec.get("namespaceSelector"), key=CALICO_NAME_LABEL, names=names
            )
        for direction in ("ingress", "egress"):
            rules = spec.get(direction)
            if not isinstance(rules, list):
                continue
            for i, rule in enumerate(rules):
                if not isinstance(rule, dict):
                    continue
                for side in ("source", "destination"):
                    entity = rule.get(side)
                    if isinstance(entity, dict):
                        self._entity(entity, path / direction / i / side)

    def _entity(self, entity: dict[str, Any], path: FieldPath) -> None:
        for key, move in (("selector", True), ("notSelector", True), ("namespaceSelector", False)):
            found = self._rewrite(entity.get(key), path / key, move_keys=move)
            if found is not None:
                entity[key] = found
        accounts = entity.get("serviceAccounts")
        if isinstance(accounts, dict):
            found = self._rewrite(accounts.get("selector"), path / "serviceAccounts" / "selector")
            if found is not None:
                accounts["selector"] = found
        services = entity.get("services")
        if isinstance(services, dict) and isinstance(services.get("namespace"), str):
            original = services["namespace"]
            services["namespace"] = self.selectors.namespaces.get(original, original)

    def _kubernetes_peers(self, spec: dict[str, Any], *fields: tuple[str, str]) -> None:
        """namespaceSelectors of Kubernetes-style peers (``from``/``to`` lists of rules)."""
        for direction, peers_key in fields:
            for rule in _dicts(spec.get(direction)):
                for peer in _dicts(rule.get(peers_key)):
                    if isinstance(peer.get("namespaceSelector"), dict):
                        _rename_label_selector(peer["namespaceSelector"], self.selectors)
                    pods = peer.get("pods")
                    if isinstance(pods, dict) and isinstance(pods.get("namespaceSelector"), dict):
                        _rename_label_selector(pods["namespaceSelector"], self.selectors)
                    if isinstance(peer.get("namespaces"), dict):
                        _rename_label_selector(peer["namespaces"], self.selectors)

    def _admin_spec(self, spec: dict[str, Any]) -> None:
        self._kubernetes_peers(spec, ("ingress", "from"), ("egress", "to"))
        subject = spec.get("subject")
        if not isinstance(subject, dict):
            return
        names = sorted(self.selectors.namespaces.values())
        only = {"key": NAMESPACE_NAME_LABEL, "operator": "In", "values": names}
        if isinstance(subject.get("namespaces"), dict):
            target = subject["namespaces"]
        elif isinstance(subject.get("pods"), dict):
            pods = subject["pods"]
            target = pods.setdefault("namespaceSelector", {})
            if not isinstance(target, dict):
                return
        else:
            return
        _rename_label_selector(target, self.selectors)
        # ANDed with what the subject selects: the policy applies to the run's pods alone.
        target.setdefault("matchExpressions", []).append(only)


def _dicts(value: object) -> list[dict[str, Any]]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def _rename_label_selector(selector: dict[str, Any], rewrite: SelectorRewrite) -> None:
    """A metav1.LabelSelector's namespace-name values, renamed in place for the run."""
    names = rewrite.namespaces
    labels = selector.get("matchLabels")
    if isinstance(labels, dict) and isinstance(labels.get(NAMESPACE_NAME_LABEL), str):
        labels[NAMESPACE_NAME_LABEL] = (
            names.get(labels[NAMESPACE_NAME_LABEL]) or (labels[NAMESPACE_NAME_LABEL])
        )
    for expression in _dicts(selector.get("matchExpressions")):
        values = expression.get("values")
        if expression.get("key") == NAMESPACE_NAME_LABEL and isinstance(values, list):
            expression["values"] = [names.get(v, v) if isinstance(v, str) else v for v in values]


def _selectors(kind: str, spec: Mapping[str, Any], path: FieldPath) -> list[tuple[FieldPath, str]]:
    """Every Calico selector string of a spec, with its path."""
    if kind not in _TIERED:
        return []
    found = [
        (path / key, spec[key])
        for key in ("selector", "serviceAccountSelector", "namespaceSelector")
        if isinstance(spec.get(key), str)
    ]
    for direction in ("ingress", "egress"):
        for i, rule in enumerate(_dicts(spec.get(direction))):
            for side in ("source", "destination"):
                entity = rule.get(side)
                if not isinstance(entity, Mapping):
                    continue
                at = path / direction / i / side
                for key in ("selector", "notSelector", "namespaceSelector"):
                    if isinstance(entity.get(key), str):
                        found.append((at / key, entity[key]))
                accounts = entity.get("serviceAccounts")
                if isinstance(accounts, Mapping) and isinstance(accounts.get("selector"), str):
                    found.append((at / "serviceAccounts" / "selector", accounts["selector"]))
    return found


def run_annotations(*, version: str, expires_at: str) -> dict[str, str]:
    """The annotations every Calico object of a run carries."""
    return {VERSION_ANNOTATION: version, EXPIRES_ANNOTATION: expires_at}


def scenario_namespaces(
    names: Collection[str], policies: Sequence[NetworkPolicy]
) -> frozenset[str]:
    """The run's namespaces once ``policies`` are applied: ``names`` and the policies' own."""
    return frozenset(names) | {p.namespace for p in policies if p.namespace}
