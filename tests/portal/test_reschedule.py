"""P8, a patient moves their booking: the service, the page and the API on a real database,
and a crowd moving onto one free time against a real ``portal serve`` process."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from django.urls import reverse
from django.utils import timezone

from termin360.core.errors import Conflict, InvalidInput, NotFound
from termin360.portal.models import (
    Booking,
    BusyInterval,
    ChangeEvent,
    Claim,
    Hold,
    OutgoingEmail,
)
from termin360.portal.services import bookings, practices, reschedule
from termin360.portal.services.bookings import SlotGone
from tests.conftest import Server, race
from tests.portal.conftest import World, build_world, make_patient, rendered
from tests.portal.test_api_bookings import assert_error, bookable, patient_api
from tests.portal.test_booking_race import _client, _patients

BERLIN = ZoneInfo("Europe/Berlin")


def book(world: World, start: datetime, patient: Any = None, vt: Any = None) -> Booking:
    return bookings.book(
        patient=patient or world.patient,
        calendar_id=world.calendar.pk,
        visit_type_id=(vt or world.checkup).pk,
        start=start,
    )


def move(world: World, booking: Booking, start: datetime, patient: Any = None) -> Booking:
    return reschedule.move_by_patient(
        patient=patient or world.patient, booking_id=booking.pk, start=start
    )


def kinds(booking: Booking) -> list[str]:
    return list(
        ChangeEvent.objects.filter(booking=booking).order_by("seq").values_list("kind", flat=True)
    )


def ics_field(ics: str, name: str) -> str:
    for line in ics.splitlines():
        if line.startswith(f"{name}:"):
            return line.split(":", 1)[1].strip()
    raise AssertionError(f"no {name} in {ics!r}")


def deadline_in_two_weeks(world: World) -> None:
    practices.set_calendar_rules(
        calendar=world.calendar,
        slot_minutes=15,
        horizon_days=28,
        lead_minutes=60,
        cancel_deadline_hours=24 * 14,
    )


# --------------------------------------------------------------------------- the service


def test_a_move_updates_the_booking_appends_moved_and_mails_a_newer_calendar_file(
    world: World,
) -> None:
    booking = book(world, bookable(time(9)))
    moved = move(world, booking, bookable(time(10, 30)))
    booking.refresh_from_db()
    assert (booking.start, booking.end) == (
        bookable(time(10, 30)),
        bookable(time(10, 45)),
    )
    assert moved.pk == booking.pk and booking.status == Booking.Status.ACTIVE
    assert kinds(booking) == ["booked", "moved"]
    [mail] = rendered("booking_moved")
    assert mail.to == world.patient.user.email
    assert ics_field(mail.ics, "UID") == f"booking-{booking.pk}@termin360"
    assert ics_field(mail.ics, "SEQUENCE") == "1"
    assert ics_field(mail.ics, "DTSTART;TZID=Europe/Berlin").startswith(
        f"{bookable(time(10, 30)):%Y%m%dT103000}"
    )
    [first] = rendered("booking_confirmed")
    assert ics_field(first.ics, "UID") == ics_field(mail.ics, "UID")

    move(world, booking, bookable(time(11)))
    second = rendered("booking_moved")[-1]
    assert ics_field(second.ics, "SEQUENCE") == "2"
    assert kinds(booking) == ["booked", "moved", "moved"]
    # The old times are free again.
    book(world, bookable(time(9)), patient=make_patient("eva@example.org", first="Eva"))


def test_a_repeated_move_to_the_same_time_changes_nothing(world: World) -> None:
    booking = book(world, bookable(time(9)))
    move(world, booking, bookable(time(10)))
    again = move(world, booking, bookable(time(10)))
    assert again.start == bookable(time(10))
    assert kinds(booking) == ["booked", "moved"]
    assert OutgoingEmail.objects.filter(kind="booking_moved").count() == 1


def test_a_time_taken_by_another_booking_is_refused_with_alternatives(world: World) -> None:
    other = make_patient("eva@example.org", first="Eva")
    taken = book(world, bookable(time(10)), patient=other)
    booking = book(world, bookable(time(9)))
    with pytest.raises(SlotGone) as exc:
        move(world, booking, bookable(time(10)))
    assert exc.value.code == "slot_taken"
    alternatives = [datetime.fromisoformat(a) for a in exc.value.details["alternatives"]]
    assert alternatives and alternatives[0] == bookable(time(10, 15))
    booking.refresh_from_db()
    assert booking.start == bookable(time(9)) and kinds(booking) == ["booked"]
    assert not OutgoingEmail.objects.filter(kind="booking_moved").exists()
    taken.refresh_from_db()
    assert taken.start == bookable(time(10)) and taken.patient_id == other.pk


def test_a_30_minute_visit_moving_half_onto_another_booking_is_refused(world: World) -> None:
    book(world, bookable(time(10, 15)), patient=make_patient("eva@example.org", first="Eva"))
    booking = book(world, bookable(time(8)), vt=world.first_visit)
    with pytest.raises(SlotGone):
        move(world, booking, bookable(time(10)))
    booking.refresh_from_db()
    assert booking.start == bookable(time(8))


def test_the_practices_busy_time_and_an_s9_hold_refuse_the_move(world: World) -> None:
    booking = book(world, bookable(time(9)))
    busy_at = bookable(time(10))
    BusyInterval.objects.create(
        calendar=world.calendar,
        day=busy_at.date(),
        start=busy_at,
        end=busy_at + timedelta(minutes=15),
    )
    held_at = bookable(time(11))
    claim = Claim.objects.create(
        practice=world.practice, key="c1", expires_at=timezone.now() + timedelta(minutes=2)
    )
    Hold.objects.create(
        claim=claim,
        calendar=world.calendar,
        day=held_at.date(),
        start=held_at,
        end=held_at + timedelta(minutes=15),
    )
    for start in (busy_at, held_at):
        with pytest.raises(SlotGone):
            move(world, booking, start)
    booking.refresh_from_db()
    assert booking.start == bookable(time(9)) and kinds(booking) == ["booked"]
    # An ended claim holds nothing.
    claim.ended_at = timezone.now()
    claim.save()
    assert move(world, booking, held_at).start == held_at


def test_a_booking_may_move_onto_part_of_its_own_time_the_practice_reports_busy(
    world: World,
) -> None:
    """Once placed, the practice's busy state holds the booking's own appointment; that
    must not keep a 30-minute visit from moving one slot later."""
    booking = book(world, bookable(time(9)), vt=world.first_visit)
    BusyInterval.objects.create(
        calendar=world.calendar,
        day=booking.start.date(),
        start=booking.start,
        end=booking.end,
    )
    moved = move(world, booking, bookable(time(9, 15)))
    assert (moved.start, moved.end) == (bookable(time(9, 15)), bookable(time(9, 45)))


def test_after_the_deadline_the_move_is_refused(world: World) -> None:
    booking = book(world, bookable(time(9)))
    deadline_in_two_weeks(world)
    with pytest.raises(Conflict) as exc:
        move(world, booking, bookable(time(10)))
    assert exc.value.code == "deadline_passed"
    booking.refresh_from_db()
    assert booking.start == bookable(time(9)) and kinds(booking) == ["booked"]
    assert reschedule.deadline_of(booking) == booking.start - timedelta(days=14)


def test_someone_elses_booking_is_not_found_and_a_cancelled_one_cannot_move(
    world: World,
) -> None:
    other = make_patient("eva@example.org", first="Eva")
    theirs = book(world, bookable(time(9)), patient=other)
    with pytest.raises(NotFound):
        move(world, theirs, bookable(time(10)))
    with pytest.raises(NotFound):
        reschedule.move_by_patient(patient=world.patient, booking_id=10**9, start=bookable())
    mine = book(world, bookable(time(11)))
    bookings.cancel_by_patient(patient=world.patient, booking_id=mine.pk)
    with pytest.raises(Conflict) as exc:
        move(world, mine, bookable(time(10)))
    assert exc.value.code == "already_cancelled"
    theirs.refresh_from_db()
    assert theirs.start == bookable(time(9))


@pytest.mark.parametrize(
    "start",
    [
        bookable(time(13)),  # outside the hours
        bookable(time(9, 5)),  # off the grid
        bookable(time(9)) + timedelta(days=60),  # beyond the horizon
    ],
)
def test_a_time_the_calendar_never_offers_is_invalid(world: World, start: datetime) -> None:
    booking = book(world, bookable(time(9)))
    with pytest.raises(InvalidInput) as exc:
        move(world, booking, start)
    assert exc.value.code == "not_bookable"
    booking.refresh_from_db()
    assert booking.start == bookable(time(9))


def test_an_unpublished_calendar_offers_no_time_to_move_to(world: World) -> None:
    booking = book(world, bookable(time(9)))
    world.calendar.published = False
    world.calendar.save()
    with pytest.raises(InvalidInput) as exc:
        move(world, booking, bookable(time(10)))
    assert exc.value.code == "not_bookable"


# --------------------------------------------------------------------------- the page


def _page(booking: Booking, **query: str) -> str:
    from urllib.parse import urlencode

    url = reverse("portal:reschedule", args=[booking.pk])
    return f"{url}?{urlencode(query)}" if query else url


def test_the_page_needs_login_and_shows_only_ones_own_active_booking(
    client: Any, world: World
) -> None:
    mine = book(world, bookable(time(9)))
    r = client.get(_page(mine))
    assert r.status_code == 302 and r["Location"].startswith(reverse("portal:login"))
    other = make_patient("eva@example.org", first="Eva")
    theirs = book(world, bookable(time(10)), patient=other)
    client.force_login(world.patient.user)
    assert client.get(_page(theirs)).status_code == 404
    assert client.post(_page(theirs), {"start": bookable(time(11)).isoformat()}).status_code == 404
    cancelled = book(world, bookable(time(11, 30)))
    bookings.cancel_by_patient(patient=world.patient, booking_id=cancelled.pk)
    assert client.get(_page(cancelled)).status_code == 404
    theirs.refresh_from_db()
    assert theirs.start == bookable(time(10))


def test_the_page_shows_the_booking_its_deadline_and_a_week_of_free_times(
    client: Any, world: World
) -> None:
    booking = book(world, bookable(time(9)))
    book(world, bookable(time(10)), patient=make_patient("eva@example.org", first="Eva"))
    client.force_login(world.patient.user)
    monday = bookable(time(9), weekday=0).date()
    r = client.get(_page(booking, **{"from": monday.isoformat()}))
    assert r.status_code == 200
    assert r.context["deadline_passed"] is False
    deadline = (booking.start - timedelta(hours=24)).astimezone(BERLIN)
    assert f"{deadline:%d.%m.}, {deadline:%H:%M}" in r.context["deadline"]
    page = r.content.decode()
    assert f"{deadline:%d.%m.}, {deadline:%H:%M}" in page
    tuesday = r.context["days"][1]
    times = [s["time"] for s in tuesday["slots"]]
    # Neither its own time nor the other booking's; the rest of the morning.
    assert "09:00" not in times and "10:00" not in times
    assert times[:3] == ["08:00", "08:15", "08:30"] and len(times) == 14
    later = tuesday["slots"][2]["url"]
    assert later.startswith(_page(booking)) and "start=" in later
    assert r.context["next_url"] and r.context["prev_url"]


def test_choosing_a_time_confirming_and_moving(client: Any, world: World) -> None:
    booking = book(world, bookable(time(9)))
    client.force_login(world.patient.user)
    new = bookable(time(11, 15))
    r = client.get(_page(booking, start=new.isoformat()))
    assert r.status_code == 200
    assert r.templates[0].name == "portal/patients/reschedule_confirm.html"
    page = r.content.decode()
    assert 'name="csrfmiddlewaretoken"' in page and f'value="{new.isoformat()}"' in page
    booking.refresh_from_db()
    assert booking.start == bookable(time(9))  # only looked

    r = client.post(_page(booking), {"start": new.isoformat()})
    assert r.status_code == 302 and r["Location"] == reverse("portal:my-bookings")
    booking.refresh_from_db()
    assert booking.start == new and kinds(booking) == ["booked", "moved"]
    r = client.get(reverse("portal:my-bookings"))
    assert [m.level_tag for m in r.context["messages"]] == ["success"]


def test_a_time_taken_meanwhile_answers_409_with_alternatives_as_links(
    client: Any, world: World
) -> None:
    booking = book(world, bookable(time(9)))
    wanted = bookable(time(10))
    client.force_login(world.patient.user)
    assert client.get(_page(booking, start=wanted.isoformat())).status_code == 200
    book(world, wanted, patient=make_patient("eva@example.org", first="Eva"))
    r = client.post(_page(booking), {"start": wanted.isoformat()})
    assert r.status_code == 409
    assert r.context["taken"] is True
    links = [a["url"] for a in r.context["alternatives"]]
    assert links and all(u.startswith(_page(booking) + "?start=") for u in links)
    assert links[0] in r.content.decode().replace("&amp;", "&")
    booking.refresh_from_db()
    assert booking.start == bookable(time(9))
    # The confirmation of a taken time says so at once, with other times.
    r = client.get(_page(booking, start=wanted.isoformat()))
    assert r.status_code == 200 and r.context["taken"] and r.context["alternatives"]


def test_after_the_deadline_the_page_says_so_with_the_practices_phone(
    client: Any, world: World
) -> None:
    booking = book(world, bookable(time(9)))
    deadline_in_two_weeks(world)
    world.practice.phone = "07251 98765"
    world.practice.save()
    client.force_login(world.patient.user)
    r = client.get(_page(booking))
    assert r.status_code == 200 and r.context["deadline_passed"] is True
    assert "days" not in r.context  # no times to choose
    assert 'href="tel:07251 98765"' in r.content.decode()
    r = client.post(_page(booking), {"start": bookable(time(10)).isoformat()})
    assert r.status_code == 409 and "07251 98765" in r.content.decode()
    booking.refresh_from_db()
    assert booking.start == bookable(time(9))


def test_a_post_of_a_time_never_offered_is_422_and_garbage_404(client: Any, world: World) -> None:
    booking = book(world, bookable(time(9)))
    client.force_login(world.patient.user)
    r = client.post(_page(booking), {"start": bookable(time(13)).isoformat()})
    assert r.status_code == 422 and r.context["error"]
    assert client.post(_page(booking), {"start": "tomorrow"}).status_code == 404
    assert client.post(_page(booking), {}).status_code == 404


# --------------------------------------------------------------------------- the API


def _move_api(api: Any, booking: Booking, start: Any) -> Any:
    body = {"start": start.isoformat() if isinstance(start, datetime) else start}
    return api.post(f"/bookings/{booking.pk}/move", body)


def test_api_move_answers_the_moved_booking(world: World) -> None:
    me = patient_api(world.patient)
    booking = book(world, bookable(time(9)))
    r = _move_api(me, booking, bookable(time(11)).astimezone(ZoneInfo("UTC")))
    assert r.status_code == 200, r.content
    body = r.json()
    assert body["id"] == booking.pk and body["status"] == "active"
    assert datetime.fromisoformat(body["start"]) == bookable(time(11))
    assert body["start"].endswith(("+01:00", "+02:00"))  # the practice's local time
    assert datetime.fromisoformat(body["end"]) == bookable(time(11, 15))
    assert datetime.fromisoformat(body["cancellable_until"]) == bookable(time(11)) - timedelta(
        hours=24
    )
    again = _move_api(me, booking, bookable(time(11)))
    assert again.status_code == 200 and again.json() == body
    assert kinds(booking) == ["booked", "moved"]


def test_api_move_refusals(world: World) -> None:
    me = patient_api(world.patient)
    other = make_patient("eva@example.org", first="Eva")
    theirs = book(world, bookable(time(10)), patient=other)
    booking = book(world, bookable(time(9)))

    body = assert_error(_move_api(me, booking, bookable(time(10))), 409, "slot_taken")
    assert datetime.fromisoformat(body["alternatives"][0]) == bookable(time(10, 15))
    assert_error(_move_api(me, theirs, bookable(time(11))), 404, "not_found")
    assert_error(
        me.post("/bookings/999999999/move", {"start": bookable().isoformat()}), 404, "not_found"
    )
    assert_error(_move_api(me, booking, bookable(time(13))), 422, "not_bookable")
    assert_error(_move_api(me, booking, "2030-01-07T09:00:00"), 422, "invalid")  # no offset
    assert_error(me.post(f"/bookings/{booking.pk}/move", {}), 422, "invalid")
    assert_error(_move_api(me, booking, "9999-01-07T09:00:00+01:00"), 422, "invalid")

    cancelled = book(world, bookable(time(11, 30)))
    bookings.cancel_by_patient(patient=world.patient, booking_id=cancelled.pk)
    assert_error(_move_api(me, cancelled, bookable(time(11))), 409, "already_cancelled")
    deadline_in_two_weeks(world)
    assert_error(_move_api(me, booking, bookable(time(11))), 409, "deadline_passed")

    booking.refresh_from_db()
    theirs.refresh_from_db()
    assert booking.start == bookable(time(9)) and theirs.start == bookable(time(10))
    assert not ChangeEvent.objects.filter(kind="moved").exists()


def test_api_move_needs_a_patient(client: Any, world: World) -> None:
    booking = book(world, bookable(time(9)))
    r = client.post(
        f"/api/v1/bookings/{booking.pk}/move",
        {"start": bookable(time(10)).isoformat()},
        content_type="application/json",
    )
    assert r.status_code == 401


def test_the_openapi_document_declares_the_move(client: Any, world: World) -> None:
    doc = client.get("/api/v1/openapi.json").json()
    op = doc["paths"]["/api/v1/bookings/{booking_id}/move"]["post"]
    assert set(op["responses"]) >= {"200", "404", "409", "422"}
    conflict = str(op["responses"]["409"])
    assert "SlotTakenOut" in conflict and "ErrorOut" in conflict
    body = op["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    assert body.endswith("/BookingMoveIn")


# --------------------------------------------------------------------------- the race

CROWD = 20


def test_a_crowd_moving_onto_one_free_time_at_once_gives_it_to_exactly_one(
    portal_server: Server,
) -> None:
    """Against a real ``portal serve``: every patient has a booking; all move onto the
    same free time at the same moment. One gets 200, the rest 409 ``slot_taken`` and
    keep their old time; one ``moved`` event."""
    world = build_world()
    patients = _patients(CROWD)
    monday = bookable(time(8), weekday=0)
    olds = {}
    for i, p in enumerate(patients):
        day, slot = divmod(i, 16)
        start = monday + timedelta(days=day, minutes=15 * slot)
        olds[book(world, start, patient=p).pk] = start
    target = bookable(time(9), weekday=3)
    with ThreadPoolExecutor(max_workers=8) as pool:
        clients = list(pool.map(lambda p: _client(portal_server, p.user.email), patients))
    try:
        ids = [
            Booking.objects.get(patient=p).pk
            for p in patients  # in the clients' order
        ]

        def call(c: httpx.Client, booking_id: int) -> Any:
            return lambda: c.post(
                f"/bookings/{booking_id}/move", json={"start": target.isoformat()}
            )

        responses = race([call(c, b) for c, b in zip(clients, ids, strict=True)], wait=60)
    finally:
        for c in clients:
            c.close()
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] + [409] * (CROWD - 1), [
        (r.status_code, r.text[:200]) for r in responses if r.status_code != 409
    ]
    assert all(r.json()["code"] == "slot_taken" for r in responses if r.status_code == 409)
    [winner] = [r.json() for r in responses if r.status_code == 200]
    assert datetime.fromisoformat(winner["start"]) == target
    for booking in Booking.objects.filter(calendar=world.calendar):
        assert booking.status == Booking.Status.ACTIVE
        expected = target if booking.pk == winner["id"] else olds[booking.pk]
        assert booking.start == expected, booking.pk
    assert list(ChangeEvent.objects.filter(kind="moved").values_list("booking_id", flat=True)) == [
        winner["id"]
    ]
    assert Booking.objects.filter(calendar=world.calendar, start=target).count() == 1
    log = portal_server.log.read_text(errors="replace")
    assert "Traceback" not in log, log
