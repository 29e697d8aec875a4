"""A stored run, planned: its cells, its shards, and a shard's expected verdicts.

Every process that touches a run (the one creating it, each worker executing a
shard, the reaper) plans it again from the stored revision and settings, and
gets the same cells, the same shards and the same keys: planning is pure and
deterministic (:mod:`service.scenario.plan`). A shard is named by its key
(``version#index``), so a task needs only (run id, shard key).

Planning a large matrix costs real time, and a worker executes many shards of
the same run, so plans are kept per process in a small :class:`PlanCache`.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from service.errors import FieldPath, InvalidInput, Problem
from service.policy.model import IPAddress
from service.runner.shard import Shard, plan_shards
from service.runs.settings import RunSettings
from service.scenario.cells import Cell
from service.scenario.document import scenario_from_json
from service.scenario.model import Scenario
from service.scenario.plan import Matrix, VersionPlan, plan_matrix, plan_version
from service.scenario.syntax import did_you_mean

__all__ = ["PlanCache", "RunPlan", "plan_run"]


@dataclass(frozen=True, slots=True)
class RunPlan:
    """The cells and shards of one run; ``matrix`` is the whole planned matrix of its versions."""

    scenario: Scenario
    settings: RunSettings
    matrix: Matrix
    cells: tuple[Cell, ...]
    shards: tuple[Shard, ...]
    shard_cells: Mapping[str, tuple[Cell, ...]]

    @property
    def shard_keys(self) -> tuple[str, ...]:
        return tuple(s.key for s in self.shards)

    def shard(self, key: str) -> Shard:
        for shard in self.shards:
            if shard.key == key:
                return shard
        raise InvalidInput(
            Problem(
                f"run has no shard {key!r}; its shards are {', '.join(self.shard_keys) or 'none'}",
                path=FieldPath(("shard",)),
            )
        )

    def cells_of(self, shard_key: str) -> tuple[Cell, ...]:
        self.shard(shard_key)
        return self.shard_cells[shard_key]

    def version_plan(
        self, shard_key: str, *, addresses: Mapping[str, IPAddress] | None
    ) -> VersionPlan:
        """Expected verdicts for one shard's cells only (the engine explains just those)."""
        shard = self.shard(shard_key)
        only = replace(self.matrix, cells=self.shard_cells[shard_key])
        return plan_version(only, shard.version, addresses=addresses)


def plan_run(scenario: Scenario, settings: RunSettings) -> RunPlan:
    """Plan ``scenario`` narrowed by ``settings``; InvalidInput names unknown names in options."""
    problems: list[Problem] = []
    _check_names(
        "versions",
        settings.versions,
        [v.name for v in scenario.versions],
        "policy version",
        problems,
    )
    _check_names(
        "sources", settings.sources, [s.name for s in scenario.matrix.sources], "source", problems
    )
    _check_names("targets", settings.targets, list(scenario.matrix.targets), "target", problems)
    InvalidInput.collect(problems)
    matrix = plan_matrix(scenario, versions=settings.versions or None)
    sources = set(settings.sources)
    targets = set(settings.targets)
    cells = tuple(
        c
        for c in matrix.cells
        if (not sources or c.source in sources) and (not targets or c.target in targets)
    )
    shards: list[Shard] = []
    shard_cells: dict[str, tuple[Cell, ...]] = {}
    for version in matrix.versions:
        mine = tuple(c for c in cells if c.version == version.name)
        if not mine:
            continue
        # plan_shards reads only the cells' source pods: the expected verdicts come later.
        outline = VersionPlan(version=version, cells=mine, expected={}, expectations={})
        for shard in plan_shards(outline, sources_per_shard=settings.sources_per_shard):
            members = set(shard.sources)
            shards.append(shard)
            shard_cells[shard.key] = tuple(c for c in mine if c.source_pod in members)
    return RunPlan(
        scenario=scenario,
        settings=settings,
        matrix=matrix,
        cells=cells,
        shards=tuple(shards),
        shard_cells=shard_cells,
    )


def _check_names(
    field: str, given: Sequence[str], known: Sequence[str], what: str, problems: list[Problem]
) -> None:
    for i, name in enumerate(given):
        if name not in known:
            problems.append(
                Problem(
                    f"unknown {what} {name!r}; expected one of: {', '.join(known)}"
                    f"{did_you_mean(name, known)}",
                    path=FieldPath(("options", field, i)),
                )
            )


class PlanCache:
    """Run plans by (revision, settings), the most recently used few, shared by threads."""

    def __init__(self, size: int = 8) -> None:
        self._size = size
        self._plans: OrderedDict[tuple[int, str, str], RunPlan] = OrderedDict()
        self._lock = threading.Lock()

    def put(self, *, revision_id: int, content_hash: str, plan: RunPlan) -> None:
        """Remember a plan made elsewhere (by the process that created the run)."""
        with self._lock:
            self._remember(self._key(revision_id, content_hash, plan.settings), plan)

    def get(
        self, *, revision_id: int, content_hash: str, document: str, settings: RunSettings
    ) -> RunPlan:
        key = self._key(revision_id, content_hash, settings)
        with self._lock:
            found = self._plans.get(key)
            if found is not None:
                self._plans.move_to_end(key)
                return found
        # Planned outside the lock: two threads may both plan a new run once; both agree.
        plan = plan_run(scenario_from_json(document), settings)
        with self._lock:
            self._remember(key, plan)
        return plan

    @staticmethod
    def _key(revision_id: int, content_hash: str, settings: RunSettings) -> tuple[int, str, str]:
        return (revision_id, content_hash, json.dumps(settings.to_json(), sort_keys=True))

    def _remember(self, key: tuple[int, str, str], plan: RunPlan) -> None:
        self._plans[key] = plan
        self._plans.move_to_end(key)
        while len(self._plans) > self._size:
            self._plans.popitem(last=False)
