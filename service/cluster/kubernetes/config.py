"""Where a run connects and with which credentials: named cluster targets.

A :class:`ClusterTarget` names a cluster and says how to reach it: a kubeconfig
file and context, or the in-cluster service account. It holds paths and names
only; credentials are read from those files (or the service account's mounted
token) when connecting, kept in memory, and never logged, printed or stored. A
run records the target's name, the API server's address and the cluster's id.

Targets come from the command line (``--kubeconfig``/``--context``/``--in-cluster``),
from the environment (``NETPOL_DRIFT_KUBECONFIG``, ``NETPOL_DRIFT_CONTEXT``), or
by name from a clusters file (``NETPOL_DRIFT_CLUSTERS``)::

    clusters:
      staging: {kubeconfig: ~/.kube/config, context: staging}
      production: {kubeconfig: /etc/netpol-drift/production.kubeconfig}
      here: {in-cluster: true}

so the same scenario runs on staging and production, or before and after a
Calico upgrade, and the runs say where they ran.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import yaml
from kubernetes import client, config
from kubernetes.config.config_exception import ConfigException
from kubernetes.config.incluster_config import (
    SERVICE_CERT_FILENAME,
    SERVICE_TOKEN_FILENAME,
    InClusterConfigLoader,
)

from service.errors import FieldPath, InvalidInput, Problem

__all__ = [
    "ENV_CLUSTERS",
    "ENV_CONTEXT",
    "ENV_KUBECONFIG",
    "ClusterTarget",
    "Connection",
    "connect",
    "load_targets",
    "redact",
    "resolve_target",
]

ENV_KUBECONFIG = "NETPOL_DRIFT_KUBECONFIG"
ENV_CONTEXT = "NETPOL_DRIFT_CONTEXT"
ENV_CLUSTERS = "NETPOL_DRIFT_CLUSTERS"
_NAME = re.compile(r"[A-Za-z0-9]([A-Za-z0-9._-]{0,61}[A-Za-z0-9])?")
_TARGET_FIELDS = ("kubeconfig", "context", "in-cluster")
# What a secret looks like in text that might reach a log: bearer tokens, basic auth,
# and JWT-shaped strings (service account tokens).
_SECRETS = (
    re.compile(r"(?i)(bearer|basic)\s+[A-Za-z0-9._~+/=-]+"),
    re.compile(r"(?i)(authorization|token|password)([\"']?\s*[:=]\s*[\"']?)[^\s,;\"'}]+"),
    re.compile(r"eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+"),
)


def redact(text: str) -> str:
    """``text`` with anything that looks like a credential replaced by ``<redacted>``."""
    out = _SECRETS[0].sub(lambda m: f"{m.group(1)} <redacted>", text)
    out = _SECRETS[1].sub(lambda m: f"{m.group(1)}{m.group(2)}<redacted>", out)
    return _SECRETS[2].sub("<redacted>", out)


@dataclass(frozen=True, slots=True)
class ClusterTarget:
    """A named cluster: a kubeconfig (and context) or the in-cluster service account."""

    name: str
    kubeconfig: Path | None = None
    context: str | None = None
    in_cluster: bool = False

    def __post_init__(self) -> None:
        problems = []
        if not _NAME.fullmatch(self.name):
            problems.append(
                Problem(
                    f"expected a cluster name of letters, digits, '.', '_' and '-', "
                    f"got {self.name!r}",
                    FieldPath(("cluster",)),
                )
            )
        if self.in_cluster and (self.kubeconfig is not None or self.context is not None):
            problems.append(
                Problem(
                    "in-cluster configuration takes no kubeconfig or context",
                    FieldPath(("in-cluster",)),
                )
            )
        InvalidInput.collect(problems)

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> ClusterTarget | None:
        """The target ``NETPOL_DRIFT_KUBECONFIG`` (and ``NETPOL_DRIFT_CONTEXT``) name, if set."""
        env = os.environ if environ is None else environ
        path = env.get(ENV_KUBECONFIG, "").strip()
        if not path:
            return None
        context = env.get(ENV_CONTEXT, "").strip() or None
        return cls(name=context or "default", kubeconfig=Path(path).expanduser(), context=context)

    def __str__(self) -> str:
        if self.in_cluster:
            return f"{self.name} (in-cluster)"
        where = str(self.kubeconfig) if self.kubeconfig else "default kubeconfig"
        context = f", context {self.context}" if self.context else ""
        return f"{self.name} ({where}{context})"


def load_targets(path: Path) -> dict[str, ClusterTarget]:
    """The named targets of a clusters file; relative kubeconfig paths are from its folder."""
    shown = FieldPath((str(path),))
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise InvalidInput(
            Problem(f"cannot read the clusters file: {err.strerror}", shown)
        ) from err
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise InvalidInput(Problem(f"not valid YAML: {err}", shown)) from err
    clusters = data.get("clusters") if isinstance(data, Mapping) else None
    if not isinstance(clusters, Mapping) or not clusters:
        raise InvalidInput(
            Problem("expected a mapping 'clusters' of names to targets", file=str(path))
        )
    targets: dict[str, ClusterTarget] = {}
    problems: list[Problem] = []
    for name, spec in clusters.items():
        where = FieldPath(("clusters", str(name)))
        target = _target(str(name), spec, path.parent, where, problems)
        if target is not None:
            targets[str(name)] = target
    InvalidInput.collect(p.located(file=str(path)) for p in problems)
    return targets


def _target(
    name: str, spec: object, base: Path, where: FieldPath, problems: list[Problem]
) -> ClusterTarget | None:
    if not isinstance(spec, Mapping):
        problems.append(Problem("expected a mapping with kubeconfig/context or in-cluster", where))
        return None
    unknown = sorted(str(k) for k in spec if k not in _TARGET_FIELDS)
    if unknown:
        problems.append(
            Problem(
                f"unknown fields {', '.join(unknown)}; expected {', '.join(_TARGET_FIELDS)}", where
            )
        )
    kubeconfig = spec.get("kubeconfig")
    context = spec.get("context")
    in_cluster = spec.get("in-cluster", False)
    for key, value, kind in (
        ("kubeconfig", kubeconfig, str),
        ("context", context, str),
        ("in-cluster", in_cluster, bool),
    ):
        if value is not None and not isinstance(value, kind):
            problems.append(Problem(f"expected a {kind.__name__}, got {value!r}", where / key))
            return None
    path = None
    if isinstance(kubeconfig, str):
        path = Path(kubeconfig).expanduser()
        if not path.is_absolute():
            path = base / path
    try:
        return ClusterTarget(
            name=name, kubeconfig=path, context=context, in_cluster=bool(in_cluster)
        )
    except InvalidInput as err:
        problems.extend(p.under(where) for p in err.problems)
        return None


def resolve_target(
    *,
    kubeconfig: Path | None = None,
    context: str | None = None,
    in_cluster: bool = False,
    cluster: str | None = None,
    clusters_file: Path | None = None,
) -> ClusterTarget:
    """The target command-line options name: a named cluster, in-cluster, or a kubeconfig."""
    problems: list[Problem] = []
    if cluster is not None:
        if kubeconfig is not None or context is not None or in_cluster:
            problems.append(
                Problem(
                    "a named cluster brings its own kubeconfig and context; give either "
                    "--cluster or --kubeconfig/--context/--in-cluster",
                    FieldPath(("--cluster",)),
                )
            )
        if clusters_file is None:
            problems.append(
                Problem(
                    f"--cluster needs a clusters file (--clusters-file or {ENV_CLUSTERS})",
                    FieldPath(("--cluster",)),
                )
            )
        InvalidInput.collect(problems)
        assert clusters_file is not None
        targets = load_targets(clusters_file)
        if cluster not in targets:
            raise InvalidInput(
                Problem(
                    f"no cluster {cluster!r} in {clusters_file}; it names: "
                    f"{', '.join(sorted(targets))}",
                    FieldPath(("--cluster",)),
                )
            )
        return targets[cluster]
    if in_cluster:
        if kubeconfig is not None or context is not None:
            raise InvalidInput(
                Problem(
                    "--in-cluster takes no --kubeconfig or --context",
                    FieldPath(("--in-cluster",)),
                )
            )
        return ClusterTarget(name="in-cluster", in_cluster=True)
    name = context or _current_context(kubeconfig) or "default"
    safe = re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-._") or "default"
    return ClusterTarget(name=safe[:63], kubeconfig=kubeconfig, context=context)


def _current_context(kubeconfig: Path | None) -> str | None:
    """The kubeconfig's current context, to name the target by; None if unreadable."""
    try:
        _, current = config.list_kube_config_contexts(  # type: ignore[no-untyped-call]
            config_file=str(kubeconfig) if kubeconfig is not None else None
        )
    except (ConfigException, OSError, yaml.YAMLError, ValueError, TypeError):
        return None
    name = current.get("name") if isinstance(current, Mapping) else None
    return name if isinstance(name, str) and name else None


