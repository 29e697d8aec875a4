"""What a run owes is in the database from the moment it closes: a run no notifier heard, a
queue dropped when its notifier stopped, a retry that was lost, are sent by the next notifier
that resumes, once, over real HTTP to a receiver on localhost."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from service.notify.deliveries import (
    PostResult,
    attempt_delivery,
    due_deliveries,
    http_post,
    owed_runs,
    prepare_deliveries,
)
from service.notify.hooks import install_notifications
from service.notify.resume import resume_notifications
from service.notify.senders import InProcessSender
from service.notify.settings import NotifySettings
from service.runs.create import RunRequest, create_run
from service.runs.lifecycle import cancel_run
from service.store import downgrade, make_engine, make_session_factory, upgrade
from service.store.enums import RunStatus, Trigger
from service.store.models import Run
from service.store.notify_models import DeliveryStatus
from tests.dashboard.world import fail_open
from tests.notify.conftest import Receiver, run_once, workshop
from tests.notify.watched_workshop import (
    alarming_run,
    deliveries,
    notified,
    statuses,
    watched_workshop,
)

FAST = NotifySettings(
    base_url="http://dash.example", backoff_s=0.3, attempts=4, timeout_s=5, resume_interval_s=0.2
)
# A notifier that resumes when it starts, and not again while a test looks.
START_ONLY = replace(FAST, resume_interval_s=3600.0)


@contextmanager
def notifier(
    sessions: sessionmaker[Session], settings: NotifySettings = START_ONLY
) -> Iterator[InProcessSender]:
    """A process's notifier, as the dashboard starts and stops it."""
    sender = InProcessSender(sessions, settings)
    notifications = install_notifications(sessions, sender)
    try:
        yield sender
    finally:
        notifications.uninstall()
        sender.close()


