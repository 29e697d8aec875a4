"""Probing from one source pod: a batch of requests run as one exec of the probe script.

Each request becomes a :class:`~.probe.ScriptProbe` at the address the run
probes it on (:mod:`.addressing`); the batch runs in one exec (:mod:`.execs`),
or one per ``MAX_PROBES_PER_EXEC`` targets when too big for one shell argument,
and the line the script printed for each target becomes its result. Only an
agnhost timeout reads as "blocked": a target that cannot be probed, a failed
exec or a missing line is ``exec-error``, with the reason.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from service.cluster.base import ProbeRequest, ProbeResult
from service.cluster.kubernetes.addressing import Address, Addresser
from service.cluster.kubernetes.execs import PodExec
from service.cluster.kubernetes.options import KubernetesOptions, ProbeMode
from service.cluster.kubernetes.probe import (
    ScriptProbe,
    host_port,
    outcome_of,
    parse_probe_output,
    probe_script,
)
from service.scenario.cells import RawOutcome
from service.scenario.plan import PodSpec

__all__ = ["MAX_PROBES_PER_EXEC", "ProbePod", "Prober"]

# At most ~120 bytes of script per probe: 500 keep a script well under 128 KiB.
MAX_PROBES_PER_EXEC = 500

_Planned = tuple[ScriptProbe, ProbeRequest, Address]


@dataclass(frozen=True, slots=True)
class ProbePod:
    """A pod of the run as probing sees it: where it runs and, if it cannot be probed, why."""

    spec: PodSpec
    namespace: str
    container: str
    failure: str = ""


class Prober:
    """Runs the probes of one source pod in as few execs as fit; safe from many threads."""

    def __init__(self, execs: PodExec, options: KubernetesOptions) -> None:
        self._exec = execs
        self.options = options

    def probe(
        self,
        source: ProbePod,
        requests: Sequence[ProbeRequest],
        *,
        pods: Mapping[str, ProbePod],
        addresser: Addresser,
    ) -> tuple[ProbeResult, ...]:
        """One result per request, in order; ``pods`` are the run's pods by layout ref."""
        results: dict[str, ProbeResult] = {}
        planned: list[_Planned] = []
        for index, request in enumerate(requests):
            target = pods.get(request.target_pod)
            if target is None:
                results[request.key] = _error(
                    request, f"no target pod {request.target_pod} in this run's layout"
                )
            elif target.failure:
                results[request.key] = _error(
                    request, f"target {request.target_pod} cannot be probed: {target.failure}"
                )
            else:
                address = addresser.address(request)
                if address is None:
                    results[request.key] = _error(
                        request, f"target {request.target_pod} has no IP to probe"
                    )
                else:
                    probe = ScriptProbe(index, address.host, address.port, request.protocol)
                    planned.append((probe, request, address))
        # One exec per call; a batch too big for one shell argument (the kernel caps an
        # argument at 128 KiB) takes one exec per MAX_PROBES_PER_EXEC targets.
        for start in range(0, len(planned), MAX_PROBES_PER_EXEC):
            results.update(self._run(source, planned[start : start + MAX_PROBES_PER_EXEC]))
        return tuple(results[r.key] for r in requests)

    def _deadline(self, count: int) -> float:
        opts = self.options
        waves = math.ceil(count / opts.probe_parallelism)
        per_wave = opts.probe_timeout_s
        if opts.probe_mode is ProbeMode.SERVICE_NAME:
            per_wave += opts.dns_allowance_s
        return waves * per_wave + opts.exec_grace_s

    def _run(self, source: ProbePod, planned: Sequence[_Planned]) -> dict[str, ProbeResult]:
        opts = self.options
        script = probe_script(
            [p for p, _, _ in planned],
            timeout_s=opts.probe_timeout_s,
            parallelism=opts.probe_parallelism,
            agnhost=opts.agnhost_path,
        )
        ran = self._exec.run(
            namespace=source.namespace,
            pod=source.spec.name,
            container=source.container,
            command=["sh", "-c", script],
            timeout_s=self._deadline(len(planned)),
        )
        if not ran.ok:
            return {
                request.key: ProbeResult(
                    request.key, RawOutcome.EXEC_ERROR, ran.duration_ms, ran.failure
                )
                for _, request, _ in planned
            }
        lines = parse_probe_output(ran.stdout)
        out = {}
        for probe, request, address in planned:
            where = f"{host_port(address.host, address.port)}/{request.protocol}"
            line = lines.get(probe.index)
            if line is None:
                said = f"; stderr: {ran.stderr.strip()[:200]}" if ran.stderr.strip() else ""
                out[request.key] = ProbeResult(
                    request.key,
                    RawOutcome.EXEC_ERROR,
                    ran.duration_ms,
                    f"the exec output has no line for {where} (exit code {ran.exit_code}){said}",
                )
                continue
            raw, detail = outcome_of(line)
            notes = [f"{where}: {detail}" if detail else ""]
            if address.note:
                notes.append(address.note)
            out[request.key] = ProbeResult(
                request.key, raw, line.latency_ms, "; ".join(n for n in notes if n)
            )
        return out


def _error(request: ProbeRequest, detail: str) -> ProbeResult:
    return ProbeResult(request.key, RawOutcome.EXEC_ERROR, 0.0, detail)
