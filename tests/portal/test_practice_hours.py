"""S14 on the portal: the bookable slots the connector sends with a day's busy state, a
calendar that offers exactly them, the typed hours for the others, and the notice where
the two disagree."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, time, timedelta
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from termin360.core.errors import InvalidInput
from termin360.portal.models import BusyInterval, OnlineCalendar, PracticeSlots
from termin360.portal.services import availability, bookings, practices
from termin360.portal.services import practice_setup_extra as extra
from tests.conftest import assert_error
from tests.portal.conftest import World
from tests.portal.sync_support import SyncApi, connector, iso
from tests.portal.test_api_bookings import BERLIN, bookable

TUESDAY = bookable().date()
# The practice's grid that Tuesday: 20-minute slots 10:00–10:40, one at 14:00.
GRID = [(time(10), time(10, 20)), (time(10, 20), time(10, 40)), (time(14), time(14, 20))]


def at(day: date, clock: time) -> datetime:
    return datetime.combine(day, clock, tzinfo=BERLIN)


def busy_day(
    world: World,
    day: date = TUESDAY,
    *,
    bookable_slots: list[tuple[time, time]] | None = None,
    busy: Sequence[tuple[time, time]] = (),
    revision: int = 0,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "online_calendar_id": world.calendar.pk,
        "day": day.isoformat(),
        "intervals": [{"start": iso(at(day, a)), "end": iso(at(day, b))} for a, b in busy],
        "revision": revision,
    }
    if bookable_slots is not None:
        body["bookable"] = [
            {"start": iso(at(day, a)), "end": iso(at(day, b))} for a, b in bookable_slots
        ]
    return body


def put(api: SyncApi, *days: dict[str, Any]) -> dict[str, Any]:
    r = api.put("/busy", {"days": list(days)})
    assert r.status_code == 200, r.content
    return dict(r.json())


def stored(world: World, day: date = TUESDAY) -> list[str] | None:
    row = PracticeSlots.objects.filter(calendar=world.calendar, day=day).first()
    if row is None:
        return None
    return [f"{datetime.fromisoformat(a).astimezone(BERLIN):%H:%M}" for a, _b in row.slots]


def offered(world: World, day: date = TUESDAY, minutes: int = 15) -> list[str]:
    calendar = OnlineCalendar.objects.get(pk=world.calendar.pk)
    by_day = availability.slots_by_day(calendar, day, day, minutes)
    return [f"{s.start.astimezone(BERLIN):%H:%M}" for s in by_day[day]]


def from_practice(world: World) -> None:
    extra.set_hours_source(calendar=world.calendar, source="practice")


# --------------------------------------------------------------------------- sync API


def test_s14_the_sync_api_stores_the_bookable_slots_and_a_newer_state_replaces_them(
    world: World,
) -> None:
    api = connector(world)
    assert put(api, busy_day(world, bookable_slots=GRID, revision=10)) == {
        "applied": 1,
        "stale": 0,
    }
    assert stored(world) == ["10:00", "10:20", "14:00"]
    put(api, busy_day(world, bookable_slots=GRID[:1], busy=[(time(10), time(10, 20))], revision=11))
    assert stored(world) == ["10:00"]
    # An older state (held up on the network) changes neither busy time nor slots.
    assert put(api, busy_day(world, bookable_slots=GRID, revision=9)) == {"applied": 0, "stale": 1}
    assert stored(world) == ["10:00"]
    assert BusyInterval.objects.filter(calendar=world.calendar).count() == 1
    # "No slots that day" is a state too.
    put(api, busy_day(world, bookable_slots=[], revision=12))
    assert stored(world) == []


def test_s14_a_day_without_bookable_from_an_older_connector_leaves_the_slots_as_they_were(
    world: World,
) -> None:
    api = connector(world)
    put(api, busy_day(world, bookable_slots=GRID, revision=1))
    put(api, busy_day(world, busy=[(time(14), time(14, 20))], revision=2))
    assert stored(world) == ["10:00", "10:20", "14:00"]
    assert BusyInterval.objects.filter(calendar=world.calendar).count() == 1
    put(api, busy_day(world, TUESDAY + timedelta(days=1)))  # revision 0, no slots
    assert stored(world, TUESDAY + timedelta(days=1)) is None


def test_s14_slots_outside_the_day_they_were_sent_for_are_refused(world: World) -> None:
    body = busy_day(world, bookable_slots=GRID)
    body["bookable"][0]["start"] = iso(at(TUESDAY + timedelta(days=5), time(10)))
    body["bookable"][0]["end"] = iso(at(TUESDAY + timedelta(days=5), time(10, 20)))
    r = connector(world).put("/busy", {"days": [body]})
    assert_error(r, 422, "interval_outside_day")
    assert stored(world) is None


# --------------------------------------------------------------------------- availability


def test_s14_a_practice_calendar_offers_exactly_the_slot_starts_a_visit_fits_from(
    world: World,
) -> None:
    put(connector(world), busy_day(world, bookable_slots=GRID, revision=1))
    from_practice(world)
    assert offered(world) == ["10:00", "10:20", "14:00"]
    # 30 minutes fit only from 10:00 (two touching slots); 14:00 has one slot of 20.
    assert offered(world, minutes=30) == ["10:00"]
    # A day the practice did not send offers nothing, whatever the typed hours say.
    assert offered(world, TUESDAY + timedelta(days=1)) == []

    put(connector(world), busy_day(world, bookable_slots=GRID, busy=[(time(10), time(10, 20))]))
    assert offered(world) == ["10:20", "14:00"]
    assert offered(world, minutes=30) == []


def test_s14_a_booking_on_a_practice_calendar_takes_a_slot_start_and_nothing_else(
    world: World,
) -> None:
    put(connector(world), busy_day(world, bookable_slots=GRID, revision=1))
    from_practice(world)
    kwargs = {"patient": world.patient, "calendar_id": world.calendar.pk}
    with pytest.raises(InvalidInput):  # on the typed 15-minute grid, not a slot start
        bookings.book(visit_type_id=world.checkup.pk, start=at(TUESDAY, time(10, 15)), **kwargs)
    booking = bookings.book(
        visit_type_id=world.checkup.pk, start=at(TUESDAY, time(10, 20)), **kwargs
    )
    assert booking.start == at(TUESDAY, time(10, 20))
    assert offered(world) == ["10:00", "14:00"]


def test_s14_the_typed_hours_still_rule_a_portal_calendar(world: World) -> None:
    put(connector(world), busy_day(world, bookable_slots=GRID, revision=1))
    assert world.calendar.hours_source == "portal"
    typed = [f"{h:02d}:{m:02d}" for h in range(8, 12) for m in (0, 15, 30, 45)]
    assert offered(world) == typed
    extra.set_hours_source(calendar=world.calendar, source="practice")
    extra.set_hours_source(calendar=world.calendar, source="portal")
    assert offered(world) == typed


def test_s14_a_practice_calendar_may_be_published_without_typed_hours(world: World) -> None:
    practices.publish(calendar=world.calendar, published=False)
    practices.set_weekly_hours(calendar=world.calendar, hours=[])
    from_practice(world)
    assert practices.publish(calendar=world.calendar).published


def test_s14_an_unknown_hours_source_is_refused(world: World) -> None:
    with pytest.raises(InvalidInput):
        extra.set_hours_source(calendar=world.calendar, source="both")


# --------------------------------------------------------------------------- the calendar page


def _page(client: Client, world: World) -> str:
    from django.contrib.auth.models import User

    client.force_login(User.objects.get(username=world.admin_email))
    r = client.get(reverse("portal:practice-calendar", args=[world.calendar.pk]))
    assert r.status_code == 200
    return str(r.content.decode())


def test_s14_the_calendar_page_points_out_days_whose_grid_differs_from_the_typed_hours(
    client: Client, world: World
) -> None:
    # The typed hours, 08:00–12:00 in 15 minutes, as slots of the practice's grid.
    same = [
        (time(8 + q // 4, 15 * (q % 4)), time(8 + (q + 1) // 4, 15 * ((q + 1) % 4)))
        for q in range(16)
    ]
    api = connector(world)
    put(
        api,
        busy_day(world, bookable_slots=same, revision=1),  # agrees
        busy_day(world, TUESDAY + timedelta(days=1), bookable_slots=GRID, revision=1),
        busy_day(world, TUESDAY + timedelta(days=2), bookable_slots=same[:-1], revision=1),
    )
    page = _page(client, world)
    assert 'data-hours-differ="2"' in page
    assert 'data-hours-source="portal"' in page

    # All days agree: no notice.
    put(
        api,
        busy_day(world, TUESDAY + timedelta(days=1), bookable_slots=same, revision=2),
        busy_day(world, TUESDAY + timedelta(days=2), bookable_slots=same, revision=2),
    )
    assert "data-hours-differ" not in _page(client, world)


def test_s14_the_practice_admin_switches_the_calendar_to_the_practice_grid_and_back(
    client: Client, world: World
) -> None:
    _page(client, world)
    url = reverse("portal:practice-calendar-hours-source", args=[world.calendar.pk])
    r = client.post(url, {"hours_source": "practice"})
    assert r.status_code == 302
    world.calendar.refresh_from_db()
    assert world.calendar.hours_from_practice
    assert 'data-hours-source="practice"' in _page(client, world)
    client.post(url, {"hours_source": "portal"})
    world.calendar.refresh_from_db()
    assert world.calendar.hours_source == "portal"
