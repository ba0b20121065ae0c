"""How many queries the hottest patient endpoints make — fixed numbers, whatever the number
of hits, so that a query per result (an N+1) fails here: search (API and page), a doctor's
slots (API) and the doctor page, with 30 published calendars and 20 hits per page.

"Cold": no calendar's snapshot is kept yet, so search loads those of its page together;
"warm": the snapshots answer and only the query that finds the calendars (with their
versions) is left (decision 021)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, time, timedelta
from typing import Any

import pytest
from django.test import Client

from termin360.portal.models import OnlineCalendar
from termin360.portal.services import availability_cache, practices, sync
from termin360.portal.services import practice_setup_extra as extra
from termin360.protocol.messages import BusyDay, TimeRange
from tests.portal.conftest import World, build_world
from tests.portal.sync_support import book
from tests.portal.test_api_bookings import bookable, weekday_at

CALENDARS = 30
PAGE = 20
# The snapshots of any number of calendars: weekly hours, visit types, bookings, busy
# time, S9 holds, absences — and the practice's bookable slots when a calendar takes its
# hours from the practice (S14).
SNAPSHOT_QUERIES = 6
S14_QUERIES = 1


@pytest.fixture(autouse=True)
def fresh_cache(db: None) -> Iterator[None]:
    availability_cache.clear()
    availability_cache.versions_kept()  # asked once per process and then every few minutes
    yield
    availability_cache.clear()


@pytest.fixture
def many(world: World) -> list[OnlineCalendar]:
    """30 published calendars in three practices; the last three take their hours from the
    practice calendar (S14), which sent a day of slots; a booking and busy time here and
    there."""
    worlds = [world, build_world("Praxis Zwei", "admin@zwei.de")]
    worlds.append(build_world("Praxis Drei", "admin@drei.de"))
    calendars = [w.calendar for w in worlds]
    more = CALENDARS - len(calendars)
    for i in range(more):
        w = worlds[i % len(worlds)]
        doctor = practices.add_doctor(
            practice=w.practice,
            location_id=w.location.pk,
            title="Dr.",
            first_name="Vorname",
            last_name=f"Arzt {i:02d}",
            specialty="Allgemeinmedizin",
        )
        calendar = doctor.calendar
        practices.set_weekly_hours(
            calendar=calendar, hours=[(d, time(8), time(12)) for d in range(5)]
        )
        practices.add_visit_type(calendar=calendar, name="Kontrolle", duration_minutes=15)
        if i >= more - 3:
            extra.set_hours_source(calendar=calendar, source=OnlineCalendar.HoursSource.PRACTICE)
            _practice_sends_a_day(w, calendar)
        practices.publish(calendar=calendar)
        calendars.append(calendar)
    book(world)
    _practice_sends_a_day(worlds[1], worlds[1].calendar)
    return calendars


def _practice_sends_a_day(w: World, calendar: OnlineCalendar) -> None:
    day = bookable().date()
    sync.replace_busy(
        practice=w.practice,
        days=[
            BusyDay(
                online_calendar_id=calendar.pk,
                day=day,
                intervals=[TimeRange(start=bookable(time(10)), end=bookable(time(10, 30)))],
                bookable=[
                    TimeRange(start=bookable(time(h, m)), end=bookable(time(h, m + 15)))
                    for h in (9, 10, 11)
                    for m in (0, 15, 30)
                ],
            )
        ],
    )


def _get(client: Client, path: str, **params: Any) -> Any:
    r = client.get(path, params)
    assert r.status_code == 200, r.content[:300]
    return r


def test_search_api(
    many: list[OnlineCalendar], client: Client, django_assert_num_queries: Any
) -> None:
    # Page 1: 20 of the 27 calendars with typed hours (the S14 ones sort last).
    with django_assert_num_queries(1 + SNAPSHOT_QUERIES):
        body = _get(client, "/api/v1/search", limit=PAGE).json()
    assert body["total"] == CALENDARS and len(body["results"]) == PAGE
    assert all(hit["next_free_slot"] for hit in body["results"])
    with django_assert_num_queries(1):
        assert _get(client, "/api/v1/search", limit=PAGE).json() == body
    # Page 2 holds the S14 calendars: their bookable slots come in one more query.
    with django_assert_num_queries(1 + SNAPSHOT_QUERIES + S14_QUERIES):
        second = _get(client, "/api/v1/search", limit=PAGE, offset=PAGE).json()
    assert len(second["results"]) == CALENDARS - PAGE
    with django_assert_num_queries(1):
        _get(client, "/api/v1/search", limit=PAGE, offset=PAGE, insurance="gkv")


def test_search_api_after_a_booking_loads_that_calendar_alone(
    many: list[OnlineCalendar], world: World, client: Client, django_assert_num_queries: Any
) -> None:
    hits = _get(client, "/api/v1/search", name="Berger").json()["results"]
    assert len(hits) == 3 and world.calendar.pk in {h["calendar_id"] for h in hits}
    book(world, time(11))
    before = availability_cache.stats()["misses"]
    with django_assert_num_queries(1 + SNAPSHOT_QUERIES):
        _get(client, "/api/v1/search", name="Berger")
    assert availability_cache.stats()["misses"] == before + 1


def test_search_page(
    many: list[OnlineCalendar], client: Client, django_assert_num_queries: Any
) -> None:
    # The page, and the specialties for its form.
    with django_assert_num_queries(1 + SNAPSHOT_QUERIES + 1):
        page = _get(client, "/", specialty="Allgemeinmedizin")
    assert page.content.count(b'class="result__next"') == PAGE
    with django_assert_num_queries(2):
        _get(client, "/", specialty="Allgemeinmedizin", page=1)


def test_search_page_of_a_logged_in_patient(
    many: list[OnlineCalendar], world: World, client: Client, django_assert_num_queries: Any
) -> None:
    client.force_login(world.patient.user)
    _get(client, "/")
    # Session, user, profile, the practices that know her; the page; the specialties.
    with django_assert_num_queries(4 + 2):
        _get(client, "/")


def _monday(weeks: int) -> date:
    return weekday_at(weeks, 0, time(0)).date()


def test_slots_api(
    many: list[OnlineCalendar], client: Client, django_assert_num_queries: Any
) -> None:
    for calendar in (many[0], many[-1]):  # typed hours; hours from the practice (S14)
        extra_query = S14_QUERIES if calendar.hours_from_practice else 0
        path = f"/api/v1/calendars/{calendar.pk}/slots"
        with django_assert_num_queries(1 + SNAPSHOT_QUERIES + extra_query):
            week = _get(client, path, **{"from": _monday(1)}).json()
        assert any(day["slots"] for day in week["days"])
        for weeks in (1, 2, 3):
            with django_assert_num_queries(1):
                _get(client, path, **{"from": _monday(weeks), "days": 7})


def test_doctor_page(
    many: list[OnlineCalendar], world: World, client: Client, django_assert_num_queries: Any
) -> None:
    path = f"/arzt/{world.calendar.pk}/"
    with django_assert_num_queries(1 + SNAPSHOT_QUERIES):
        page = _get(client, path)
    assert page.content.count(b"/buchen/") >= 16
    for weeks in (1, 2):
        with django_assert_num_queries(1):
            _get(client, path, **{"from": (date.today() + timedelta(weeks=weeks)).isoformat()})
    client.force_login(world.patient.user)
    _get(client, path)
    # The calendar; session, user, profile; whether the practice knows her (she booked).
    with django_assert_num_queries(1 + 3 + 1):
        _get(client, path)
