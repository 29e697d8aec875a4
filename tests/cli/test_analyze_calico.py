"""``netpol-drift analyze`` on mixed Kubernetes and Calico manifests (tests/cli/data/calico).

dev/backend is admitted by a Kubernetes NetworkPolicy from frontends of every
namespace on its port ``http`` (80); a security tier denies prod -> dev's
backend first and passes the rest on; a staged policy would cut dev/frontend's
egress but is never enforced.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from service.cli import main

DATA = str(Path(__file__).parent / "data" / "calico")
DEV_FRONTEND, PROD_FRONTEND = "dev/frontend[Deployment]", "prod/frontend[Deployment]"
BACKEND, OUTSIDE = "dev/backend[Deployment]", "0.0.0.0-255.255.255.255[External]"


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["analyze", DATA, *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_the_security_tier_denies_what_the_namespace_policy_allows(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _ = run(capsys, "--format", "connlist")
    assert code == 0
    assert f"{DEV_FRONTEND} => {BACKEND} : TCP 80" in out.splitlines()
    assert not any(line.startswith(f"{PROD_FRONTEND} => {BACKEND}") for line in out.splitlines())


def test_staged_policies_are_not_enforced_and_their_diff_goes_to_stderr_beside_connlist(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, err = run(capsys, "--format", "connlist")
    assert code == 0
    assert f"{DEV_FRONTEND} => {OUTSIDE} : All Connections" in out.splitlines()
    assert err.splitlines() == [
        "Staged policies (never enforced) would change 3 connection(s):",
        f"  diff-type: removed, source: {DEV_FRONTEND}, destination: {OUTSIDE},"
        " enforced: All Connections, staged: No Connections",
        f"  diff-type: removed, source: {DEV_FRONTEND}, destination: {BACKEND},"
        " enforced: TCP 80, staged: No Connections",
        f"  diff-type: removed, source: {DEV_FRONTEND}, destination: {PROD_FRONTEND},"
        " enforced: All Connections, staged: No Connections",
    ]


def test_the_table_shows_the_staged_diff_after_the_matrix(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, err = run(capsys, "--width", "100")
    assert (code, err) == (0, "")
    head, _, staged = out.partition("Staged policies (never enforced) would change")
    assert "Connections between workloads" in head
    assert staged.startswith(" 3 connection(s):")


def test_explain_names_the_tier_policy_rule_and_action(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--explain", "prod/frontend", "dev/backend", "http")
    assert code == 0
    assert out.splitlines()[0] == "prod/frontend -> dev/backend TCP 80: blocked"
    assert (
        "    tier security: GlobalNetworkPolicy security.no-prod-to-dev ingress[0] -> Deny:"
        ' from namespaceSelector purpose == "production"'
    ) in out.splitlines()
    code, out, _ = run(capsys, "--explain", "dev/frontend", "dev/backend", "80/TCP")
    assert out.splitlines()[0] == "dev/frontend -> dev/backend TCP 80: allowed"
    assert "tier security: GlobalNetworkPolicy security.no-prod-to-dev ingress[1] -> Pass" in out
    assert "tier default: NetworkPolicy dev/backend ingress[0] (peer 0, port 0) -> Allow" in out


def test_a_bad_calico_manifest_is_reported_with_file_and_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "apiVersion: projectcalico.org/v3\nkind: GlobalNetworkPolicy\nmetadata: {name: p}\n"
        "spec:\n  tier: nowhere\n  ingress: [{action: Allow}]\n"
    )
    code = main(["analyze", str(bad)])
    captured = capsys.readouterr()
    assert (code, captured.out) == (2, "")
    assert f"error: {bad}:1: spec.tier: GlobalNetworkPolicy p is in tier 'nowhere'" in captured.err
