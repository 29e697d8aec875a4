"""Running a chaos experiment: lay out, apply the baseline, then each step in order.

For every step, while the watched cells are probed at a fixed interval:

1. **before**: the steady-state hypothesis (the engine's matrix for the current
   state) must hold for the hold time, within the timeout; if it does not, the
   step is not run (``unsteady``) and neither are the steps after it;
2. **action**: the change is made (its start is time zero of the phase) and
   probing goes on until the cells settle on the engine's matrix for the new
   state, or the timeout passes;
3. **rollback**, in a ``finally``, whatever happened: the change is undone and
   probing goes on until the cells are back on the matrix of step 1. A rollback
   that raises leaves the cluster in doubt: the remaining steps are skipped.

The cluster is set up here and torn down on the way out (a context manager),
so a run that crashes still cleans up after itself.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from service.chaos.actions import Done, Subjects, needs, perform, predict, undo
from service.chaos.observe import Pace, observe
from service.chaos.results import ExperimentResult, Phase, PhaseResult, StepResult, StepStatus
from service.chaos.state import EngineState
from service.chaos.watch import select_watched, watched_cell
from service.cluster.base import Cluster
from service.errors import ClusterError, FieldPath, InvalidInput, Problem
from service.scenario.cells import Cell
from service.scenario.chaos import ChaosSpec, ChaosStep, StepKind
from service.scenario.model import PolicyVersion, Scenario
from service.scenario.plan import build_layout, plan_matrix

__all__ = ["ChaosOptions", "Progress", "run_experiment", "selected_steps"]

# Told a line of progress at a time ("step relabel: converged in 2.40 s").
Progress = Callable[[str], None]


@dataclass(frozen=True, slots=True)
class ChaosOptions:
    """Overrides of the scenario's chaos section (None: as the scenario says).

    ``steps``: run only these (in scenario order). ``allow_calico_restart``: the
    operator's opt-in; a restart_calico step needs it and the scenario's.
    """

    interval_s: float | None = None
    timeout_s: float | None = None
    hold_s: float | None = None
    max_watched: int | None = None
    steps: tuple[str, ...] = ()
    allow_calico_restart: bool = False

    def pace(self, spec: ChaosSpec, step: ChaosStep | None = None) -> Pace:
        timeout = self.timeout_s or (step.timeout_s if step else None) or spec.timeout_s
        return Pace(
            interval_s=self.interval_s if self.interval_s is not None else spec.interval_s,
            timeout_s=timeout,
            hold_s=self.hold_s if self.hold_s is not None else spec.hold_s,
        )


def selected_steps(scenario: Scenario, names: Sequence[str]) -> tuple[ChaosStep, ...]:
    """The scenario's steps, or only ``names`` (in scenario order); InvalidInput otherwise."""
    spec = _spec(scenario)
    known = [s.name for s in spec.steps]
    unknown = [n for n in names if n not in known]
    if unknown:
        raise InvalidInput(
            [
                Problem(
                    f"unknown step {n!r}: expected one of {', '.join(known)}",
                    path=FieldPath(("--step",)),
                )
                for n in unknown
            ]
        )
    return tuple(s for s in spec.steps if not names or s.name in names)


