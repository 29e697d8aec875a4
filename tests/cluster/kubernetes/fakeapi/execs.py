"""What a command exec'd into a fake pod prints, and how long it takes.

Two commands are understood, the two ways of probing:

- ``agnhost connect host:port --timeout=... --protocol=...`` on its own (the
  upstream e2e way, one exec per cell): empty stdout, agnhost's message on
  stderr, its exit code;
- ``sh -c <script>`` where the script is netpol-drift's probe script: every
  ``p <index> <agnhost> connect ...  &`` line is one background probe, ``wait``
  ends a wave; the output is what the script's ``p`` function prints, one line
  per probe in the order they finish. Waves run one after the other, the
  probes of a wave in parallel, so the exec lasts the sum of each wave's
  slowest probe.

An agnhost path other than ``/agnhost`` does not exist in the fake image: the
shell answers 127, as a real one would.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass

from service.policy.model import Protocol
from tests.cluster.kubernetes.fakeapi.dataplane import Answer, Dataplane

__all__ = ["ExecOutput", "emulate"]

AGNHOST = "/agnhost"
MARKER = "@npd"
_PROBE = re.compile(r"^p (\d+) (.+) &$")
_DURATION = re.compile(r"^(\d+(?:\.\d+)?)(ms|s)$")


@dataclass(frozen=True, slots=True)
class ExecOutput:
    stdout: str
    stderr: str
    exit_code: int
    seconds: float


def _duration(text: str) -> float | None:
    found = _DURATION.match(text)
    if found is None:
        return None
    value = float(found.group(1))
    return value / 1000 if found.group(2) == "ms" else value


def _agnhost(argv: list[str], *, source: str, dataplane: Dataplane, at: float) -> Answer:
    if not argv or argv[0] != AGNHOST:
        return Answer(127, f"sh: {argv[0] if argv else ''}: not found", 0.0)
    if len(argv) < 3 or argv[1] != "connect":
        return Answer(1, "UNKNOWN: unsupported agnhost command", 0.0)
    timeout_s = 0.0
    protocol = Protocol.TCP
    for flag in argv[3:]:
        name, _, value = flag.partition("=")
        if name == "--timeout":
            parsed = _duration(value)
            if parsed is None:
                return Answer(1, f"UNKNOWN: invalid --timeout {value!r}", 0.0)
            timeout_s = parsed
        elif name == "--protocol":
            try:
                protocol = Protocol(value.upper())
            except ValueError:
                return Answer(1, f"Unsupported protocol {value}", 0.0)
    return dataplane.connect(
        source=source, dest=argv[2], protocol=protocol, timeout_s=timeout_s, at=at
    )


def emulate(command: list[str], *, source: str, dataplane: Dataplane, at: float) -> ExecOutput:
    """Run ``command`` in pod ``source`` (``namespace/name``) at time ``at``."""
    if command[:1] == [AGNHOST] or (command and command[0].endswith("agnhost")):
        answer = _agnhost(command, source=source, dataplane=dataplane, at=at)
        stderr = f"{answer.message}\n" if answer.message else ""
        return ExecOutput("", stderr, answer.exit_code, answer.seconds)
    if len(command) == 3 and command[0] in ("sh", "/bin/sh") and command[1] == "-c":
        return _script(command[2], source=source, dataplane=dataplane, at=at)
    return ExecOutput("", f"exec: {command[0] if command else ''!r}: not found\n", 127, 0.0)


def _script(script: str, *, source: str, dataplane: Dataplane, at: float) -> ExecOutput:
    if f"{MARKER} " not in script:
        return ExecOutput("", "sh: not a netpol-drift probe script\n", 2, 0.0)
    waves: list[list[tuple[int, list[str]]]] = [[]]
    for line in script.splitlines():
        line = line.strip()
        if line == "wait":
            if waves[-1]:
                waves.append([])
            continue
        found = _PROBE.match(line)
        if found is not None:
            waves[-1].append((int(found.group(1)), shlex.split(found.group(2))))
    out = []
    total = 0.0
    for wave in waves:
        # A later wave starts when the one before it has finished.
        answers = [
            (index, _agnhost(argv, source=source, dataplane=dataplane, at=at + total))
            for index, argv in wave
        ]
        for index, answer in sorted(answers, key=lambda item: item[1].seconds):
            message = " ".join(answer.message.split())
            millis = round(answer.seconds * 1000)
            out.append(f"{MARKER} {index} {answer.exit_code} {millis} {message}\n")
        total += max((a.seconds for _, a in answers), default=0.0)
    return ExecOutput("".join(out), "", 0, total)
