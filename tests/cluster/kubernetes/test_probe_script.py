"""The probe script, run by a real shell against a stand-in agnhost, and its output parsing."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from service.cluster.kubernetes.probe import (
    ProbeLine,
    ScriptProbe,
    agnhost_command,
    host_port,
    outcome_of,
    parse_probe_output,
    probe_script,
)
from service.policy.model import Protocol
from service.scenario.cells import RawOutcome

# A stand-in for agnhost connect: the target's last octet says what happens, with
# agnhost's own messages (test/images/agnhost/connect).
STUB = """#!/bin/sh
case "$2" in
  *.1:*) exit 0 ;;
  *.2:*) sleep "${SLOW:-0.3}"; echo TIMEOUT >&2; exit 1 ;;
  *.3:*) echo REFUSED >&2; exit 1 ;;
  *.4:*) printf 'OTHER: dial tcp: connect:\\n no route to host *\\n' >&2; exit 1 ;;
  *) echo "DNS: lookup $2: no such host" >&2; exit 1 ;;
esac
"""
SHELLS = [s for s in ("sh", "bash") if shutil.which(s)]


@pytest.fixture
def agnhost(tmp_path: Path) -> str:
    path = tmp_path / "agnhost"
    path.write_text(STUB)
    path.chmod(0o755)
    return str(path)


def _run(shell: str, script: str, env: dict[str, str] | None = None) -> tuple[str, float]:
    start = time.monotonic()
    done = subprocess.run(
        [shell, "-c", script],
        capture_output=True,
        text=True,
        timeout=30,
        env={**os.environ, **(env or {})},
        check=True,
    )
    return done.stdout, time.monotonic() - start


def _probes(*hosts: str) -> list[ScriptProbe]:
    return [ScriptProbe(i, h, 80, Protocol.TCP) for i, h in enumerate(hosts)]


@pytest.mark.parametrize("shell", SHELLS)
def test_each_probe_reports_its_outcome_on_its_own_line(shell: str, agnhost: str) -> None:
    probes = _probes("10.0.0.1", "10.0.0.2", "10.0.0.3", "backend.dev.svc", "10.0.0.4")
    script = probe_script(probes, timeout_s=1.0, parallelism=8, agnhost=agnhost)
    stdout, _ = _run(shell, script, {"SLOW": "0.05"})
    lines = parse_probe_output(stdout)
    outcomes = {i: outcome_of(line)[0] for i, line in lines.items()}
    assert outcomes == {
        0: RawOutcome.CONNECTED,
        1: RawOutcome.TIMEOUT,
        2: RawOutcome.REFUSED,
        3: RawOutcome.DNS_ERROR,
        4: RawOutcome.EXEC_ERROR,
    }
    # agnhost's two-line message is folded onto one line, and `*` is not globbed.
    assert lines[4].message == "OTHER: dial tcp: connect: no route to host *"


@pytest.mark.parametrize("shell", SHELLS)
def test_probes_of_one_exec_run_in_parallel(shell: str, agnhost: str) -> None:
    probes = _probes(*["10.0.0.2"] * 6)
    script = probe_script(probes, timeout_s=1.0, parallelism=8, agnhost=agnhost)
    stdout, seconds = _run(shell, script)
    assert len(parse_probe_output(stdout)) == 6
    # Six 0.3 s probes one after another would take 1.8 s; in parallel ~0.35 s, and the
    # margin is for a machine busy with other tests (the shell and six stubs to start).
    assert seconds < 1.5
    assert all(line.latency_ms >= 250 for line in parse_probe_output(stdout).values())


@pytest.mark.parametrize("shell", SHELLS)
def test_parallelism_caps_the_probes_running_at_once(shell: str, agnhost: str) -> None:
    probes = _probes(*["10.0.0.2"] * 4)
    script = probe_script(probes, timeout_s=1.0, parallelism=2, agnhost=agnhost)
    stdout, seconds = _run(shell, script)
    assert len(parse_probe_output(stdout)) == 4
    assert seconds >= 0.55  # two waves of 0.3 s


def test_clock_falls_back_to_proc_uptime_without_nanosecond_date(
    agnhost: str, tmp_path: Path
) -> None:
    # A busybox date without %N support prints the N literally.
    fake_bin = tmp_path / "bin"
    fake_bin.mkdir()
    (fake_bin / "date").write_text("#!/bin/sh\necho 1700000000N\n")
    (fake_bin / "date").chmod(0o755)
    script = probe_script(_probes("10.0.0.2"), timeout_s=1.0, parallelism=1, agnhost=agnhost)
    stdout, _ = _run("sh", script, {"PATH": f"{fake_bin}:{os.environ['PATH']}"})
    (line,) = parse_probe_output(stdout).values()
    # /proc/uptime has 10 ms resolution: a 0.3 s probe reads 290-400 ms.
    assert 250 <= line.latency_ms <= 1000


def test_missing_agnhost_is_an_exec_error_not_a_verdict(tmp_path: Path) -> None:
    script = probe_script(
        _probes("10.0.0.1"), timeout_s=1.0, parallelism=1, agnhost=str(tmp_path / "nope")
    )
    stdout, _ = _run("sh", script)
    (line,) = parse_probe_output(stdout).values()
    outcome, detail = outcome_of(line)
    assert line.exit_code == 127
    assert outcome is RawOutcome.EXEC_ERROR
    assert "agnhost is missing" in detail


def test_parsing_ignores_noise_and_keeps_well_formed_lines() -> None:
    stdout = (
        "sh: warning: something\n"
        "@npd 3 0 12 \n"
        "@npd x 0 12 \n"
        "@npd 4 1 -5 TIMEOUT\r\n"
        "@npd 5 1 1001 TIMEOUT: i/o timeout\n"
    )
    assert parse_probe_output(stdout) == {
        3: ProbeLine(3, 0, 12.0, ""),
        4: ProbeLine(4, 1, 0.0, "TIMEOUT"),
        5: ProbeLine(5, 1, 1001.0, "TIMEOUT: i/o timeout"),
    }


@pytest.mark.parametrize(
    ("line", "outcome"),
    [
        (ProbeLine(0, 0, 1, ""), RawOutcome.CONNECTED),
        (ProbeLine(0, 1, 1000, "TIMEOUT"), RawOutcome.TIMEOUT),
        (ProbeLine(0, 1, 1000, "TIMEOUT: read udp: i/o timeout"), RawOutcome.TIMEOUT),
        (ProbeLine(0, 1, 1, "REFUSED: read udp: connection refused"), RawOutcome.REFUSED),
        (ProbeLine(0, 1, 5000, "DNS: lookup x: i/o timeout"), RawOutcome.DNS_ERROR),
        (ProbeLine(0, 1, 1, "UNKNOWN: bad argument"), RawOutcome.EXEC_ERROR),
        (ProbeLine(0, 1, 1, ""), RawOutcome.EXEC_ERROR),
        (ProbeLine(0, 137, 1, ""), RawOutcome.EXEC_ERROR),
    ],
)
def test_only_agnhost_timeout_reads_as_blocked(line: ProbeLine, outcome: RawOutcome) -> None:
    assert outcome_of(line)[0] is outcome


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("10.244.0.5", "10.244.0.5:80"),
        ("fd00::5", "[fd00::5]:80"),
        ("backend.ns.svc.cluster.local", "backend.ns.svc.cluster.local:80"),
    ],
)
def test_targets_are_written_as_go_host_port(host: str, expected: str) -> None:
    assert host_port(host, 80) == expected


def test_one_probe_is_the_upstream_agnhost_invocation() -> None:
    probe = ScriptProbe(0, "10.244.0.5", 81, Protocol.UDP)
    assert agnhost_command(probe, timeout_s=1.0) == [
        "/agnhost",
        "connect",
        "10.244.0.5:81",
        "--timeout=1000ms",
        "--protocol=udp",
    ]