def run_experiment(
    scenario: Scenario,
    *,
    cluster: Cluster,
    options: ChaosOptions | None = None,
    progress: Progress | None = None,
) -> ExperimentResult:
    """Run the scenario's chaos steps on ``cluster`` (set up and torn down here)."""
    opts = options if options is not None else ChaosOptions()
    spec = _spec(scenario)
    steps = selected_steps(scenario, opts.steps)
    _check(cluster, spec, steps, opts)
    pace = opts.pace(spec)
    matrix = plan_matrix(scenario, versions=[spec.baseline])
    _, prober = build_layout(scenario)
    subjects = Subjects(scenario, prober)
    tell = progress or (lambda _: None)
    info = cluster.describe()
    clock = cluster.clock
    started_at = datetime.now(UTC)
    epoch = clock.now()
    results: list[StepResult] = []
    with cluster:
        addresses = cluster.set_up(layout=matrix.layout)
        state = EngineState(matrix.layout, addresses, scenario.version(spec.baseline))
        limit = opts.max_watched or spec.max_watched
        cells, left_out = select_watched(
            matrix.cells_of(spec.baseline),
            spec.watch,
            limit=limit,
            changing=_changing(matrix.cells_of(spec.baseline), steps, state, subjects),
        )
        if not cells:
            raise InvalidInput(
                Problem(
                    "no cell to watch: the chaos section's watch selects no ordinary cell",
                    path=FieldPath(("chaos", "watch")),
                    file=scenario.path,
                )
            )
        note = f"{left_out} more matching cells not watched (max {limit})" if left_out else ""
        tell(f"watching {len(cells)} cells, baseline {spec.baseline}")
        runner = _StepRunner(cluster, cells, subjects, epoch, tell)
        start = clock.now()
        cluster.apply_version(version=state.applied)
        # The cluster had no policy before: how long the baseline took is measured too.
        nothing = replace(state, version=PolicyVersion(name=""))
        baseline = runner.phase(Phase.BASELINE, old=nothing, new=state, pace=pace, start=start)
        tell(f"baseline {spec.baseline}: {_settling(baseline)}")
        doubt = "" if baseline.converged else f"the baseline did not settle: {baseline.note}"
        for index, step in enumerate(steps):
            if doubt:
                results.append(_skipped(index, step, doubt))
                continue
            result, state = runner.run(index, step, state, opts.pace(spec, step))
            results.append(result)
            tell(_summary(result))
            if result.status is StepStatus.UNSTEADY:
                doubt = f"the steady state did not hold before step {step.name}"
            elif result.rollback_error:
                doubt = f"the rollback of step {step.name} failed: {result.rollback_error}"
    return ExperimentResult(
        scenario=scenario.name,
        scenario_hash=scenario.content_hash,
        backend=info.backend,
        cluster=info.cluster,
        backend_versions=info.versions,
        baseline=spec.baseline,
        interval_s=pace.interval_s,
        hold_s=pace.hold_s,
        watched=tuple(watched_cell(c) for c in cells),
        steps=tuple(results),
        baseline_phase=baseline,
        started_at=started_at,
        duration_s=clock.now() - epoch,
        note=note,
    )


class _StepRunner:
    def __init__(
        self,
        cluster: Cluster,
        cells: Sequence[Cell],
        subjects: Subjects,
        epoch: float,
        tell: Progress,
    ) -> None:
        self.cluster = cluster
        self.cells = cells
        self.subjects = subjects
        self.epoch = epoch
        self.tell = tell

    def phase(
        self,
        phase: Phase,
        *,
        old: EngineState,
        new: EngineState,
        pace: Pace,
        start: float,
        settled: Callable[[], bool] | None = None,
    ) -> PhaseResult:
        return observe(
            cluster=self.cluster,
            cells=self.cells,
            phase=phase,
            old=old.expected(self.cells),
            new=new.expected(self.cells),
            pace=pace,
            start=start,
            epoch=self.epoch,
            settled=settled,
        )

    def run(
        self, index: int, step: ChaosStep, state: EngineState, pace: Pace
    ) -> tuple[StepResult, EngineState]:
        clock = self.cluster.clock
        before = self.phase(Phase.BEFORE, old=state, new=state, pace=pace, start=clock.now())
        if not before.converged:
            why = f"the steady state did not hold before the step: {before.note}"
            return _result(index, step, StepStatus.UNSTEADY, before=before, error=why), state
        after = state
        change: PhaseResult | None = None
        done: Done | None = None
        error = ""
        try:
            start = clock.now()
            self.tell(f"step {step.name}: {step.action}")
            done = perform(step.action, cluster=self.cluster, state=state, subjects=self.subjects)
            after = done.state
            change = self.phase(
                Phase.ACTION, old=state, new=after, pace=pace, start=start, settled=done.settled
            )
        except ClusterError as err:
            error = str(err)
        finally:
            # Always, even when the action failed half way or something unexpected is on
            # its way up: the cluster must not be left perturbed.
            rollback, restored, rollback_error = self.roll_back(step, state, after, pace)
        result = _result(
            index,
            step,
            StepStatus.FAILED if error else StepStatus.COMPLETED,
            before=before,
            change=change,
            rollback=rollback,
            note=done.note if done is not None else "",
            error=error,
            rollback_error=rollback_error,
        )
        return result, restored

    def roll_back(
        self, step: ChaosStep, before: EngineState, after: EngineState, pace: Pace
    ) -> tuple[PhaseResult | None, EngineState, str]:
        clock = self.cluster.clock
        start = clock.now()
        try:
            undone = undo(
                step.action,
                cluster=self.cluster,
                before=before,
                after=after,
                subjects=self.subjects,
            )
        except ClusterError as err:
            return None, after, str(err)
        rollback = self.phase(
            Phase.ROLLBACK,
            old=after,
            new=undone.state,
            pace=pace,
            start=start,
            settled=undone.settled,
        )
        return rollback, undone.state, ""


