"""How a run is narrowed and executed, as one value stored with the run.

A worker on another machine knows a run only by its id, so everything that
decides what it probes and how lives in the run row: the scenario revision it
points at, and these settings (``runs.options``, plain JSON). The same value is
what the API, the CLI and schedules pass in when they create a run.

Narrowing keeps the whole matrix planned (the same pods, so the same pod
addresses and the same expected verdicts) and only leaves cells out: a run
narrowed to some sources and targets stores those cells of the selected
versions and nothing else.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from service.cluster.faults import EnforcementWindow, FaultConfig, WindowMode
from service.errors import FieldPath, InvalidInput, Problem
from service.runner.shard import RunOptions
from service.runs.kubernetes_settings import KubernetesSettings

__all__ = ["DEFAULT_DEADLINE_S", "RunSettings", "SimulatorSettings"]

# A run still queued or running this long after it was created is closed by the reaper.
DEFAULT_DEADLINE_S: Final = 6 * 3600.0

_OPTIONS = FieldPath(("options",))


@dataclass(frozen=True, slots=True)
class SimulatorSettings:
    """The simulated cluster of a run: its faults (seeded), timings and pace.

    ``pace_s`` makes every probe batch really take that long (on top of the
    simulated clock): for tests that must catch a run mid-way and for demos.
    """

    faults: FaultConfig = field(default_factory=FaultConfig)
    timeout_ms: float = 1000.0
    exec_overhead_ms: float = 20.0
    pace_s: float = 0.0

    def to_json(self) -> dict[str, Any]:
        faults = self.faults
        return {
            "faults": {
                "seed": faults.seed,
                "probe_loss_rate": faults.probe_loss_rate,
                "exec_failure_rate": faults.exec_failure_rate,
                "enforcement_delay_s": faults.enforcement_delay_s,
                "windows": [
                    {
                        "version": w.version,
                        "mode": str(w.mode),
                        "start_s": w.start_s,
                        "duration_s": w.duration_s,
                    }
                    for w in faults.windows
                ],
                "refusing_targets": sorted(faults.refusing_targets),
            },
            "timeout_ms": self.timeout_ms,
            "exec_overhead_ms": self.exec_overhead_ms,
            "pace_s": self.pace_s,
        }

    @classmethod
    def from_json(cls, data: object, path: FieldPath, problems: list[Problem]) -> SimulatorSettings:
        values = _object(data, path, problems)
        faults_data = _object(values.get("faults", {}), path / "faults", problems)
        windows = []
        windows_data = _list(faults_data.get("windows", []), path / "faults" / "windows", problems)
        for i, item in enumerate(windows_data):
            where = path / "faults" / "windows" / i
            window = _object(item, where, problems)
            try:
                mode = WindowMode(str(window.get("mode")))
            except ValueError:
                modes = ", ".join(m.value for m in WindowMode)
                problems.append(Problem(f"expected one of {modes}", path=where / "mode"))
                continue
            windows.append(
                EnforcementWindow(
                    version=_str(window.get("version"), where / "version", problems),
                    mode=mode,
                    start_s=_number(window.get("start_s", 0.0), where / "start_s", problems),
                    duration_s=_optional_number(
                        window.get("duration_s"), where / "duration_s", problems
                    ),
                )
            )
        refusing = _list(
            faults_data.get("refusing_targets", []), path / "faults" / "refusing_targets", problems
        )
        try:
            faults = FaultConfig(
                seed=_int(faults_data.get("seed", 0), path / "faults" / "seed", problems),
                probe_loss_rate=_number(
                    faults_data.get("probe_loss_rate", 0.0),
                    path / "faults" / "probe_loss_rate",
                    problems,
                ),
                exec_failure_rate=_number(
                    faults_data.get("exec_failure_rate", 0.0),
                    path / "faults" / "exec_failure_rate",
                    problems,
                ),
                enforcement_delay_s=_number(
                    faults_data.get("enforcement_delay_s", 0.0),
                    path / "faults" / "enforcement_delay_s",
                    problems,
                ),
                windows=tuple(windows),
                refusing_targets=frozenset(str(r) for r in refusing),
            )
        except InvalidInput as err:
            problems.extend(p.under(path) for p in err.problems)
            faults = FaultConfig()
        settings = cls(
            faults=faults,
            timeout_ms=_number(values.get("timeout_ms", 1000.0), path / "timeout_ms", problems),
            exec_overhead_ms=_number(
                values.get("exec_overhead_ms", 20.0), path / "exec_overhead_ms", problems
            ),
            pace_s=_number(values.get("pace_s", 0.0), path / "pace_s", problems),
        )
        for name in ("timeout_ms", "exec_overhead_ms", "pace_s"):
            value = getattr(settings, name)
            if not (math.isfinite(value) and value >= 0):
                problems.append(Problem(f"expected a number >= 0, got {value!r}", path=path / name))
        return settings


@dataclass(frozen=True, slots=True)
class RunSettings:
    """What a run covers and how it probes.

    ``versions``, ``sources`` and ``targets`` narrow the run (empty: all), by
    the names the scenario gives them; versions always run in scenario order.
    ``attempts``, ``retry_interval_s`` and ``sources_per_shard`` are the
    runner's :class:`~service.runner.shard.RunOptions`. ``deadline_s``: how long
    after creation the reaper gives up on the run. ``simulator``: the simulated
    cluster, for runs on that backend. ``kubernetes``: the cluster (by name) and
    how to probe it, for runs on that backend.
    """

    versions: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    targets: tuple[str, ...] = ()
    attempts: int = 3
    retry_interval_s: float = 1.0
    sources_per_shard: int = 8
    deadline_s: float = DEFAULT_DEADLINE_S
    simulator: SimulatorSettings = field(default_factory=SimulatorSettings)
    kubernetes: KubernetesSettings | None = None

    def __post_init__(self) -> None:
        problems: list[Problem] = []
        try:
            self.run_options()
        except InvalidInput as err:
            problems.extend(p.under(_OPTIONS) for p in err.problems)
        if not (math.isfinite(self.deadline_s) and self.deadline_s > 0):
            problems.append(
                Problem(
                    f"expected seconds > 0, got {self.deadline_s!r}", path=_OPTIONS / "deadline_s"
                )
            )
        InvalidInput.collect(problems)

    def run_options(self) -> RunOptions:
        return RunOptions(
            attempts=self.attempts,
            retry_interval_s=self.retry_interval_s,
            sources_per_shard=self.sources_per_shard,
        )

    def to_json(self) -> dict[str, Any]:
        """The JSON stored in ``runs.options`` (and ``schedules.options``)."""
        # Only Kubernetes runs have the key, so simulated runs store what they always did.
        extra = {} if self.kubernetes is None else {"kubernetes": self.kubernetes.to_json()}
        return {
            "versions": list(self.versions),
            "sources": list(self.sources),
            "targets": list(self.targets),
            "attempts": self.attempts,
            "retry_interval_s": self.retry_interval_s,
            "sources_per_shard": self.sources_per_shard,
            "deadline_s": self.deadline_s,
            "simulator": self.simulator.to_json(),
            **extra,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> RunSettings:
        """Settings from stored (or submitted) JSON; missing fields take their defaults.

        Raises InvalidInput naming ``options.<field>`` for every field that does not fit.
        """
        problems: list[Problem] = []
        values = _object(data if data is not None else {}, _OPTIONS, problems)
        known = {
            "versions",
            "sources",
            "targets",
            "attempts",
            "retry_interval_s",
            "sources_per_shard",
            "deadline_s",
            "simulator",
            "kubernetes",
        }
        for extra in sorted(set(values) - known):
            problems.append(
                Problem(
                    f"unknown run option; expected one of {', '.join(sorted(known))}",
                    path=_OPTIONS / extra,
                )
            )
        names = {
            key: tuple(
                _str(item, _OPTIONS / key / i, problems)
                for i, item in enumerate(_list(values.get(key, []), _OPTIONS / key, problems))
            )
            for key in ("versions", "sources", "targets")
        }
        simulator = SimulatorSettings.from_json(
            values.get("simulator", {}), _OPTIONS / "simulator", problems
        )
        attempts = _int(values.get("attempts", 3), _OPTIONS / "attempts", problems)
        retry = _number(
            values.get("retry_interval_s", 1.0), _OPTIONS / "retry_interval_s", problems
        )
        per_shard = _int(
            values.get("sources_per_shard", 8), _OPTIONS / "sources_per_shard", problems
        )
        deadline = _number(
            values.get("deadline_s", DEFAULT_DEADLINE_S), _OPTIONS / "deadline_s", problems
        )
        kubernetes = None
        if values.get("kubernetes") is not None:
            kubernetes = KubernetesSettings.from_json(
                values["kubernetes"], _OPTIONS / "kubernetes", problems
            )
        InvalidInput.collect(problems)
        return cls(
            versions=names["versions"],
            sources=names["sources"],
            targets=names["targets"],
            attempts=attempts,
            retry_interval_s=retry,
            sources_per_shard=per_shard,
            deadline_s=deadline,
            simulator=simulator,
            kubernetes=kubernetes,
        )


# --- reading JSON values, collecting problems ------------------------------------------------


def _object(data: object, path: FieldPath, problems: list[Problem]) -> Mapping[str, Any]:
    if isinstance(data, Mapping):
        return data
    problems.append(Problem(f"expected an object, got {type(data).__name__}", path=path))
    return {}


def _list(data: object, path: FieldPath, problems: list[Problem] | None = None) -> list[Any]:
    if isinstance(data, list | tuple):
        return list(data)
    if problems is not None:
        problems.append(Problem(f"expected a list, got {type(data).__name__}", path=path))
    return []


def _str(data: object, path: FieldPath, problems: list[Problem]) -> str:
    if isinstance(data, str) and data:
        return data
    problems.append(Problem(f"expected a non-empty string, got {data!r}", path=path))
    return ""


def _int(data: object, path: FieldPath, problems: list[Problem]) -> int:
    if isinstance(data, int) and not isinstance(data, bool):
        return data
    problems.append(Problem(f"expected an integer, got {data!r}", path=path))
    return 1


def _number(data: object, path: FieldPath, problems: list[Problem]) -> float:
    if isinstance(data, int | float) and not isinstance(data, bool):
        return float(data)
    problems.append(Problem(f"expected a number, got {data!r}", path=path))
    return 0.0


def _optional_number(data: object, path: FieldPath, problems: list[Problem]) -> float | None:
    return None if data is None else _number(data, path, problems)
