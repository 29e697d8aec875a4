"""Deterministic fault injection for the simulated cluster.

Every random decision is a pure function of the seed and of what is decided
(the fault, the version, the cell key, how many times that cell was probed
under that version), never of a shared random stream. So the same seed gives the
same outcomes whatever order cells are probed in or however they are split into
shards, and adding a cell does not reshuffle the faults of the others.

The faults, all measured on the cluster's (simulated) clock:

- ``probe_loss_rate``: the fraction of probes that should connect but time out
  (lost packets, a slow pod); each retry draws again.
- ``exec_failure_rate``: the fraction of batches whose exec fails outright.
- ``enforcement_delay_s``: after a version is applied, the previously enforced
  policy set stays in force for this long (Calico's programming latency).
- ``windows``: for a version, from ``start_s`` after it was applied and for
  ``duration_s`` (None: as long as it is applied), the dataplane is fail-open
  (everything connects) or over-enforced (everything times out).
- ``refusing_targets``: target pods (``namespace/name``) that answer every
  connection that reaches them with a refusal, as a crashed server would.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from enum import StrEnum

from service.errors import FieldPath, InvalidInput, Problem

__all__ = ["EnforcementWindow", "FaultConfig", "WindowMode"]


class WindowMode(StrEnum):
    FAIL_OPEN = "fail-open"
    OVER_ENFORCED = "over-enforced"


@dataclass(frozen=True, slots=True)
class EnforcementWindow:
    version: str
    mode: WindowMode
    start_s: float = 0.0
    duration_s: float | None = None

    def covers(self, version: str, since_applied_s: float) -> bool:
        if version != self.version or since_applied_s < self.start_s:
            return False
        return self.duration_s is None or since_applied_s < self.start_s + self.duration_s

    def __str__(self) -> str:
        span = "while applied" if self.duration_s is None else f"for {self.duration_s:g} s"
        start = f" from {self.start_s:g} s" if self.start_s else ""
        return f"{self.mode} {self.version}{start} {span}"


@dataclass(frozen=True, slots=True)
class FaultConfig:
    seed: int = 0
    probe_loss_rate: float = 0.0
    exec_failure_rate: float = 0.0
    enforcement_delay_s: float = 0.0
    windows: tuple[EnforcementWindow, ...] = ()
    refusing_targets: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        InvalidInput.collect(self._problems())

    def _problems(self) -> list[Problem]:
        problems = []
        base = FieldPath(("faults",))
        for name in ("probe_loss_rate", "exec_failure_rate"):
            rate = getattr(self, name)
            if not (isinstance(rate, int | float) and 0.0 <= rate <= 1.0):
                problems.append(Problem(f"expected a rate from 0 to 1, got {rate!r}", base / name))
        if not _non_negative(self.enforcement_delay_s):
            problems.append(
                Problem(
                    f"expected seconds >= 0, got {self.enforcement_delay_s!r}",
                    base / "enforcement_delay_s",
                )
            )
        for i, window in enumerate(self.windows):
            if not _non_negative(window.start_s):
                problems.append(
                    Problem(
                        f"expected seconds >= 0, got {window.start_s!r}",
                        base / "windows" / i / "start_s",
                    )
                )
            if window.duration_s is not None and not (
                _non_negative(window.duration_s) and window.duration_s > 0
            ):
                problems.append(
                    Problem(
                        f"expected seconds > 0 or none, got {window.duration_s!r}",
                        base / "windows" / i / "duration_s",
                    )
                )
        for ref in sorted(self.refusing_targets):
            if ref.count("/") != 1:
                problems.append(
                    Problem(
                        f"expected a pod as namespace/name, got {ref!r}",
                        base / "refusing_targets",
                    )
                )
        return problems

    @property
    def any(self) -> bool:
        return bool(
            self.probe_loss_rate
            or self.exec_failure_rate
            or self.enforcement_delay_s
            or self.windows
            or self.refusing_targets
        )

    def draw(self, *parts: object) -> float:
        """A uniform number in [0, 1) determined by the seed and ``parts`` alone."""
        text = "\x1f".join([str(self.seed), *(str(p) for p in parts)])
        digest = hashlib.sha256(text.encode()).digest()
        return int.from_bytes(digest[:8], "big") / 2**64

    def loses_probe(self, *, version: str, key: str, nth: int) -> bool:
        return self.probe_loss_rate > 0 and self.draw("loss", version, key, nth) < (
            self.probe_loss_rate
        )

    def exec_fails(self, *, version: str, source: str, nth: int) -> bool:
        return self.exec_failure_rate > 0 and self.draw("exec", version, source, nth) < (
            self.exec_failure_rate
        )

    def window(self, version: str, since_applied_s: float) -> WindowMode | None:
        for window in self.windows:
            if window.covers(version, since_applied_s):
                return window.mode
        return None

    def __str__(self) -> str:
        parts = [f"seed {self.seed}"]
        if self.probe_loss_rate:
            parts.append(f"probe loss {self.probe_loss_rate:g}")
        if self.exec_failure_rate:
            parts.append(f"exec failures {self.exec_failure_rate:g}")
        if self.enforcement_delay_s:
            parts.append(f"enforcement delay {self.enforcement_delay_s:g} s")
        parts.extend(str(w) for w in self.windows)
        if self.refusing_targets:
            parts.append("refusing " + ", ".join(sorted(self.refusing_targets)))
        return ", ".join(parts)


def _non_negative(value: object) -> bool:
    return isinstance(value, int | float) and math.isfinite(value) and value >= 0