def _spec(scenario: Scenario) -> ChaosSpec:
    if scenario.chaos is None:
        raise InvalidInput(
            Problem(
                "the scenario has no chaos section: expected chaos with steps (docs/chaos.md)",
                path=FieldPath(("chaos",)),
                file=scenario.path,
            )
        )
    return scenario.chaos


def _check(
    cluster: Cluster, spec: ChaosSpec, steps: Sequence[ChaosStep], opts: ChaosOptions
) -> None:
    """Refuse up front what the backend cannot do or the operator did not allow."""
    problems = []
    backend = cluster.describe().backend
    for step in steps:
        path = FieldPath(("chaos", "steps", step.name))
        needed = needs(step.action)
        if needed is not None and needed not in cluster.supported_perturbations:
            problems.append(Problem(f"the {backend} backend cannot do {needed}", path=path))
        if step.kind is StepKind.RESTART_CALICO and not (
            spec.allow_calico_restart and opts.allow_calico_restart
        ):
            missing = []
            if not spec.allow_calico_restart:
                missing.append("chaos.allow_calico_restart: true in the scenario")
            if not opts.allow_calico_restart:
                missing.append("--allow-calico-restart on the command line")
            problems.append(
                Problem(
                    "restarting calico-node is opt-in, twice: expected " + " and ".join(missing),
                    path=path,
                )
            )
    InvalidInput.collect(problems)


def _changing(
    cells: Sequence[Cell], steps: Sequence[ChaosStep], state: EngineState, subjects: Subjects
) -> set[str]:
    """Pair keys of the cells whose expected verdict some step changes."""
    probed = [c for c in cells if c.port_number is not None]
    now = state.expected(probed)
    out: set[str] = set()
    for step in steps:
        then = predict(step.action, state, subjects).expected(probed)
        out |= {key for key, verdict in then.items() if verdict != now[key]}
    return out


def _result(
    index: int,
    step: ChaosStep,
    status: StepStatus,
    *,
    before: PhaseResult | None = None,
    change: PhaseResult | None = None,
    rollback: PhaseResult | None = None,
    note: str = "",
    error: str = "",
    rollback_error: str = "",
) -> StepResult:
    return StepResult(
        index=index,
        name=step.name,
        kind=step.kind,
        action=str(step.action),
        status=status,
        description=step.description,
        before=before,
        change=change,
        rollback=rollback,
        note=note,
        error=error,
        rollback_error=rollback_error,
    )


def _skipped(index: int, step: ChaosStep, why: str) -> StepResult:
    return _result(index, step, StepStatus.SKIPPED, error=f"not run: {why}")


def _settling(phase: PhaseResult) -> str:
    if phase.converged and phase.convergence_s is not None:
        return f"converged in {phase.convergence_s:.2f} s"
    return f"did not converge ({phase.note})"


def _summary(result: StepResult) -> str:
    change = result.change
    if result.status is not StepStatus.COMPLETED or change is None:
        return f"step {result.name}: {result.status}: {result.error}"
    text = _settling(change)
    fail_open = change.fail_open
    if fail_open:
        text += f"; fail-open {fail_open.seconds:.2f} s on {len(fail_open.cells)} cells"
    fail_closed = change.fail_closed
    if fail_closed:
        text += f"; fail-closed {fail_closed.seconds:.2f} s on {len(fail_closed.cells)} cells"
    return f"step {result.name}: {text}"