class Connection:
    """A target's client configuration, in memory only; hands out API clients."""

    def __init__(self, configuration: Any, *, target: ClusterTarget) -> None:
        self._configuration = configuration
        self.target = target

    @property
    def server(self) -> str:
        """The API server's URL without any user information."""
        parts = urlsplit(str(self._configuration.host))
        host = parts.hostname or ""
        if ":" in host:
            host = f"[{host}]"
        netloc = f"{host}:{parts.port}" if parts.port else host
        return urlunsplit((parts.scheme, netloc, parts.path, "", ""))

    def new_client(self) -> Any:
        """A fresh ApiClient; exec streams need one per thread (the client is patched per call)."""
        return client.ApiClient(configuration=self._configuration)

    def __repr__(self) -> str:
        return f"Connection({self.target.name!r}, {self.server!r})"


def connect(
    target: ClusterTarget,
    *,
    environ: Mapping[str, str] | None = None,
    token_file: str = SERVICE_TOKEN_FILENAME,
    ca_file: str = SERVICE_CERT_FILENAME,
) -> Connection:
    """Read ``target``'s configuration; problems are InvalidInput naming the field."""
    configuration = client.Configuration()
    if target.in_cluster:
        try:
            loader = InClusterConfigLoader(  # type: ignore[no-untyped-call]
                token_filename=token_file,
                cert_filename=ca_file,
                environ=os.environ if environ is None else environ,
            )
            loader.load_and_set(configuration)  # type: ignore[no-untyped-call]
        except ConfigException as err:
            raise InvalidInput(
                Problem(
                    f"cannot use the in-cluster service account: {redact(str(err))} "
                    f"(is this process running in a pod?)",
                    FieldPath(("in-cluster",)),
                )
            ) from err
        return Connection(configuration, target=target)
    path = target.kubeconfig
    if path is not None and not path.is_file():
        raise InvalidInput(Problem(f"no kubeconfig file at {path}", FieldPath(("kubeconfig",))))
    try:
        config.load_kube_config(  # type: ignore[no-untyped-call]
            config_file=str(path) if path is not None else None,
            context=target.context,
            client_configuration=configuration,
            persist_config=False,
        )
    except (ConfigException, OSError, yaml.YAMLError, ValueError, TypeError) as err:
        field = "context" if target.context and "context" in str(err).lower() else "kubeconfig"
        raise InvalidInput(
            Problem(
                f"cannot use {target}: {redact(str(err))}",
                FieldPath((field,)),
            )
        ) from err
    return Connection(configuration, target=target)
