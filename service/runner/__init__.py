"""Executing a scenario run: per version apply, probe in batches, retry, judge.

- :mod:`service.runner.shard`: the unit of execution (one version x a group of
  source pods) and its options; the same code runs in-process and on workers.
- :mod:`service.runner.run`: the in-process dispatcher of the embedded default.
- :mod:`service.runner.results`: the frozen result values and their rules.
- :mod:`service.runner.convergence`: polling canary cells after an apply until
  the dataplane matches the engine; the time it took per version.
- :mod:`service.runner.concurrency`: one round of batches, several at once on a
  backend that can probe several source pods concurrently.
- :mod:`service.runner.probing`: one round of probes over a set of cells, batched
  per source pod; shared by shards, convergence polls and chaos observation.
"""

from service.runner.convergence import ConvergenceOptions, await_convergence
from service.runner.results import (
    Attempt,
    CellResult,
    Convergence,
    Counts,
    ExpectationCheck,
    RunResult,
    VersionResult,
)
from service.runner.run import run_matrix, run_scenario
from service.runner.shard import ProgressCallback, RunOptions, Shard, plan_shards, run_shard

__all__ = [
    "Attempt",
    "CellResult",
    "Convergence",
    "ConvergenceOptions",
    "Counts",
    "ExpectationCheck",
    "ProgressCallback",
    "RunOptions",
    "RunResult",
    "Shard",
    "VersionResult",
    "await_convergence",
    "plan_shards",
    "run_matrix",
    "run_scenario",
    "run_shard",
]