def wait_until(condition: Callable[[], bool], what: str, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def resume_once(sessions: sessionmaker[Session]) -> None:
    """A notifier starts, sends what it resumed, and stops."""
    with notifier(sessions) as sender:
        assert sender.idle(10)


def test_a_run_no_notifier_heard_is_notified_once_by_the_next_to_start(
    sessions: sessionmaker[Session], receiver: Receiver
) -> None:
    scenario = watched_workshop(sessions, receiver.url("/owed"))
    # Closed with no notifier in the process (a CLI run, or a process that died between
    # closing the run and handing it on): nothing was prepared, the run is owed.
    alarming = alarming_run(sessions, scenario)
    assert alarming in owed_runs(sessions)
    assert deliveries(sessions) == []

    resume_once(sessions)
    assert notified(receiver) == [alarming]
    assert owed_runs(sessions) == []
    # Started again: nothing is owed any more, nothing is sent again.
    resume_once(sessions)
    assert len(receiver.received) == 1
    (delivery,) = deliveries(sessions)
    assert (delivery.run_id, delivery.status, delivery.attempts) == (
        alarming,
        DeliveryStatus.DELIVERED,
        1,
    )


def test_a_run_whose_preparation_was_dropped_at_stop_is_notified_once_after_a_restart(
    sessions: sessionmaker[Session], receiver: Receiver
) -> None:
    scenario = watched_workshop(sessions, receiver.url("/dropped"))
    with notifier(sessions) as sender:
        # The first run's POST keeps the notifier's thread busy while the second closes,
        # so the second's preparation is still queued when the notifier stops.
        receiver.delay_s = 3.0
        first = alarming_run(sessions, scenario)
        wait_until(lambda: len(receiver.received) == 1, "the first run's POST")
        second = run_once(sessions, scenario, faults=fail_open("allow-pod"))
        assert not sender.idle(0), "the first POST ended too early"
    assert owed_runs(sessions) == [second], "the queued preparation was not dropped"
    assert [d.run_id for d in deliveries(sessions)] == [first]

    receiver.delay_s = 0.0
    resume_once(sessions)
    assert notified(receiver) == [first, second]
    assert len(receiver.received) == 2
    assert owed_runs(sessions) == []


def test_a_retry_dropped_at_stop_is_sent_once_after_a_restart(
    sessions: sessionmaker[Session], receiver: Receiver
) -> None:
    scenario = watched_workshop(sessions, receiver.url("/retry"))
    receiver.statuses = [500]
    with notifier(sessions):
        alarming = alarming_run(sessions, scenario)

        def failed_once() -> bool:
            rows = deliveries(sessions)
            return len(rows) == 1 and rows[0].attempts == 1 and rows[0].last_status_code == 500

        wait_until(failed_once, "the first attempt's 500 to be recorded")
    # Stopped with the retry queued: well past its backoff, nobody has sent it.
    time.sleep(FAST.backoff_s + 0.3)
    assert statuses(receiver) == [500]
    (pending,) = deliveries(sessions)
    assert pending.status is DeliveryStatus.PENDING

    resume_once(sessions)
    assert statuses(receiver) == [500, 200]
    assert notified(receiver) == [alarming]


def test_a_running_notifier_sends_what_another_process_left_within_its_interval(
    sessions: sessionmaker[Session], receiver: Receiver
) -> None:
    sender = InProcessSender(sessions, FAST)
    try:
        # No hook in this process: every run here closes as if another process closed it.
        scenario = watched_workshop(sessions, receiver.url("/elsewhere"))
        alarming = alarming_run(sessions, scenario)
        wait_until(lambda: notified(receiver) == [alarming], "the periodic resume", 10)
        time.sleep(5 * FAST.resume_interval_s)
        assert len(receiver.received) == 1
    finally:
        sender.close()


class Handed:
    """A sender that only records what it is handed."""

    def __init__(self) -> None:
        self.runs: list[int] = []
        self.deliveries: list[int] = []

    def run_closed(self, run_id: int) -> None:
        self.runs.append(run_id)

    def deliver(self, delivery_id: int, *, delay_s: float = 0.0) -> None:
        self.deliveries.append(delivery_id)


def test_a_resume_racing_an_attempt_under_way_posts_once(
    sessions: sessionmaker[Session], receiver: Receiver
) -> None:
    scenario = watched_workshop(sessions, receiver.url("/race"))
    alarming = alarming_run(sessions, scenario)
    (delivery_id,) = prepare_deliveries(sessions, alarming, FAST)
    receiver.delay_s = 1.0
    posting = threading.Event()
    outcomes = {}

    def post(url: str, body: bytes, timeout_s: float) -> PostResult:
        posting.set()
        return http_post(url, body, timeout_s)

    def first() -> None:
        outcomes["first"] = attempt_delivery(sessions, delivery_id, FAST, post=post)

    thread = threading.Thread(target=first)
    thread.start()
    try:
        assert posting.wait(5)
        # While the first POST is under way, a resume finds it not due, and a second
        # sender handed the delivery anyway (a retry, a resume) leaves it.
        handed = Handed()
        resumed = resume_notifications(sessions, handed)
        assert alarming not in resumed.runs
        assert resumed.deliveries == ()
        assert handed.deliveries == []
        second = attempt_delivery(sessions, delivery_id, FAST)
    finally:
        thread.join(10)
    assert second.status is None
    assert second.skipped.startswith("not due until")
    assert outcomes["first"].status is DeliveryStatus.DELIVERED
    assert len(receiver.received) == 1
    assert due_deliveries(sessions) == []


def test_a_run_is_owed_from_its_close_until_prepared_and_an_open_run_never(
    sessions: sessionmaker[Session],
) -> None:
    scenario = workshop()
    queued = create_run(sessions, RunRequest(scenario=scenario, trigger=Trigger.CLI))
    clean = run_once(sessions, scenario)
    cancelled = create_run(sessions, RunRequest(scenario=scenario, trigger=Trigger.CLI))
    assert cancel_run(sessions, cancelled.run_id)
    assert owed_runs(sessions) == [clean, cancelled.run_id]
    # An open run owes nothing yet: preparing it neither sends nor marks it.
    assert prepare_deliveries(sessions, queued.run_id, FAST) == []
    assert prepare_deliveries(sessions, clean, FAST) == []
    assert prepare_deliveries(sessions, cancelled.run_id, FAST) == []
    assert owed_runs(sessions) == []
    with sessions() as session:
        marked = {run.id: run.notify_prepared_at for run in session.scalars(select(Run))}
    assert marked[queued.run_id] is None
    assert marked[clean] is not None
    assert marked[cancelled.run_id] is not None
    assert deliveries(sessions) == []


def test_two_preparations_at_once_make_one_delivery(
    sessions: sessionmaker[Session], receiver: Receiver
) -> None:
    scenario = watched_workshop(sessions, receiver.url("/twice"))
    alarming = alarming_run(sessions, scenario)
    start = threading.Barrier(2)
    inserted: list[list[int]] = []

    def prepare() -> None:
        start.wait(5)
        inserted.append(prepare_deliveries(sessions, alarming, FAST))

    threads = [threading.Thread(target=prepare) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(len(ids) for ids in inserted) == [0, 1]
    assert [d.run_id for d in deliveries(sessions)] == [alarming]


@contextmanager
def opened(url: str) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(url)
    try:
        yield make_session_factory(engine)
    finally:
        engine.dispose()


def test_the_migration_takes_runs_closed_before_it_as_prepared(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'upgraded.db'}"
    upgrade(url)
    with opened(url) as sessions:
        scenario = workshop()
        closed = run_once(sessions, scenario)
        queued = create_run(sessions, RunRequest(scenario=scenario, trigger=Trigger.CLI)).run_id
    downgrade(url, "0004")
    upgrade(url)
    with opened(url) as sessions:
        with sessions() as session:
            runs = {run.id: run for run in session.scalars(select(Run))}
            assert runs[closed].status is RunStatus.SUCCEEDED
            assert runs[closed].notify_prepared_at == runs[closed].finished_at
            assert runs[queued].notify_prepared_at is None
        assert owed_runs(sessions) == []
