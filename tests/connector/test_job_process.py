"""The sync job's own logic (S3): the lease, stopping, backoff after failures, and that
its two loops do their work — run in this process against an in-memory portal double.

End to end (a real portal, a real job process) is in tests/e2e.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from termin360.connector import job
from termin360.connector.models import SyncConfig, SyncState
from termin360.connector.portal_client import PortalUnreachable
from termin360.connector.selectors import HEARTBEAT_STALE_SECONDS, sync_state
from termin360.connector.services import state
from termin360.protocol.messages import CalendarInfo, CalendarList, FeedPage

TICK = 0.02


@dataclass
class FakePortal:
    """Just enough of ``PortalApi`` for the job: an empty feed that honours ``wait``."""

    calls: list[str] = field(default_factory=list)
    closed: int = 0

    def calendars(self) -> CalendarList:
        self.calls.append("calendars")
        info = CalendarInfo(
            id=7,
            name="Dr. Berger",
            doctor="Dr. Anna Berger",
            time_zone="Europe/Berlin",
            slot_minutes=15,
            published=True,
        )
        return CalendarList(practice="Praxis Dr. Berger", calendars=[info])

    def events(self, after: int, wait: float = 0) -> FeedPage:
        self.calls.append(f"events:{after}")
        time.sleep(min(wait, 0.05))
        return FeedPage(events=[], last_seq=after)

    def close(self) -> None:
        self.closed += 1


@dataclass
class Recorder:
    """Steps of the job that count their calls; ``fail_relay`` makes the relay fail."""

    portal: FakePortal = field(default_factory=FakePortal)
    relay_calls: list[float] = field(default_factory=list)
    pages: list[FeedPage] = field(default_factory=list)
    receipts: int = 0
    fail_relay: bool = False
    clients_made: int = 0

    def steps(self) -> job.JobSteps:
        def make_client() -> FakePortal:
            self.clients_made += 1
            return self.portal

        def relay_once(client: Any) -> int:
            self.relay_calls.append(time.monotonic())
            if self.fail_relay:
                raise PortalUnreachable("Portal http://portal.invalid nicht erreichbar.")
            return 0

        def send_receipts(client: Any) -> int:
            self.receipts += 1
            return 0

        return job.JobSteps(
            make_client=make_client,
            refresh_names=lambda client: client.calendars(),
            apply_page=lambda page, _after: self.pages.append(page),
            send_receipts=send_receipts,
            relay_once=relay_once,
            send_practice_changes=lambda client: 0,
            place_unplaced=lambda: 0,
            record_success=state.record_success,
            record_error=state.record_error,
        )


@dataclass
class RunningJob:
    stop: threading.Event
    thread: threading.Thread
    errors: list[BaseException]

    def wait_ended(self, timeout: float) -> bool:
        self.thread.join(timeout)
        return not self.thread.is_alive()


@pytest.fixture
def start_job(transactional_db: None) -> Iterator[Callable[..., RunningJob]]:
    """Start ``run_job`` in a thread (its own DB connection, as in the job process)."""
    started: list[RunningJob] = []

    def start(steps: job.JobSteps, **kwargs: Any) -> RunningJob:
        stop, errors = threading.Event(), []
        ready = threading.Event()

        def target() -> None:
            from django.db import connections

            try:
                job.run_job(stop, steps=steps, tick=TICK, on_started=ready.set, **kwargs)
            except BaseException as exc:
                errors.append(exc)
            finally:
                ready.set()
                connections.close_all()

        thread = threading.Thread(target=target, daemon=True)
        thread.start()
        ready.wait(10)
        running = RunningJob(stop, thread, errors)
        started.append(running)
        return running

    yield start
    for running in started:
        running.stop.set()
        running.thread.join(10)
    # Let the feed threads finish their (short, fake) long poll before the DB is flushed.
    for thread in threading.enumerate():
        if thread.name == "sync-feed":
            thread.join(5)


def _wait_for(check: Callable[[], object], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.02)


# --------------------------------------------------------------------------- backoff (pure)


def test_backoff_doubles_from_one_second_up_to_sixty_with_twenty_percent_jitter() -> None:
    plain = job.Backoff(jitter=0.0)
    assert [plain.next_delay() for _ in range(8)] == [1, 2, 4, 8, 16, 32, 60, 60]
    plain.reset()
    assert plain.next_delay() == 1
    jittered = job.Backoff(rng=random.Random(3))
    delays = [jittered.next_delay() for _ in range(200)][7:]  # all at the ceiling
    assert all(48 <= d <= 72 for d in delays)
    assert max(delays) - min(delays) > 10  # really spread, not one fixed value


# --------------------------------------------------------------------------- lease


@pytest.mark.django_db
def test_s3_second_job_is_refused_while_the_first_ones_heartbeat_is_fresh() -> None:
    job.take_lease(pid=111, host="praxis-pc")
    with pytest.raises(job.JobAlreadyRunning) as refused:
        job.take_lease(pid=222, host="praxis-pc")
    assert "111" in refused.value.message
    assert sync_state().job_pid == 111


@pytest.mark.django_db
def test_s3_a_stale_lease_is_taken_over_and_the_old_job_notices_it_lost_it() -> None:
    job.take_lease(pid=111, host="a")
    old = datetime.now(UTC) - timedelta(seconds=HEARTBEAT_STALE_SECONDS + 1)
    SyncState.objects.filter(pk=1).update(job_heartbeat_at=old, stop_requested=True)
    job.take_lease(pid=222, host="b")
    s = sync_state()
    assert (s.job_pid, s.job_host, s.stop_requested) == (222, "b", False)
    assert job.renew_lease(pid=111, host="a") is False
    assert job.renew_lease(pid=222, host="b") is True


@pytest.mark.django_db
def test_releasing_someone_elses_lease_changes_nothing() -> None:
    job.take_lease(pid=222, host="b")
    job.release_lease(pid=111, host="a")
    assert sync_state().job_pid == 222
    job.release_lease(pid=222, host="b")
    assert sync_state().job_pid is None


# --------------------------------------------------------------------------- the running job


def test_s3_job_holds_the_lease_and_ends_within_a_second_of_a_stop_request(
    start_job: Callable[..., RunningJob],
) -> None:
    recorder = Recorder()
    running = start_job(recorder.steps())
    s = sync_state()
    assert s.job_pid is not None and s.job_heartbeat_at is not None
    with pytest.raises(job.JobAlreadyRunning):
        job.take_lease(pid=s.job_pid + 1, host="other")
    job.request_stop()
    began = time.monotonic()
    assert running.wait_ended(5)
    assert time.monotonic() - began < 1.0
    assert not running.errors
    s = sync_state()
    # The request stays until the next job starts: practice serve must not restart one.
    assert s.job_pid is None and s.stop_requested is True
    job.take_lease(pid=4242, host="next")
    assert sync_state().stop_requested is False


def test_s3_job_ends_when_its_stop_event_is_set_and_releases_the_lease(
    start_job: Callable[..., RunningJob],
) -> None:
    running = start_job(Recorder().steps())
    running.stop.set()
    assert running.wait_ended(2)
    assert sync_state().job_pid is None


def test_s1_job_learns_the_calendar_names_and_polls_the_feed_from_the_cursor(
    start_job: Callable[..., RunningJob],
) -> None:
    SyncState.objects.update_or_create(pk=1, defaults={"cursor": 41})
    recorder = Recorder()
    start_job(recorder.steps(), feed_wait=0.05)
    _wait_for(lambda: recorder.receipts >= 2)
    assert recorder.portal.calls[0] == "calendars"
    assert "events:41" in recorder.portal.calls
    assert recorder.relay_calls, "the relay loop ran as well"


def test_failing_relay_backs_off_records_the_reason_and_recovers(
    start_job: Callable[..., RunningJob],
) -> None:
    recorder = Recorder(fail_relay=True)
    running = start_job(recorder.steps())
    time.sleep(2.2)
    # Tick 0.02 s: without backoff ~100 attempts; with 1 s (±20 %), 2 s … only 2 or 3.
    assert 2 <= len(recorder.relay_calls) <= 3, len(recorder.relay_calls)
    s = sync_state()
    assert "nicht erreichbar" in s.last_error and s.last_error_at is not None
    assert running.thread.is_alive(), "a failure never ends the job"
    assert recorder.portal.closed >= 1, "a client that failed is dropped and rebuilt"
    recorder.fail_relay = False
    _wait_for(lambda: sync_state().last_error == "", timeout=8)
    assert sync_state().last_success_at is not None


def test_job_stops_when_another_job_takes_its_lease(
    start_job: Callable[..., RunningJob],
) -> None:
    running = start_job(Recorder().steps())
    SyncState.objects.filter(pk=1).update(job_pid=999999, job_host="elsewhere")
    assert running.wait_ended(3)
    assert sync_state().job_pid == 999999, "the other job's lease is left alone"


def test_a_new_configuration_gives_the_job_a_new_client(
    start_job: Callable[..., RunningJob],
) -> None:
    SyncConfig.objects.create(pk=1, portal_url="http://127.0.0.1:1", api_key="k" * 20)
    recorder = Recorder()
    start_job(recorder.steps(), feed_wait=0.05)
    _wait_for(lambda: recorder.clients_made >= 2)  # one per loop
    before = recorder.clients_made
    time.sleep(0.05)
    config = SyncConfig.objects.get(pk=1)
    config.api_key = "n" * 20
    config.save()  # moves updated_at
    _wait_for(lambda: recorder.clients_made >= before + 2)


# --------------------------------------------------------------------------- with the real services


class LongPolling:
    """The shared in-memory portal, with a feed that waits like the real long poll."""

    def __init__(self, portal: Any) -> None:
        self.portal = portal

    def events(self, after: int, wait: float = 0) -> FeedPage:
        if not any(e.seq > after for e in self.portal.feed):
            time.sleep(min(wait, 0.05))
        page: FeedPage = self.portal.events(after, wait)
        return page

    def __getattr__(self, name: str) -> Any:
        return getattr(self.portal, name)


def test_s5_s8_job_places_online_bookings_and_sends_the_practices_busy_time(
    start_job: Callable[..., RunningJob],
) -> None:
    from zoneinfo import ZoneInfo

    from termin360.connector.models import OnlineBooking
    from termin360.connector.services import config
    from termin360.practice.services import appointments
    from tests.conftest import build_practice, slot_id
    from tests.connector.fake_portal import FakePortal as SharedFakePortal

    p = build_practice()
    # Port 1: the S9 check of the staff booking below finds no portal and saves anyway.
    config.save_config(portal_url="http://127.0.0.1:1", api_key="demo-key-0123456789")
    config.set_mappings([(101, 1, 1)])
    portal = SharedFakePortal()
    steps = job.default_steps()
    steps.make_client = lambda: LongPolling(portal)
    start_job(steps, feed_wait=0.05)

    berlin = ZoneInfo("Europe/Berlin")
    online = portal.book(
        101, datetime.combine(p.monday, datetime.min.time(), berlin).replace(hour=9)
    )
    _wait_for(lambda: portal.delivered.get(online.booking_id) == "slot")
    placed = OnlineBooking.objects.select_related("appointment__column").get(
        booking_id=online.booking_id
    )
    assert placed.appointment is not None and placed.appointment.column == p.columns[1]
    assert sync_state().cursor == 1

    appointments.book_appointment(
        actor=p.staff, slot_id=slot_id(p, 1, p.monday, "10:00"), text="Kontrolle"
    )
    _wait_for(lambda: len(portal.busy_of(101, p.monday)) == 2)  # 09:00 online, 10:00 staff
    assert sync_state().last_success_at is not None
