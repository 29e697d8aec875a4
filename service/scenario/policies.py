"""The policies of a version: files and folders next to the scenario, or inline manifests.

A version holds Kubernetes NetworkPolicies and Calico objects in any mix:
projectcalico.org/v3 (Global)NetworkPolicy, their staged forms, Tier,
(Global)NetworkSet, and the admin policies (AdminNetworkPolicy,
BaselineAdminNetworkPolicy, ClusterNetworkPolicy). Namespaced objects must
name a namespace the scenario declares; cluster-wide ones name none.

Paths are relative to the scenario file and must stay inside its folder after
symlinks are resolved: a scenario may come from a user, and must not be able to
read ``/etc`` or ``../../secrets``. Every file is read with the bounded reader
of :mod:`service.manifests.source` (size limit, alias budget, duplicate keys), and
every problem names its own file and line.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePath, PurePosixPath, PureWindowsPath
from typing import Any

from service.errors import FieldPath, InvalidInput, Problem
from service.manifests.source import Document, locate, read_documents
from service.policy.calico.model import CalicoEntry
from service.policy.calico.parse import is_calico_kind, parse_calico_entry
from service.policy.calico.tiers import check_calico
from service.policy.model import NetworkPolicy, SourceRef
from service.policy.parse import parse_network_policy
from service.policy.syntax import describe
from service.scenario.syntax import did_you_mean

__all__ = ["MAX_POLICY_FILES", "POLICY_SUFFIXES", "PolicyReader", "ResolvedPolicies"]

POLICY_SUFFIXES = (".yaml", ".yml", ".json")
# Per scenario. Far above any real policy set; bounds the work a hostile folder can cause.
MAX_POLICY_FILES = 1000

_K8S_API = "networking.k8s.io/v1"
_CALICO_API = "projectcalico.org/v3"


@dataclass(frozen=True, slots=True)
class ResolvedPolicies:
    policies: tuple[NetworkPolicy, ...]
    # Files read, relative to the scenario's folder, in the order read.
    files: tuple[str, ...]


class PolicyReader:
    """Reads the policies of every version of one scenario; a file is read once."""

    def __init__(self, *, scenario: Document, base_dir: Path, namespaces: Sequence[str]) -> None:
        self.scenario = scenario
        self.base = base_dir.resolve()
        # Policy files are shown beside the scenario file as the user named it.
        self.display_dir = PurePath(scenario.file).parent
        self.namespaces = tuple(namespaces)
        self.documents: dict[Path, list[Document] | None] = {}
        self.problems: list[Problem] = []
        self.over_limit = False
        # Policy ref -> where the current version first defines it.
        self.first_at: dict[str, str] = {}

    def read_version(self, index: int, entries: Sequence[str | dict[str, Any]]) -> ResolvedPolicies:
        """The policies of ``versions[index]``; problems go to :attr:`problems`.

        Calico objects must be consistent within the version: a policy's tier
        needs its Tier object in the same version (or a built-in tier).
        """
        policies: list[NetworkPolicy] = []
        files: list[str] = []
        self.first_at = {}
        for j, entry in enumerate(entries):
            path = FieldPath(("versions", index, "policies", j))
            if isinstance(entry, str):
                for file in self._files(entry, path):
                    rel = file.relative_to(self.base).as_posix()
                    files.append(rel)
                    for document in self._read(file, rel) or ():
                        policies.extend(self._from_document(document.data, FieldPath(), document))
            else:
                policies.extend(self._from_document(entry, path, self.scenario))
        try:
            check_calico(policies)
        except InvalidInput as err:
            self.problems.extend(err.problems)
        return ResolvedPolicies(tuple(policies), tuple(files))

    # --- paths ---------------------------------------------------------------------------

    def _problem(self, path: FieldPath, message: str) -> None:
        self.problems.append(
            Problem(message, path=path, file=self.scenario.file, line=self.scenario.line_of(path))
        )

    def _files(self, entry: str, path: FieldPath) -> list[Path]:
        if PurePosixPath(entry).is_absolute() or PureWindowsPath(entry).is_absolute():
            self._problem(
                path,
                f"{entry!r} is an absolute path: expected a path relative to the scenario file",
            )
            return []
        resolved = _resolved(self.base / entry)
        if resolved is None:
            self._problem(
                path, f"{entry!r} cannot be resolved (a link loop?): expected a file path"
            )
            return []
        if not resolved.is_relative_to(self.base):
            self._problem(
                path,
                f"{entry!r} leads outside the scenario's folder: expected a file or folder"
                f" inside {self.display_dir.as_posix() or '.'}/",
            )
            return []
        if resolved.is_file():
            return [resolved]
        if resolved.is_dir():
            return self._folder(entry, resolved, path)
        shown = (self.display_dir / entry).as_posix()
        self._problem(path, f"{shown} does not exist: expected a policy file or folder")
        return []

    def _folder(self, entry: str, folder: Path, path: FieldPath) -> list[Path]:
        found: list[Path] = []
        # followlinks=False: a symlinked folder could loop; symlinked files are checked below.
        for root, dirs, names in os.walk(folder, followlinks=False):
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))
            for name in sorted(names):
                if name.startswith(".") or not name.lower().endswith(POLICY_SUFFIXES):
                    continue
                file = _resolved(Path(root, name))
                if file is None or not file.is_relative_to(self.base):
                    rel = Path(root, name).relative_to(self.base).as_posix()
                    self._problem(
                        path, f"{rel} is a link leading outside the scenario's folder: refused"
                    )
                    continue
                found.append(file)
        if not found:
            self._problem(path, f"folder {entry!r} holds no {', '.join(POLICY_SUFFIXES)} files")
        return found

    def _read(self, file: Path, rel: str) -> list[Document] | None:
        if file in self.documents:
            return self.documents[file]
        if len(self.documents) >= MAX_POLICY_FILES:
            if not self.over_limit:
                self.over_limit = True
                self.problems.append(
                    Problem(
                        f"more than {MAX_POLICY_FILES} policy files: expected fewer",
                        path=FieldPath(("versions",)),
                        file=self.scenario.file,
                        line=self.scenario.line_of(FieldPath(("versions",))),
                    )
                )
            return None
        try:
            documents: list[Document] | None = read_documents(
                file, display_name=(self.display_dir / rel).as_posix()
            )
        except InvalidInput as err:
            self.problems.extend(err.problems)
            documents = None
        self.documents[file] = documents
        return documents

    # --- manifests -----------------------------------------------------------------------

    def _from_document(
        self, data: object, path: FieldPath, document: Document
    ) -> list[NetworkPolicy]:
        """The policies in ``data`` found at ``path`` of ``document`` (a List holds several)."""
        if not isinstance(data, Mapping):
            self._add(document, path, f"expected a NetworkPolicy manifest, got {describe(data)}")
            return []
        kind = data.get("kind")
        api = data.get("apiVersion")
        items = data.get("items")
        if isinstance(kind, str) and kind.endswith("List") and isinstance(items, list):
            found = []
            for k, item in enumerate(items):
                found.extend(self._from_document(item, path / "items" / k, document))
            return found
        calico = isinstance(api, str) and isinstance(kind, str) and is_calico_kind(api, kind)
        if not calico and (api == _CALICO_API or kind != "NetworkPolicy"):
            self._add(
                document,
                path / "kind",
                f"expected a {_K8S_API} NetworkPolicy or a Calico policy object"
                f" ({_CALICO_API} policies, tiers and network sets, or an admin policy), got"
                f" {kind!r} ({api}): a policy version holds only policies",
            )
            return []
        source = SourceRef(file=document.file, document=document.index, line=document.line_of(path))
        policy: NetworkPolicy
        try:
            if calico:
                policy = parse_calico_entry(data, source=source)
            else:
                policy = parse_network_policy(data, source=source)
        except InvalidInput as err:
            problems = InvalidInput([p.under(path) for p in err.problems])
            self.problems.extend(locate(problems, document).problems)
            return []
        namespaced = not isinstance(policy, CalicoEntry) or bool(policy.namespace)
        if namespaced and not self._namespace_ok(data, path, document, policy):
            return []
        name_path = path / "metadata" / "name"
        first = self.first_at.get(policy.ref)
        if first is None:
            self.first_at[policy.ref] = f"{document.file}:{document.line_of(name_path)}"
        else:
            self._add(
                document,
                name_path,
                f"policy {policy.ref} is already in this version (at {first}): expected each"
                " policy once, as applying the second would replace the first",
            )
            return []
        return [policy]

    def _namespace_ok(
        self, data: Mapping[str, Any], path: FieldPath, document: Document, policy: NetworkPolicy
    ) -> bool:
        metadata = data.get("metadata")
        given = metadata.get("namespace") if isinstance(metadata, Mapping) else None
        declared = ", ".join(self.namespaces)
        if given is None:
            self._add(
                document,
                path / "metadata",
                f"policy {policy.name!r} has no metadata.namespace: expected one of the"
                f" scenario's namespaces ({declared})",
            )
            return False
        if policy.namespace not in self.namespaces:
            self._add(
                document,
                path / "metadata" / "namespace",
                f"namespace {policy.namespace!r} is not declared by the scenario: expected one"
                f" of {declared}{did_you_mean(policy.namespace, self.namespaces)}",
            )
            return False
        return True

    def _add(self, document: Document, path: FieldPath, message: str) -> None:
        self.problems.append(
            Problem(
                message,
                path=path,
                file=document.file,
                document=document.index,
                line=document.line_of(path),
            )
        )


def _resolved(path: Path) -> Path | None:
    """``path`` with every symlink resolved, or None when it cannot be (a loop, a NUL byte)."""
    try:
        return path.resolve()
    except (OSError, RuntimeError, ValueError):
        return None
