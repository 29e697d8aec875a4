"""One exec, many probes: the shell script run inside a source pod, and its output.

The script starts one ``agnhost connect`` per target as a background job (in
waves of ``parallelism``, so a pod with a memory limit is not asked to run
hundreds of processes at once), times each, and prints one line per target::

    @npd <index> <exit code> <milliseconds> <agnhost's message, on one line>

agnhost prints nothing on success and, on failure, a message starting with a
fixed word: ``TIMEOUT``, ``REFUSED``, ``DNS``, ``OTHER`` or ``UNKNOWN``. Only a
timeout reads as "blocked"; anything the script cannot account for (agnhost
missing, an OTHER error, a target without a line) is ``exec-error``.

Lines are short single writes, so lines of parallel jobs never interleave. The
clock is ``date +%s%N``; a busybox without nanoseconds falls back to
``/proc/uptime`` (10 ms resolution).
"""

from __future__ import annotations

import ipaddress
import re
import shlex
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from service.policy.model import Protocol
from service.scenario.cells import RawOutcome

__all__ = [
    "MARKER",
    "ProbeLine",
    "ScriptProbe",
    "agnhost_command",
    "host_port",
    "outcome_of",
    "parse_probe_output",
    "probe_script",
]

MARKER = "@npd"
MAX_MESSAGE = 300
_LINE = re.compile(rf"^{MARKER} (\d+) (-?\d+) (-?\d+) ?(.*)$")

# The script's preamble: `n` prints milliseconds, `p` runs and reports one probe.
# `set -f` keeps `echo $o` (which folds agnhost's message onto one line) from globbing.
_PREAMBLE = (
    "set -f\n"
    "n() { t=$(date +%s%N 2>/dev/null); case $t in ''|*[!0-9]*) "
    "read -r u _ </proc/uptime; t=${u%.*}${u#*.}0000000;; esac; echo ${t%??????}; }\n"
    'p() { i=$1; shift; s=$(n); o=$("$@" 2>&1); r=$?; e=$(n); m=$(echo $o); '
    f'printf \'{MARKER} %s %s %s %s\\n\' "$i" "$r" "$((e-s))" "$m"; }}\n'
)


@dataclass(frozen=True, slots=True)
class ScriptProbe:
    """One connection to try: ``index`` ties the output line back to the request."""

    index: int
    host: str
    port: int
    protocol: Protocol


@dataclass(frozen=True, slots=True)
class ProbeLine:
    index: int
    exit_code: int
    latency_ms: float
    message: str


def host_port(host: str, port: int) -> str:
    """``host:port`` as agnhost (Go's net.SplitHostPort) wants it: IPv6 in brackets."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return f"{host}:{port}"
    return f"[{address}]:{port}" if address.version == 6 else f"{address}:{port}"


def agnhost_command(
    probe: ScriptProbe, *, timeout_s: float, agnhost: str = "/agnhost"
) -> list[str]:
    """The agnhost invocation for one probe (also what a per-cell exec runs)."""
    return [
        agnhost,
        "connect",
        host_port(probe.host, probe.port),
        f"--timeout={round(timeout_s * 1000)}ms",
        f"--protocol={probe.protocol.value.lower()}",
    ]


def probe_script(
    probes: Sequence[ScriptProbe],
    *,
    timeout_s: float,
    parallelism: int,
    agnhost: str = "/agnhost",
) -> str:
    """The ``sh -c`` script probing every one of ``probes`` from one pod."""
    if parallelism < 1:
        raise ValueError(f"parallelism must be at least 1, got {parallelism}")
    lines = [_PREAMBLE]
    for n, probe in enumerate(probes):
        command = " ".join(
            shlex.quote(a) for a in agnhost_command(probe, timeout_s=timeout_s, agnhost=agnhost)
        )
        lines.append(f"p {probe.index} {command} &\n")
        if (n + 1) % parallelism == 0:
            lines.append("wait\n")
    lines.append("wait\n")
    return "".join(lines)


def parse_probe_output(stdout: str) -> dict[int, ProbeLine]:
    """Every well-formed probe line of ``stdout`` by index; other lines are ignored."""
    found: dict[int, ProbeLine] = {}
    for raw in stdout.splitlines():
        match = _LINE.match(raw.rstrip("\r"))
        if match is None:
            continue
        index, code, millis, message = match.groups()
        found[int(index)] = ProbeLine(
            index=int(index),
            exit_code=int(code),
            latency_ms=float(max(int(millis), 0)),
            message=message.strip()[:MAX_MESSAGE],
        )
    return found


# agnhost's fixed prefixes, and the exit code of a shell that cannot find a command.
_PREFIXES: tuple[tuple[str, RawOutcome], ...] = (
    ("TIMEOUT", RawOutcome.TIMEOUT),
    ("REFUSED", RawOutcome.REFUSED),
    ("DNS", RawOutcome.DNS_ERROR),
)
COMMAND_NOT_FOUND = 127


def outcome_of(line: ProbeLine) -> tuple[RawOutcome, str]:
    """The raw outcome of one probe line and the detail to keep beside it."""
    if line.exit_code == 0:
        return RawOutcome.CONNECTED, ""
    for prefix, outcome in _PREFIXES:
        if line.message.startswith(prefix):
            return outcome, line.message
    if line.exit_code == COMMAND_NOT_FOUND:
        return (
            RawOutcome.EXEC_ERROR,
            f"agnhost is missing from the probe image ({line.message or 'exit code 127'})",
        )
    detail = line.message or f"agnhost exited with {line.exit_code} and no message"
    return RawOutcome.EXEC_ERROR, f"the probe gave no verdict: {detail}"


def missing_indexes(expected: Iterable[int], found: dict[int, ProbeLine]) -> list[int]:
    return [i for i in expected if i not in found]
