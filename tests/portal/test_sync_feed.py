"""The change feed as the connector reads it (decision 008): events carry the protocol's
``BookingState``; ``GET /events`` pages by cursor and long-polls — at once when there is
news, after ``wait`` when there is none, and woken within a moment by a new booking (on
PostgreSQL through LISTEN/NOTIFY, whichever process made it)."""

from __future__ import annotations

import threading
import time as clock
from datetime import time
from pathlib import Path

import httpx
import pytest

from termin360.portal.models import ChangeEvent
from termin360.portal.services import bookings, practices
from termin360.protocol.messages import BookingState, FeedPage
from tests.conftest import assert_error, require_shared_database, running_server
from tests.portal.conftest import World, build_world
from tests.portal.sync_support import book, connector


def test_event_payload_is_the_protocols_booking_state(world: World) -> None:
    booking = book(world, time(9))
    [event] = ChangeEvent.objects.filter(practice=world.practice)
    state = BookingState.model_validate(event.payload)
    assert state.booking_id == booking.pk
    assert state.online_calendar_id == world.calendar.pk
    assert (state.start, state.end) == (booking.start, booking.end)
    assert state.status == "active" and state.visit_type == "Kontrolle"
    assert state.patient.last_name == "Müller"
    assert state.patient.date_of_birth == world.patient.date_of_birth
    assert state.booked_at == booking.created_at
    assert state.cancelled_at is None


def test_events_come_in_order_after_the_cursor_with_the_feeds_last_seq(world: World) -> None:
    api = connector(world)
    a = book(world, time(9))
    book(world, time(10))
    bookings.cancel_by_patient(patient=world.patient, booking_id=a.pk)
    page = FeedPage.model_validate(api.get("/events", after=0).json())
    assert [(e.seq, e.kind) for e in page.events] == [
        (1, "booked"),
        (2, "booked"),
        (3, "cancelled"),
    ]
    assert page.events[2].booking.status == "cancelled"
    assert page.events[2].booking.cancelled_by == "patient"
    assert (page.last_seq, page.more) == (3, False)
    later = FeedPage.model_validate(api.get("/events", after=2).json())
    assert [e.seq for e in later.events] == [3]


def test_a_page_is_limited_and_says_there_is_more(world: World) -> None:
    api = connector(world)
    for hour in (8, 9, 10):
        book(world, time(hour))
    page = api.get("/events", after=0, limit=2).json()
    assert [e["seq"] for e in page["events"]] == [1, 2] and page["more"] is True
    rest = api.get("/events", after=2, limit=2).json()
    assert [e["seq"] for e in rest["events"]] == [3] and rest["more"] is False


def test_other_practices_events_are_not_in_the_feed(world: World) -> None:
    other = build_world("Praxis Zwei", "admin@zwei.de")
    book(other, time(9), patient=other.patient)
    page = connector(world).get("/events", after=0).json()
    assert page == {"events": [], "last_seq": 0, "more": False}


@pytest.mark.parametrize(
    "params", [{"after": -1}, {"wait": 26}, {"wait": -1}, {"limit": 0}, {"limit": 501}]
)
def test_out_of_range_parameters_are_422(world: World, params: dict[str, int]) -> None:
    assert_error(connector(world).get("/events", **params), 422, "invalid")


def test_long_poll_answers_at_once_when_events_exist(world: World) -> None:
    api = connector(world)
    book(world, time(9))
    started = clock.monotonic()
    page = api.get("/events", after=0, wait=20).json()
    assert clock.monotonic() - started < 1
    assert len(page["events"]) == 1


def test_long_poll_without_events_answers_after_wait(world: World) -> None:
    api = connector(world)
    started = clock.monotonic()
    page = api.get("/events", after=0, wait=1).json()
    elapsed = clock.monotonic() - started
    assert 0.9 <= elapsed < 3, elapsed
    assert page == {"events": [], "last_seq": 0, "more": False}


def test_a_cursor_beyond_the_feed_answers_at_once(world: World) -> None:
    """A connector pointed at another portal (or a restored one) learns it right away."""
    book(world, time(9))
    started = clock.monotonic()
    page = connector(world).get("/events", after=7, wait=5).json()
    assert clock.monotonic() - started < 1
    assert page == {"events": [], "last_seq": 1, "more": False}


def test_long_poll_wakes_within_two_seconds_when_a_booking_is_made(
    transactional_db: None, tmp_path: Path
) -> None:
    """Against a real ``portal serve`` process; the booking is made in this process, so on
    PostgreSQL only the NOTIFY at commit can wake the server in time (it would otherwise
    wait the full 15 s)."""
    require_shared_database()
    world = build_world()
    _record, key = practices.issue_api_key(practice=world.practice, name="Connector")
    with running_server("portal", tmp_path) as server:
        answer: dict[str, object] = {}

        def long_poll() -> None:
            r = httpx.get(
                f"{server.url}/api/v1/sync/events",
                params={"after": 0, "wait": 15},
                headers={"Authorization": f"Bearer {key}"},
                timeout=30,
            )
            answer["at"] = clock.monotonic()
            answer["body"] = r.json()

        poller = threading.Thread(target=long_poll)
        poller.start()
        clock.sleep(1.0)  # the request is waiting now
        assert "at" not in answer
        booking = book(world, time(9))
        committed = clock.monotonic()
        poller.join(timeout=20)
    assert "at" in answer, "the long poll did not answer"
    assert "feed listener failed" not in server.log.read_text()  # LISTEN, not the fallback
    delay = float(answer["at"]) - committed  # type: ignore[arg-type]
    assert delay < 2, delay
    page = FeedPage.model_validate(answer["body"])
    assert [(e.seq, e.booking.booking_id) for e in page.events] == [(1, booking.pk)]


@pytest.mark.postgres_only
def test_on_postgres_the_wait_is_woken_by_notify_not_by_polling(
    transactional_db: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    from django.db import connection

    from termin360.portal.services import sync_feed

    def no_polling(*args: object) -> bool:
        raise AssertionError("fell back to polling")

    monkeypatch.setattr(sync_feed, "_wait_polling", no_polling)
    world = build_world()
    other = build_world("Praxis Zwei", "admin@zwei.de")
    woke: dict[str, float] = {}

    def waiter() -> None:
        try:
            if sync_feed.wait_for_events(practice_id=world.practice.pk, after=0, timeout=10):
                woke["at"] = clock.monotonic()
        finally:
            connection.close()

    thread = threading.Thread(target=waiter)
    thread.start()
    clock.sleep(0.5)
    book(other, time(9), patient=other.patient)  # another practice: keeps waiting
    clock.sleep(0.5)
    assert "at" not in woke
    book(world, time(9))
    committed = clock.monotonic()
    thread.join(timeout=15)
    assert woke["at"] - committed < 1
