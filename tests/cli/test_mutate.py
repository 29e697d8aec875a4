"""`netpol-drift mutate` through the real entry point."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from service.cli import EXIT_INVALID, EXIT_OK, cli, main
from service.cli.mutate import mutate_command

REPO = Path(__file__).resolve().parents[2]
WORKSHOP = REPO / "scenarios" / "calico-workshop.yaml"
E2E = REPO / "scenarios" / "e2e-model.yaml"


@pytest.fixture(autouse=True)
def _command() -> Iterator[None]:
    # The lead registers the command in service.cli; until then the test adds it.
    known = "mutate" in cli.commands
    cli.add_command(mutate_command)
    yield
    if not known:
        cli.commands.pop("mutate", None)


def _cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_table_is_the_default_and_shows_score_mutations_and_suggestions(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, err = _cli(capsys, "mutate", str(WORKSHOP))
    assert (code, err) == (EXIT_OK, "")
    first = out.splitlines()[0]
    assert (
        first == "calico-workshop: mutation score 53% (18 of 34 killed; 1 equivalent, not counted)"
    )
    assert "equivalent  allow-pod-namespace" in out
    assert "caught by production/frontend -> development/backend 80/TCP" in out
    assert "# 1. kills" in out


def test_pasted_snippets_from_the_table_are_yaml(capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = _cli(capsys, "mutate", str(WORKSHOP))
    blocks = out.split("\n# ")[1:]
    assert blocks
    for block in blocks:
        snippet = "# " + block.split("\n\n")[0]
        parsed = yaml.safe_load(snippet)
        assert set(parsed) <= {"targets", "matrix"}


def test_json_format_is_one_document_with_every_mutation(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _ = _cli(capsys, "mutate", str(WORKSHOP), "--format", "json")
    assert code == EXIT_OK
    document = json.loads(out)
    assert document["killed"] + document["survived"] + document["equivalent"] == len(
        document["mutations"]
    )
    assert document["score"] == pytest.approx(18 / 34)
    outcomes = {m["outcome"] for m in document["mutations"]}
    assert outcomes == {"killed", "survived", "equivalent"}
    claimed = sorted(i for s in document["suggestions"] for i in s["kills"])
    survivors = sorted(m["id"] for m in document["mutations"] if m["outcome"] == "survived")
    assert claimed == survivors


def test_version_option_limits_the_mutations_to_that_version(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _ = _cli(capsys, "mutate", str(E2E), "--format", "json", "--version", "allow-from-y")
    assert code == EXIT_OK
    versions = {m["version"] for m in json.loads(out)["mutations"]}
    # Namespace relabels apply to every (selected) version: their version is null.
    assert versions == {"allow-from-y", None}


def test_no_suggestions_option_only_scores(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _cli(capsys, "mutate", str(WORKSHOP), "--format", "json", "--no-suggestions")
    assert code == EXIT_OK
    assert json.loads(out)["suggestions"] == []


def test_unknown_version_exits_2_with_nothing_on_stdout(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, err = _cli(capsys, "mutate", str(E2E), "--version", "nope")
    assert (code, out) == (EXIT_INVALID, "")
    assert "nope" in err


def test_invalid_scenario_exits_2_with_the_problem_on_stderr(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: bad\nnamespaces: {}\n")
    code, out, err = _cli(capsys, "mutate", str(bad))
    assert (code, out) == (EXIT_INVALID, "")
    assert err.startswith("error: ")


def test_missing_file_exits_2(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, out, err = _cli(capsys, "mutate", str(tmp_path / "absent.yaml"))
    assert (code, out) == (EXIT_INVALID, "")
    assert err


def test_docs_show_the_real_workshop_output(capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = _cli(capsys, "mutate", str(WORKSHOP))
    docs = (REPO / "docs" / "mutation.md").read_text()
    assert f"```\n{out}```" in docs
