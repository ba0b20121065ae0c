"""S10 on the portal: the practice cancels or moves an online booking in its calendar;
the connector reports it through the sync API; the booking follows, the patient gets a
mail and the feed an event. Repeats are harmless; a move onto another online booking is
refused with ``slot_taken``."""

from __future__ import annotations

from datetime import time, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone
from icalendar import Calendar

from termin360.core.errors import Conflict, NotFound
from termin360.portal.models import Booking, ChangeEvent, OutgoingEmail
from termin360.portal.services import bookings
from termin360.portal.services.bookings import SlotGone
from tests.conftest import assert_error
from tests.portal.conftest import World, build_world, make_patient, rendered
from tests.portal.sync_support import book, connector, iso
from tests.portal.test_api_bookings import bookable

BERLIN = ZoneInfo("Europe/Berlin")


def kinds(booking: Booking) -> list[str]:
    return list(
        ChangeEvent.objects.filter(booking=booking).order_by("seq").values_list("kind", flat=True)
    )


def mails(kind: str) -> list[OutgoingEmail]:
    return rendered(kind)


# --------------------------------------------------------------------------- cancel


def test_s10_cancel_through_the_sync_api_cancels_mails_and_feeds(world: World) -> None:
    booking = book(world, time(9))
    r = connector(world).post(
        f"/bookings/{booking.pk}/cancel", {"reason": "Termin in der Praxis gelöscht"}, key="c-1"
    )
    assert r.status_code == 200, r.content
    state = r.json()
    assert (state["booking_id"], state["status"], state["cancelled_by"]) == (
        booking.pk,
        "cancelled",
        "practice",
    )
    booking.refresh_from_db()
    assert booking.status == "cancelled" and booking.cancel_reason.startswith("Termin in")
    assert kinds(booking) == ["booked", "cancelled"]
    [m] = mails("practice_cancelled")
    assert m.to == world.patient.user.email
    assert Calendar.from_ical(m.ics)["METHOD"] == "CANCEL"


def test_s10_cancel_needs_no_reason_and_a_repeat_answers_200_with_the_state(
    world: World,
) -> None:
    api = connector(world)
    booking = book(world, time(9))
    first = api.post(f"/bookings/{booking.pk}/cancel", {})
    again = api.post(f"/bookings/{booking.pk}/cancel", {})  # no key: still harmless
    assert first.status_code == again.status_code == 200
    assert again.json() == first.json()
    assert kinds(booking) == ["booked", "cancelled"]
    assert len(mails("practice_cancelled")) == 1


def test_the_practice_pages_still_refuse_a_second_cancel(world: World) -> None:
    booking = book(world, time(9))
    bookings.cancel_by_practice(practice_id=world.practice.pk, booking_id=booking.pk, reason="x")
    with pytest.raises(Conflict) as exc:
        bookings.cancel_by_practice(
            practice_id=world.practice.pk, booking_id=booking.pk, reason="x"
        )
    assert exc.value.code == "already_cancelled"


def test_cancel_of_an_unknown_booking_is_404(world: World) -> None:
    assert_error(connector(world).post("/bookings/999999/cancel", {}), 404, "not_found")


# --------------------------------------------------------------------------- move


def test_s10_move_moves_the_booking_tells_the_patient_and_feeds_an_event(
    world: World,
) -> None:
    booking = book(world, time(9))
    new_start = bookable(time(10, 30))
    r = connector(world).post(
        f"/bookings/{booking.pk}/move",
        {"start": iso(new_start), "end": iso(new_start + timedelta(minutes=15))},
        key=f"move-{booking.pk}-{new_start.isoformat()}",
    )
    assert r.status_code == 200, r.content
    state = r.json()
    assert state["status"] == "active"
    booking.refresh_from_db()
    assert booking.start == new_start and booking.end == new_start + timedelta(minutes=15)
    assert kinds(booking) == ["booked", "moved"]
    moved = ChangeEvent.objects.get(booking=booking, kind="moved")
    assert moved.payload["start"] == state["start"]
    [m] = mails("practice_moved")
    assert m.to == world.patient.user.email
    assert "Praxis Berger" in m.subject
    assert "10:30" in m.subject and "10:30" in m.body
    assert "09:00" in m.body  # the old time is named
    cal = Calendar.from_ical(m.ics)
    assert cal["METHOD"] == "PUBLISH"
    [event] = cal.walk("VEVENT")
    assert event["UID"] == f"booking-{booking.pk}@termin360"
    assert event["SEQUENCE"] == 1  # outranks the confirmation's 0
    assert event.decoded("DTSTART").astimezone(BERLIN) == new_start


def test_a_cancellation_after_a_move_outranks_the_move_in_the_calendar_file(
    world: World,
) -> None:
    booking = book(world, time(9))
    start = bookable(time(11))
    bookings.move_by_practice(
        practice_id=world.practice.pk,
        booking_id=booking.pk,
        start=start,
        end=start + timedelta(minutes=15),
    )
    bookings.cancel_from_practice_calendar(
        practice_id=world.practice.pk, booking_id=booking.pk, reason=""
    )
    [m] = mails("practice_cancelled")
    assert Calendar.from_ical(m.ics).walk("VEVENT")[0]["SEQUENCE"] == 2


