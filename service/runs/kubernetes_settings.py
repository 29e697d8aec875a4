"""The Kubernetes part of a run's settings: which cluster, by name, and how to probe there.

Stored with the run (``runs.options["kubernetes"]``), so it holds names and
numbers only, never credentials: ``cluster`` names a target that each worker
resolves from its own configuration (the clusters file of
``NETPOL_DRIFT_CLUSTERS_FILE``, or the kubeconfig of ``NETPOL_DRIFT_KUBECONFIG``),
so the same stored run probes the same cluster from any worker, and the
database never sees a kubeconfig or a token.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import Any, Final

from service.cluster.kubernetes.options import (
    DEFAULT_AGNHOST,
    Images,
    KubernetesOptions,
    ProbeMode,
)
from service.errors import FieldPath, InvalidInput, Problem
from service.runner.convergence import ConvergenceOptions

__all__ = ["KubernetesSettings"]

_NAME: Final = re.compile(r"[A-Za-z0-9]([A-Za-z0-9._-]{0,61}[A-Za-z0-9])?")
_PATH: Final = FieldPath(("options", "kubernetes"))


@dataclass(frozen=True, slots=True)
class KubernetesSettings:
    """``cluster``: the target's name. ``settle_s``: how long to poll canaries after a
    version is applied before probing (0: no polling, no convergence time). The rest are
    :class:`~service.cluster.kubernetes.options.KubernetesOptions`' fields of the same names."""

    cluster: str
    probe_mode: str = ProbeMode.POD_IP.value
    probe_timeout_s: float = 1.0
    namespace_prefix: str = "npd"
    agnhost_image: str = DEFAULT_AGNHOST
    ready_timeout_s: float = 180.0
    poll_interval_s: float = 1.0
    exec_concurrency: int = 16
    settle_s: float = 60.0

    def __post_init__(self) -> None:
        problems: list[Problem] = []
        if not (isinstance(self.cluster, str) and _NAME.fullmatch(self.cluster)):
            problems.append(
                Problem(
                    f"expected a cluster name of letters, digits, '.', '_' and '-', got "
                    f"{self.cluster!r}",
                    _PATH / "cluster",
                )
            )
        if self.probe_mode not in {m.value for m in ProbeMode}:
            modes = ", ".join(m.value for m in ProbeMode)
            problems.append(
                Problem(f"expected one of {modes}, got {self.probe_mode!r}", _PATH / "probe_mode")
            )
        else:
            try:
                self.options()
            except InvalidInput as err:
                problems.extend(p.under(_PATH) for p in err.problems)
        try:
            self.convergence()
        except InvalidInput as err:
            problems.extend(p.under(_PATH) for p in err.problems)
        InvalidInput.collect(problems)

    def options(self, base: KubernetesOptions | None = None) -> KubernetesOptions:
        """The backend's options: ``base`` (a process's own knobs) with these settings."""
        return replace(
            base if base is not None else KubernetesOptions(),
            namespace_prefix=self.namespace_prefix,
            probe_mode=ProbeMode(self.probe_mode),
            probe_timeout_s=self.probe_timeout_s,
            ready_timeout_s=self.ready_timeout_s,
            poll_interval_s=self.poll_interval_s,
            exec_concurrency=self.exec_concurrency,
            images=Images(agnhost=self.agnhost_image),
        )

    def convergence(self) -> ConvergenceOptions | None:
        if self.settle_s == 0:
            return None
        return ConvergenceOptions(settle_s=self.settle_s, poll_interval_s=0.5)

    def to_json(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_json(
        cls, data: object, path: FieldPath, problems: list[Problem]
    ) -> KubernetesSettings:
        """Read ``options.kubernetes``; problems are added to ``problems`` (None-safe)."""
        if not isinstance(data, Mapping):
            problems.append(Problem(f"expected an object, got {type(data).__name__}", path))
            return cls("invalid")
        known = {f.name: f for f in fields(cls)}
        for extra in sorted(set(data) - set(known)):
            problems.append(
                Problem(f"unknown option; expected one of {', '.join(known)}", path / extra)
            )
        values: dict[str, Any] = {}
        for name in known:
            if name not in data:
                continue
            value = data[name]
            wanted: type | tuple[type, ...] = str
            if name == "exec_concurrency":
                wanted = int
            elif name.endswith("_s"):
                wanted = (int, float)
            if isinstance(value, bool) or not isinstance(value, wanted):
                problems.append(Problem(f"expected a {_word(wanted)}, got {value!r}", path / name))
                continue
            if name.endswith("_s") and isinstance(value, int | float):
                value = float(value)
            values[name] = value
        if "cluster" not in values:
            if "cluster" not in data:
                problems.append(Problem("required: the name of the cluster", path / "cluster"))
            return cls("invalid")
        try:
            return cls(**values)
        except InvalidInput as err:
            problems.extend(err.problems)
            return cls("invalid")


def _word(wanted: type | tuple[type, ...]) -> str:
    if wanted is str:
        return "string"
    return "whole number" if wanted is int else "number"
