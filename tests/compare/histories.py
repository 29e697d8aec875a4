"""A seeded generator of run histories with known drift, alarms and flip-flops.

The world: two policy versions (v1, v2) over a matrix of source label sets x
namespaces x targets x ports. Every cell has a base verdict the engine expects
and the cluster shows; then, at run indexes drawn from the seed, disjoint sets
of cells are changed on purpose, and each change is written down in
:class:`Truth` as it is injected (the truth is never computed by diffing the
generated runs):

- policy edit at ``edit_run``: v2's content hash changes and ``edited`` cells
  of v2 flip, expected and observed together: expected drift, no regression;
- alarm at ``alarm_run``: ``alarmed`` cells (of v1 and v2; v2 is past its
  edit, so its hash is equal on both sides) flip observed only: alarm drift,
  regressions from then on;
- flip-flops from ``flip_from``: ``flip_flops`` cells of v1 flip observed every
  run: alarm drift each run, a regression every other run, a flake;
- error blip at ``blip_run``: ``blipped`` cells of v1 observe ``error`` for one
  run, then recover: became-error then recovered (alarms), two switches;
- matrix change at the last run: target ``t-gone`` leaves, ``t-new`` arrives;
- retries: in some runs, ``retried`` cells see a different verdict on a first
  attempt than on the final one (flaky within the run, not across runs);
- fixed: one loopback cell always differs from its expectation (listed apart,
  never a regression), and UDP 53 of ``t1`` is not served (invalid cells).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import product

from service.compare import (
    CellObservation,
    CellPlace,
    DriftGroup,
    DriftMark,
    RunRecord,
    RunSummary,
    VersionHash,
)
from service.policy.model import Labels, Protocol
from service.scenario.cells import cell_key, pair_key
from service.scenario.model import Verdict

T0 = datetime(2026, 1, 1, tzinfo=UTC)
VERSIONS = ("v1", "v2")
NAMESPACES = ("ns-a", "ns-b")
TARGETS = ("t0", "t1", "t2", "t3", "t-gone", "t-new")
PORTS = ((80, Protocol.TCP), (53, Protocol.UDP))
FLIP = {Verdict.ALLOWED: Verdict.BLOCKED, Verdict.BLOCKED: Verdict.ALLOWED}


@dataclass(frozen=True, slots=True)
class Cell:
    version: str
    place: CellPlace

    @property
    def pair_key(self) -> str:
        p = self.place
        return pair_key(
            source_namespace=p.source_namespace,
            source_labels=p.source_labels,
            target_namespace=p.target_namespace,
            target=p.target,
            port=p.port,
            protocol=p.protocol,
        )

    @property
    def key(self) -> str:
        p = self.place
        return cell_key(
            version=self.version,
            source_namespace=p.source_namespace,
            source_labels=p.source_labels,
            target_namespace=p.target_namespace,
            target=p.target,
            port=p.port,
            protocol=p.protocol,
        )


@dataclass
class Truth:
    """What was injected, by run index (0 = oldest)."""

    edit_run: int
    alarm_run: int
    flip_from: int
    blip_run: int
    edited: set[str] = field(default_factory=set)
    alarmed: set[str] = field(default_factory=set)
    flip_flops: set[str] = field(default_factory=set)
    blipped: set[str] = field(default_factory=set)
    loopback: set[str] = field(default_factory=set)
    invalid: set[str] = field(default_factory=set)
    added: set[str] = field(default_factory=set)
    removed: set[str] = field(default_factory=set)
    # run index -> cells whose first attempt disagreed with the final one
    retried: dict[int, set[str]] = field(default_factory=dict)
    # run index -> {cell key: (group, mark)}: the drift since the run before
    drift: dict[int, dict[str, tuple[DriftGroup, DriftMark]]] = field(default_factory=dict)
    # run index -> cells that are regressions in that run
    regressions: dict[int, set[str]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class History:
    runs: tuple[RunRecord, ...]
    truth: Truth


def _cells() -> list[Cell]:
    sources = [Labels({"app": f"s{i}"}) for i in range(3)]
    return [
        Cell(
            version,
            CellPlace(
                source_namespace=ns,
                source_labels=labels,
                target_namespace="ns-a",
                target=target,
                port=port,
                protocol=protocol,
                port_number=port,
                source=labels["app"],
            ),
        )
        for version, ns, labels, target, (port, protocol) in product(
            VERSIONS, NAMESPACES, sources, TARGETS, PORTS
        )
    ]


def _group(before: Verdict, after: Verdict) -> DriftGroup:
    # Written out for the few moves the generator makes, independently of compare.
    moves = {
        (Verdict.BLOCKED, Verdict.ALLOWED): DriftGroup.NEWLY_ALLOWED,
        (Verdict.ALLOWED, Verdict.BLOCKED): DriftGroup.NEWLY_BLOCKED,
        (Verdict.ALLOWED, Verdict.ERROR): DriftGroup.BECAME_ERROR,
        (Verdict.BLOCKED, Verdict.ERROR): DriftGroup.BECAME_ERROR,
        (Verdict.ERROR, Verdict.ALLOWED): DriftGroup.RECOVERED,
        (Verdict.ERROR, Verdict.BLOCKED): DriftGroup.RECOVERED,
    }
    return moves[(before, after)]


def _write_drift(truth: Truth, base: dict[str, Verdict], runs: int) -> None:
    """The drift each injection causes, run by run, as the module docstring describes it."""
    for r in range(1, runs):
        truth.drift[r] = {}
    for key in truth.flip_flops:
        for r in range(truth.flip_from, runs):
            away = (r - truth.flip_from) % 2 == 0
            before, after = (base[key], FLIP[base[key]]) if away else (FLIP[base[key]], base[key])
            truth.drift[r][key] = (_group(before, after), DriftMark.ALARM)
    for key in truth.alarmed:
        change = _group(base[key], FLIP[base[key]])
        truth.drift[truth.alarm_run][key] = (change, DriftMark.ALARM)
    for key in truth.edited:
        change = _group(base[key], FLIP[base[key]])
        truth.drift[truth.edit_run][key] = (change, DriftMark.EXPECTED)
    for key in truth.blipped:
        truth.drift[truth.blip_run][key] = (DriftGroup.BECAME_ERROR, DriftMark.ALARM)
        truth.drift[truth.blip_run + 1][key] = (DriftGroup.RECOVERED, DriftMark.ALARM)


def generate(seed: int, *, runs: int = 12, per_event: int = 3) -> History:
    """A history of ``runs`` runs (at least 10) of scenario "generated", seeded."""
    assert runs >= 10
    rng = random.Random(seed)
    cells = _cells()
    base = {c.key: rng.choice([Verdict.ALLOWED, Verdict.BLOCKED]) for c in cells}
    edit_run = rng.randint(2, 4)
    alarm_run = rng.randint(edit_run + 1, edit_run + 3)
    blip_run = rng.randint(alarm_run + 1, runs - 3)
    truth = Truth(edit_run=edit_run, alarm_run=alarm_run, flip_from=1, blip_run=blip_run)

    truth.invalid = {
        c.key for c in cells if c.place.target == "t1" and c.place.protocol is Protocol.UDP
    }
    moving = [
        c for c in cells if c.place.target not in ("t-gone", "t-new") and c.key not in truth.invalid
    ]
    v1 = [c.key for c in moving if c.version == "v1"]
    v2 = [c.key for c in moving if c.version == "v2"]
    rng.shuffle(v1)
    rng.shuffle(v2)
    n = per_event
    truth.flip_flops = set(v1[:n])
    truth.blipped = set(v1[n : 2 * n])
    truth.loopback = {v1[2 * n]}
    truth.alarmed = set(v1[2 * n + 1 : 3 * n + 1]) | set(v2[:n])
    truth.edited = set(v2[n : 3 * n])
    stable = v1[3 * n + 1 :] + v2[3 * n :]
    truth.added = {c.key for c in cells if c.place.target == "t-new"}
    truth.removed = {c.key for c in cells if c.place.target == "t-gone"}

    _write_drift(truth, base, runs)
    history = []
    for r in range(runs):
        last = r == runs - 1
        hashes = {"v1": "v1-content-0", "v2": f"v2-content-{int(r >= edit_run)}"}
        present = [c for c in cells if c.place.target != ("t-gone" if last else "t-new")]
        retried = set(rng.sample(stable, n)) if r % 3 == 1 else set()
        if retried:
            truth.retried[r] = retried
        regressions = set(truth.alarmed) if r >= alarm_run else set()
        if r >= truth.flip_from and (r - truth.flip_from) % 2 == 0:
            regressions |= truth.flip_flops
        if r == blip_run:
            regressions |= truth.blipped
        truth.regressions[r] = regressions
        observations = []
        for c in present:
            key = c.key
            expected = base[key]
            if key in truth.invalid:
                expected = Verdict.INVALID
            elif key in truth.edited and r >= edit_run:
                expected = FLIP[expected]
            observed = expected
            if key in truth.blipped and r == blip_run:
                observed = Verdict.ERROR
            elif key in regressions or key in truth.loopback:
                observed = FLIP[expected]
            attempts: tuple[Verdict, ...] = (observed,)
            if key in retried:
                attempts = (FLIP.get(observed, Verdict.ERROR), observed)
            observations.append(
                CellObservation(
                    run_id=100 + r,
                    run_at=T0 + timedelta(days=r),
                    cell_key=key,
                    pair_key=c.pair_key,
                    version=c.version,
                    version_hash=hashes[c.version],
                    place=c.place,
                    expected=expected,
                    observed=observed,
                    attempts=attempts,
                    explanation=f"engine: {c.place} is {expected}",
                    regression=key in regressions,
                    flaky=key in retried,
                    loopback=key in truth.loopback,
                )
            )
        summary = RunSummary(
            id=100 + r,
            scenario="generated",
            created_at=T0 + timedelta(days=r),
            revision_hash=f"rev-{int(r >= edit_run)}-{int(last)}",
            versions=tuple(VersionHash(v, h) for v, h in hashes.items()),
        )
        history.append(RunRecord(summary, tuple(observations)))
    return History(runs=tuple(history), truth=truth)
