"""From the shape-checked ``chaos`` section to a :class:`~service.scenario.chaos.ChaosSpec`.

Checks what needs the rest of the scenario: every name a step uses is declared
(a version, a namespace, a target, a source of the matrix), each step has
exactly one action and changes something, labels a step would set are neither
reserved (``netpol-drift.io/``, netpol-drift's ownership labels) nor immutable
(``kubernetes.io/metadata.name``), an added default-deny does not collide with
a scenario policy of the same name, a calico-node restart is allowed by the
section, and the timings leave room to see convergence. Every problem goes to
the reporter, located at its line.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from service.errors import FieldPath
from service.policy.model import NAMESPACE_NAME_LABEL, Direction, Labels, Protocol
from service.scenario.chaos import (
    ChaosAction,
    ChaosSpec,
    ChaosStep,
    DefaultDeny,
    LabelEdit,
    LabelNamespace,
    LabelPod,
    RecreatePods,
    RestartCalico,
    SwitchVersion,
    WatchSpec,
)
from service.scenario.chaos_schema import (
    ACTIONS,
    ChaosModel,
    ChaosStepModel,
    DefaultDenyModel,
    LabelNamespaceModel,
    LabelPodModel,
    WatchModel,
)
from service.scenario.model import MatrixSpec, NamespaceSpec, PolicyVersion, TargetSpec
from service.scenario.problems import Reporter, undeclared

__all__ = ["RESERVED_LABEL_PREFIX", "resolve_chaos"]

# netpol-drift's ownership labels on a cluster (service.cluster.kubernetes.naming).
RESERVED_LABEL_PREFIX = "netpol-drift.io/"
_ROOT = FieldPath(("chaos",))


def resolve_chaos(
    model: ChaosModel | None,
    *,
    report: Reporter,
    namespaces: Sequence[NamespaceSpec],
    targets: Sequence[TargetSpec],
    matrix: MatrixSpec,
    versions: Sequence[PolicyVersion],
) -> ChaosSpec | None:
    """The chaos section, resolved; None when there is none. Problems go to ``report``."""
    if model is None:
        return None
    return _Resolver(report, namespaces, targets, matrix, versions).run(model)


class _Resolver:
    def __init__(
        self,
        report: Reporter,
        namespaces: Sequence[NamespaceSpec],
        targets: Sequence[TargetSpec],
        matrix: MatrixSpec,
        versions: Sequence[PolicyVersion],
    ) -> None:
        self.report = report
        self.namespaces: Mapping[str, Labels] = {ns.name: ns.labels for ns in namespaces}
        self.targets: Mapping[str, TargetSpec] = {t.name: t for t in targets}
        self.matrix = matrix
        self.versions = versions

    def run(self, model: ChaosModel) -> ChaosSpec:
        version_names = [v.name for v in self.versions]
        baseline = model.baseline or (version_names[0] if version_names else "")
        if model.baseline is not None and model.baseline not in version_names:
            self.report.at(
                _ROOT / "baseline",
                undeclared("version", model.baseline, version_names, "versions"),
            )
        self.timings(model)
        steps = []
        seen: dict[str, FieldPath] = {}
        for i, raw in enumerate(model.steps):
            path = _ROOT / "steps" / i
            self.report.first_seen(seen, raw.name, path / "name", "step name")
            action = self.action(raw, path, baseline=baseline, model=model)
            if action is not None:
                steps.append(ChaosStep(raw.name, action, raw.description, raw.timeout))
        watch = tuple(
            w
            for i, raw in enumerate(model.watch or ())
            if (w := self.watch(raw, _ROOT / "watch" / i)) is not None
        )
        return ChaosSpec(
            baseline=baseline,
            steps=tuple(steps),
            interval_s=model.interval,
            timeout_s=model.timeout,
            hold_s=model.hold,
            watch=watch,
            max_watched=model.max_watch,
            allow_calico_restart=model.allow_calico_restart,
        )

    def timings(self, model: ChaosModel) -> None:
        # Convergence is only seen once observed == expected has held for `hold`, and a
        # probe round comes every `interval`: both must fit in the timeout.
        for i, step in enumerate(model.steps):
            timeout = step.timeout or model.timeout
            where = _ROOT / "steps" / i / "timeout" if step.timeout else _ROOT / "timeout"
            if model.hold + model.interval > timeout:
                self.report.at(
                    where,
                    f"a timeout of {timeout:g} s leaves no room to see convergence: expected"
                    f" more than hold + interval ({model.hold + model.interval:g} s)",
                )
                return

    # --- actions -------------------------------------------------------------------------

    def action(
        self, raw: ChaosStepModel, path: FieldPath, *, baseline: str, model: ChaosModel
    ) -> ChaosAction | None:
        given = [name for name in ACTIONS if getattr(raw, name) is not None]
        if len(given) != 1:
            found = f"got {', '.join(given)}" if given else "got none"
            self.report.at(path, f"expected exactly one action of {', '.join(ACTIONS)}; {found}")
            return None
        if raw.switch_version is not None:
            return self.switch(raw.switch_version, path / "switch_version", baseline)
        if raw.label_namespace is not None:
            return self.label_namespace(raw.label_namespace, path / "label_namespace")
        if raw.label_pod is not None:
            return self.label_pod(raw.label_pod, path / "label_pod")
        if raw.recreate_pods is not None:
            names = self.target_list(raw.recreate_pods.targets, path / "recreate_pods" / "targets")
            return RecreatePods(names) if names is not None else None
        if raw.default_deny is not None:
            return self.default_deny(raw.default_deny, path / "default_deny")
        if not model.allow_calico_restart:
            self.report.at(
                path / "restart_calico",
                "restarting calico-node is opt-in: expected chaos.allow_calico_restart: true"
                " (and --allow-calico-restart on the command line)",
            )
            return None
        return RestartCalico()

    def switch(self, version: str, path: FieldPath, baseline: str) -> SwitchVersion | None:
        names = [v.name for v in self.versions]
        if version not in names:
            self.report.at(path, undeclared("version", version, names, "versions"))
            return None
        if version == baseline:
            self.report.at(
                path,
                f"version {version!r} is the baseline, in force before every step: expected"
                " another version",
            )
            return None
        return SwitchVersion(version)

    def edit(
        self, raw: LabelNamespaceModel | LabelPodModel, path: FieldPath, before: Labels | None
    ) -> LabelEdit | None:
        labels = Labels(raw.set_ or {})
        edit = LabelEdit(labels, frozenset(raw.remove))
        ok = True
        if not labels and not raw.remove:
            self.report.at(path, "expected labels to set or label keys to remove")
            return None
        for key in [*labels, *raw.remove]:
            where = path / ("set" if key in labels else "remove")
            if key.startswith(RESERVED_LABEL_PREFIX):
                ok = False
                self.report.at(
                    where,
                    f"label {key!r} is reserved: keys under {RESERVED_LABEL_PREFIX} are"
                    " netpol-drift's ownership labels",
                )
            if key in labels and key in raw.remove:
                ok = False
                self.report.at(where, f"label {key!r} is both set and removed")
        if ok and before is not None and edit.applied_to(before) == before:
            self.report.at(path, f"the labels are {before or 'empty'} already: nothing changes")
            return None
        return edit if ok else None

    def label_namespace(self, raw: LabelNamespaceModel, path: FieldPath) -> LabelNamespace | None:
        before = self.namespaces.get(raw.namespace)
        if before is None:
            names = list(self.namespaces)
            self.report.at(
                path / "namespace", undeclared("namespace", raw.namespace, names, "namespaces")
            )
        touched = [*(raw.set_ or {}), *raw.remove]
        if NAMESPACE_NAME_LABEL in touched:
            self.report.at(
                path,
                f"{NAMESPACE_NAME_LABEL} is set by the API server to the namespace's name and"
                " cannot change",
            )
            return None
        edit = self.edit(raw, path, before)
        return LabelNamespace(raw.namespace, edit) if edit is not None and before else None

    def label_pod(self, raw: LabelPodModel, path: FieldPath) -> LabelPod | None:
        before: Labels | None = None
        if raw.target is not None:
            if raw.source is not None or raw.namespace is not None:
                self.report.at(path, "give either target, or source with namespace, not both")
                return None
            target = self.targets.get(raw.target)
            if target is None:
                names = list(self.targets)
                self.report.at(path / "target", undeclared("target", raw.target, names, "targets"))
                return None
            before = target.labels
        elif raw.source is not None and raw.namespace is not None:
            sources = {s.name: s.labels for s in self.matrix.sources}
            if raw.source not in sources:
                self.report.at(
                    path / "source",
                    undeclared("source", raw.source, list(sources), "matrix.sources"),
                )
                return None
            if raw.namespace not in self.matrix.namespaces:
                self.report.at(
                    path / "namespace",
                    f"namespace {raw.namespace!r} is not a source namespace of the matrix:"
                    f" expected one of {', '.join(self.matrix.namespaces)}",
                )
                return None
            before = sources[raw.source]
        else:
            self.report.at(path, "expected target, or source with namespace")
            return None
        edit = self.edit(raw, path, before)
        if edit is None:
            return None
        return LabelPod(edit, target=raw.target, source=raw.source, namespace=raw.namespace)

    def target_list(self, names: Sequence[str], path: FieldPath) -> tuple[str, ...] | None:
        ok = True
        seen: dict[str, FieldPath] = {}
        for i, name in enumerate(names):
            ok = self.report.first_seen(seen, name, path / i, "target") and ok
            if name not in self.targets:
                ok = False
                self.report.at(path / i, undeclared("target", name, list(self.targets), "targets"))
        return tuple(names) if ok else None

    def default_deny(self, raw: DefaultDenyModel, path: FieldPath) -> DefaultDeny | None:
        ok = True
        seen: dict[str, FieldPath] = {}
        taken = {(p.namespace, p.name) for v in self.versions for p in v.policies}
        for i, namespace in enumerate(raw.namespaces):
            where = path / "namespaces" / i
            ok = self.report.first_seen(seen, namespace, where, "namespace") and ok
            if namespace not in self.namespaces:
                ok = False
                names = list(self.namespaces)
                self.report.at(where, undeclared("namespace", namespace, names, "namespaces"))
            elif (namespace, raw.name) in taken:
                ok = False
                self.report.at(
                    path / "name",
                    f"a policy {namespace}/{raw.name} is in the scenario's versions already:"
                    " expected another name for the added default-deny",
                )
        directions = frozenset(Direction(d) for d in raw.directions)
        if len(directions) != len(raw.directions):
            ok = False
            self.report.at(path / "directions", "a direction is listed twice")
        return DefaultDeny(tuple(raw.namespaces), directions, raw.name) if ok else None

    # --- watched cells -------------------------------------------------------------------

    def watch(self, raw: WatchModel, path: FieldPath) -> WatchSpec | None:
        matrix = self.matrix
        ok = True
        if raw.from_ is not None and raw.from_ not in matrix.namespaces:
            ok = False
            self.report.at(
                path / "from",
                f"namespace {raw.from_!r} is not a source namespace of the matrix: expected one"
                f" of {', '.join(matrix.namespaces)}",
            )
        labels: Labels | None = None
        if raw.source is not None and raw.labels is not None:
            ok = False
            self.report.at(path / "labels", "give either source or labels, not both")
        elif raw.source is not None:
            found = [s.labels for s in matrix.sources if s.name == raw.source]
            if not found:
                ok = False
                names = [s.name for s in matrix.sources]
                self.report.at(
                    path / "source", undeclared("source", raw.source, names, "matrix.sources")
                )
            else:
                labels = found[0]
        elif raw.labels is not None:
            labels = Labels(raw.labels)
            if not any(s.labels == labels for s in matrix.sources):
                ok = False
                self.report.at(
                    path / "labels", f"no matrix source has the labels {labels or '(none)'}"
                )
        if raw.to is not None and raw.to not in matrix.targets:
            ok = False
            self.report.at(
                path / "to",
                f"target {raw.to!r} is not in the matrix: expected one of"
                f" {', '.join(matrix.targets)}",
            )
        port: int | str | None = None
        protocol: Protocol | None = None
        if raw.port is not None:
            port, protocol = raw.port.port, raw.port.protocol
            served = [
                self.targets[name]
                for name in matrix.targets
                if name in self.targets and raw.to in (None, name)
            ]
            if not any(
                p.protocol is protocol and port in (p.port, p.name) for t in served for p in t.ports
            ):
                ok = False
                self.report.at(path / "port", f"no watched target serves {port}/{protocol}")
        if not ok:
            return None
        return WatchSpec(raw.from_, labels, raw.to, port, protocol)