def test_s10_move_onto_another_online_booking_is_409_slot_taken(world: World) -> None:
    mine = book(world, time(9))
    other = book(world, time(10), patient=make_patient("zweite@example.org", last="Schmidt"))
    start = bookable(time(9, 45))  # 09:45–10:15 overlaps 10:00–10:15
    r = connector(world).post(
        f"/bookings/{mine.pk}/move",
        {"start": iso(start), "end": iso(start + timedelta(minutes=30))},
    )
    assert_error(r, 409, "slot_taken")
    mine.refresh_from_db()
    assert mine.start == bookable(time(9))
    assert kinds(mine) == ["booked"] and not mails("practice_moved")
    # Right after the other booking is fine (half-open intervals), and so is a time the
    # online calendar itself never offers: the practice calendar is the master.
    ok = bookable(time(10, 15))
    assert (
        connector(world)
        .post(
            f"/bookings/{mine.pk}/move",
            {"start": iso(ok), "end": iso(ok + timedelta(minutes=15))},
        )
        .status_code
        == 200
    )
    evening = bookable(time(19))
    assert (
        connector(world)
        .post(
            f"/bookings/{mine.pk}/move",
            {"start": iso(evening), "end": iso(evening + timedelta(minutes=15))},
        )
        .status_code
        == 200
    )
    del other


def test_a_move_to_where_the_booking_is_changes_nothing(world: World) -> None:
    booking = book(world, time(9))
    same = bookings.move_by_practice(
        practice_id=world.practice.pk, booking_id=booking.pk, start=booking.start, end=booking.end
    )
    assert same.start == booking.start
    assert kinds(booking) == ["booked"] and not mails("practice_moved")


def test_a_cancelled_booking_cannot_be_moved(world: World) -> None:
    booking = book(world, time(9))
    bookings.cancel_by_patient(patient=world.patient, booking_id=booking.pk)
    start = bookable(time(11))
    with pytest.raises(Conflict) as exc:
        bookings.move_by_practice(
            practice_id=world.practice.pk,
            booking_id=booking.pk,
            start=start,
            end=start + timedelta(minutes=15),
        )
    assert exc.value.code == "already_cancelled"


def test_a_move_resets_the_reminder_for_the_new_time(world: World) -> None:
    booking = book(world, time(9))
    Booking.objects.filter(pk=booking.pk).update(reminder_sent_at=timezone.now())
    start = bookable(time(11), weekday=2)
    bookings.move_by_practice(
        practice_id=world.practice.pk,
        booking_id=booking.pk,
        start=start,
        end=start + timedelta(minutes=15),
    )
    booking.refresh_from_db()
    assert booking.reminder_sent_at is None


def test_absurd_move_durations_are_refused(world: World) -> None:
    booking = book(world, time(9))
    start = bookable(time(8))
    r = connector(world).post(
        f"/bookings/{booking.pk}/move",
        {"start": iso(start), "end": iso(start + timedelta(hours=13))},
    )
    assert_error(r, 422, "bad_duration")
    r = connector(world).post(
        f"/bookings/{booking.pk}/move", {"start": iso(start), "end": iso(start)}
    )
    assert_error(r, 422, "invalid")


def test_another_practices_booking_is_not_found_by_the_service(world: World) -> None:
    other = build_world("Praxis Zwei", "admin@zwei.de")
    theirs = book(other, time(9), patient=other.patient)
    start = bookable(time(11))
    with pytest.raises(NotFound):
        bookings.move_by_practice(
            practice_id=world.practice.pk,
            booking_id=theirs.pk,
            start=start,
            end=start + timedelta(minutes=15),
        )
    with pytest.raises(NotFound):
        bookings.cancel_from_practice_calendar(
            practice_id=world.practice.pk, booking_id=theirs.pk, reason=""
        )


@pytest.mark.postgres_only
def test_the_exclusion_constraint_refuses_a_move_the_check_missed(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Even if the Python check did not see the other booking, PostgreSQL refuses the
    overlap — and the caller gets the same ``slot_taken``."""
    mine = book(world, time(9))
    book(world, time(10), patient=make_patient("zweite@example.org", last="Schmidt"))
    real_filter = Booking.objects.filter

    class Blind:
        def exclude(self, **kwargs: object) -> Blind:
            return self

        def exists(self) -> bool:
            return False

    def filter_(*args: object, **kwargs: object) -> object:
        if "end__gt" in kwargs and "calendar_id" in kwargs:
            return Blind()
        return real_filter(*args, **kwargs)

    monkeypatch.setattr(Booking.objects, "filter", filter_)
    start = bookable(time(10))
    with pytest.raises(SlotGone):
        bookings.move_by_practice(
            practice_id=world.practice.pk,
            booking_id=mine.pk,
            start=start,
            end=start + timedelta(minutes=15),
        )
    monkeypatch.undo()
    mine.refresh_from_db()
    assert mine.start == bookable(time(9))
