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

How the dataplane takes the perturbations of a chaos experiment (programming
delays per cell, pods starting and starting un-isolated, calico-node restart
blackouts) is a separate value, :class:`PerturbationFaults`, drawn from the same
seed through :meth:`FaultConfig.draw`; its delays are :class:`Delay`
distributions (constant, uniform or lognormal).
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from enum import StrEnum
from statistics import NormalDist

from service.errors import FieldPath, InvalidInput, Problem

__all__ = [
    "BlackoutMode",
    "Delay",
    "DelayKind",
    "EnforcementWindow",
    "FaultConfig",
    "PerturbationFaults",
    "WindowMode",
]


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


# --- perturbations: how the simulated dataplane reacts to chaos steps ---------------------


class DelayKind(StrEnum):
    CONSTANT = "constant"
    UNIFORM = "uniform"
    LOGNORMAL = "lognormal"


# A lognormal draw is clamped here: a seeded draw a hair from 1 would otherwise give a
# delay of hours, which no experiment wants to wait for.
MAX_DELAY_S = 3600.0


@dataclass(frozen=True, slots=True)
class Delay:
    """A distribution of delays in seconds, sampled by inverse CDF from a seeded draw.

    ``constant``: always ``a``. ``uniform``: between ``a`` and ``b``. ``lognormal``:
    median ``a``, shape ``b`` (the sigma of the underlying normal), so that the
    long tail of Felix apply times under churn can be rehearsed.
    """

    kind: DelayKind = DelayKind.CONSTANT
    a: float = 0.0
    b: float = 0.0

    def __post_init__(self) -> None:
        InvalidInput.collect(self.problems(FieldPath()))

    def problems(self, path: FieldPath) -> list[Problem]:
        if not (_non_negative(self.a) and _non_negative(self.b)):
            return [Problem(f"expected seconds >= 0, got {self.a!r} and {self.b!r}", path)]
        if self.kind is DelayKind.UNIFORM and self.b < self.a:
            return [Problem(f"expected low <= high, got {self.a:g} > {self.b:g}", path)]
        return []

    @property
    def zero(self) -> bool:
        """True when every draw is 0 s."""
        return (self.b if self.kind is DelayKind.UNIFORM else self.a) == 0

    def sample(self, u: float) -> float:
        """The delay at quantile ``u`` (in [0, 1)) of the distribution."""
        match self.kind:
            case DelayKind.CONSTANT:
                return self.a
            case DelayKind.UNIFORM:
                return self.a + (self.b - self.a) * u
            case DelayKind.LOGNORMAL:
                if self.a == 0:
                    return 0.0
                # inv_cdf needs (0, 1); the draw's resolution is 2**-64 anyway.
                z = NormalDist().inv_cdf(min(max(u, 1e-12), 1 - 1e-12))
                return min(self.a * math.exp(self.b * z), MAX_DELAY_S)

    @classmethod
    def parse(cls, text: str, *, path: FieldPath | None = None) -> Delay:
        """``2``, ``constant:2``, ``uniform:0.5,3`` or ``lognormal:1,0.6`` (median, sigma)."""
        where = path if path is not None else FieldPath()
        kind_text, _, args_text = text.strip().partition(":")
        if not args_text:
            kind_text, args_text = DelayKind.CONSTANT.value, kind_text
        expected = (
            "expected seconds, constant:S, uniform:LOW,HIGH or lognormal:MEDIAN,SIGMA, "
            f"got {text!r}"
        )
        try:
            kind = DelayKind(kind_text.strip().lower())
            numbers = [float(part) for part in args_text.split(",")]
        except ValueError as err:
            raise InvalidInput(Problem(expected, where)) from err
        wanted = 1 if kind is DelayKind.CONSTANT else 2
        if len(numbers) != wanted or not all(math.isfinite(n) for n in numbers):
            raise InvalidInput(Problem(expected, where))
        try:
            return cls(kind, *numbers)
        except InvalidInput as err:
            raise InvalidInput([p.under(where) for p in err.problems]) from err

    def __str__(self) -> str:
        match self.kind:
            case DelayKind.CONSTANT:
                return f"{self.a:g} s"
            case DelayKind.UNIFORM:
                return f"uniform {self.a:g}-{self.b:g} s"
            case DelayKind.LOGNORMAL:
                return f"lognormal median {self.a:g} s sigma {self.b:g}"


class BlackoutMode(StrEnum):
    """What the dataplane does while calico-node restarts.

    ``frozen``: the rules in place keep working, but nothing new is programmed
    until the restart is over (Felix resyncs when it is back). ``blocked``: every
    connection times out (routes or the eBPF programs are reloaded). ``open``:
    every connection gets through (the policy rules are flushed).
    """

    FROZEN = "frozen"
    BLOCKED = "blocked"
    OPEN = "open"


@dataclass(frozen=True, slots=True)
class PerturbationFaults:
    """How the simulated dataplane takes each kind of perturbation; all seeded, all on the
    simulated clock.

    ``programming``: per cell, how long after a policy change (a version switch,
    an added default-deny) the cell sees it. ``relabel``: the same after a label
    change (None: as ``programming``). ``pod_start``: how long a deleted pod takes
    to be Ready again. ``isolation``: per new pod, how long after it is Ready its
    policies are programmed; until then no policy isolates it (traffic to and from
    it is let through, as on Calico when a pod starts before its isolation).
    ``blackout``: how long a calico-node restart lasts, and ``blackout_mode`` what
    the dataplane does meanwhile. Changes are programmed in order for each cell:
    a change never takes effect before the one made before it.

    ``failing_changes``: the numbers (1 for the first) of the changes, version
    applies and perturbations alike, that raise a ClusterError after taking
    effect, as when the API server commits a change and the answer is lost.
    """

    programming: Delay = Delay()
    relabel: Delay | None = None
    pod_start: Delay = Delay()
    isolation: Delay = Delay()
    blackout: Delay = Delay()
    blackout_mode: BlackoutMode = BlackoutMode.FROZEN
    failing_changes: frozenset[int] = frozenset()

    @property
    def label_delay(self) -> Delay:
        return self.relabel if self.relabel is not None else self.programming

    @property
    def any(self) -> bool:
        delays = (self.programming, self.label_delay, self.pod_start, self.isolation)
        return not all(d.zero for d in delays) or not self.blackout.zero

    def __str__(self) -> str:
        parts = []
        for name, delay in (
            ("programming", self.programming),
            ("relabel", self.relabel),
            ("pod start", self.pod_start),
            ("isolation", self.isolation),
        ):
            if delay is not None and not delay.zero:
                parts.append(f"{name} {delay}")
        if not self.blackout.zero:
            parts.append(f"restart blackout {self.blackout} ({self.blackout_mode})")
        if self.failing_changes:
            parts.append("failing changes " + ", ".join(map(str, sorted(self.failing_changes))))
        return ", ".join(parts) or "no perturbation delays"
