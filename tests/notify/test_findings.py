"""What a finished run found: regressions, alarm drift, new flakes; on real runs."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from service.cluster.faults import FaultConfig
from service.notify.findings import Reason, run_findings
from tests.dashboard.world import fail_open
from tests.notify.conftest import run_once, workshop


def _findings(sessions: sessionmaker[Session], run_id: int, window: int = 10) -> object:
    with sessions() as session:
        return run_findings(session, run_id, window=window)


def _blocked_under(sessions: sessionmaker[Session], run_id: int, version: str) -> int:
    with sessions() as session:
        return int(
            session.execute(
                text(
                    "SELECT count(*) FROM revision_cells rc JOIN runs r"
                    " ON r.revision_id = rc.revision_id"
                    " WHERE r.id = :r AND rc.version = :v AND rc.expected = 'blocked'"
                ),
                {"r": run_id, "v": version},
            ).scalar_one()
        )


def test_a_clean_run_finds_nothing(sessions: sessionmaker[Session]) -> None:
    scenario = workshop()
    run_once(sessions, scenario)
    second = run_once(sessions, scenario)
    with sessions() as session:
        found = run_findings(session, second, window=10)
    assert found is not None
    assert found.reasons == ()
    assert found.previous_run_id is not None


def test_the_first_run_of_a_scenario_has_no_drift_to_find(sessions: sessionmaker[Session]) -> None:
    first = run_once(sessions, workshop())
    with sessions() as session:
        found = run_findings(session, first, window=10)
    assert found is not None
    assert found.previous_run_id is None
    assert found.alarm_drift == 0


def test_failing_open_with_unchanged_policy_is_regressions_and_alarm_drift(
    sessions: sessionmaker[Session],
) -> None:
    scenario = workshop()
    before = run_once(sessions, scenario)
    drifted = run_once(sessions, scenario, faults=fail_open("deny-all"))
    with sessions() as session:
        found = run_findings(session, drifted, window=10)
    assert found is not None
    blocked = _blocked_under(sessions, drifted, "deny-all")
    assert found.reasons == (Reason.REGRESSIONS, Reason.ALARM_DRIFT)
    assert found.regressions == blocked
    assert found.alarm_drift == blocked
    assert found.expected_drift == 0
    assert found.previous_run_id == before
    assert len(found.quoted) == min(5, blocked)
    assert all(note.version == "deny-all" for note in found.quoted)
    assert all(note.explanation for note in found.quoted)


def test_cells_flaky_for_the_first_time_are_new_flakes_and_only_once(
    sessions: sessionmaker[Session],
) -> None:
    scenario = workshop()
    run_once(sessions, scenario)
    lossy = FaultConfig(seed=3, probe_loss_rate=0.5)
    first = run_once(sessions, scenario, faults=lossy, attempts=4)
    again = run_once(sessions, scenario, faults=lossy, attempts=4)
    with sessions() as session:
        flaky = {
            key
            for (key,) in session.execute(
                text(
                    "SELECT cell_key FROM cell_results WHERE run_id = :r"
                    " AND (flaky OR attempt_details IS NOT NULL)"
                ),
                {"r": first},
            )
        }
        news = run_findings(session, first, window=10)
        repeat = run_findings(session, again, window=10)
    assert news is not None
    assert repeat is not None
    assert news.new_flakes
    assert set(news.new_flakes) <= flaky
    assert Reason.NEW_FLAKES in news.reasons
    # The same seed flakes the same cells: already flaky in the window before, not news.
    assert repeat.new_flakes == ()


def test_an_unknown_run_finds_nothing_at_all(sessions: sessionmaker[Session]) -> None:
    with sessions() as session:
        assert run_findings(session, 4242, window=10) is None
