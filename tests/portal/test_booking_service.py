"""The booking service (P4): a booking, its feed event and its e-mail commit together;
feed numbers are gap-free per practice; every refusal says why; the database itself
refuses overlapping active bookings (PostgreSQL)."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any

import pytest
from django.db import IntegrityError, transaction

from termin360.core.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from termin360.portal.models import Booking, BusyInterval, ChangeEvent, OutgoingEmail
from termin360.portal.services import bookings, practices
from termin360.portal.services.bookings import SlotGone
from tests.portal.conftest import World, build_world, make_patient
from tests.portal.test_api_bookings import bookable, weekday_at


def book(world: World, start: datetime, patient: Any = None, vt: Any = None) -> Booking:
    return bookings.book(
        patient=patient or world.patient,
        calendar_id=world.calendar.pk,
        visit_type_id=(vt or world.checkup).pk,
        start=start,
    )


def seqs(world: World) -> list[int]:
    return list(
        ChangeEvent.objects.filter(practice=world.practice)
        .order_by("seq")
        .values_list("seq", flat=True)
    )


def test_a_booking_comes_with_its_feed_event_and_its_email(world: World) -> None:
    b = book(world, bookable())
    assert b.status == Booking.Status.ACTIVE
    assert (b.end - b.start) == timedelta(minutes=15)
    assert (b.patient_last_name, b.patient_email) == ("Müller", world.patient.user.email)
    [event] = ChangeEvent.objects.filter(practice=world.practice)
    assert (event.seq, event.kind, event.booking_id) == (1, "booked", b.pk)
    assert event.payload["booking_id"] == b.pk
    assert event.payload["patient"]["last_name"] == "Müller"
    world.practice.refresh_from_db()
    assert world.practice.feed_seq == 1
    assert OutgoingEmail.objects.filter(
        to=world.patient.user.email, kind="booking_confirmed"
    ).exists()


def test_a_failure_after_the_insert_leaves_no_trace(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(booking: Booking) -> None:
        raise RuntimeError("mail queue down")

    monkeypatch.setattr(bookings.mail, "booking_confirmed", broken)
    mails = OutgoingEmail.objects.count()
    with pytest.raises(RuntimeError):
        book(world, bookable())
    assert not Booking.objects.exists()
    assert not ChangeEvent.objects.exists()
    assert OutgoingEmail.objects.count() == mails
    world.practice.refresh_from_db()
    assert world.practice.feed_seq == 0


def test_feed_numbers_increase_without_gaps_per_practice(world: World) -> None:
    other = build_world("Praxis Zwei", "admin@zwei.de")
    a1 = book(world, bookable(time(8)))
    book(other, bookable(time(8)), patient=other.patient)
    a2 = book(world, bookable(time(9)))
    with pytest.raises(SlotGone):  # a refusal takes no number
        book(world, bookable(time(9)))
    bookings.cancel_by_patient(patient=world.patient, booking_id=a1.pk)
    bookings.cancel_by_practice(practice_id=world.practice.pk, booking_id=a2.pk, reason="krank")
    book(other, bookable(time(10)), patient=other.patient)
    assert seqs(world) == [1, 2, 3, 4]
    assert seqs(other) == [1, 2]
    kinds = list(
        ChangeEvent.objects.filter(practice=world.practice).order_by("seq").values_list("kind")
    )
    assert kinds == [("booked",), ("booked",), ("cancelled",), ("cancelled",)]


def test_a_taken_slot_is_refused_with_alternatives(world: World) -> None:
    start = bookable()
    book(world, start)
    with pytest.raises(SlotGone) as exc:
        book(world, start, patient=make_patient("b@example.org"))
    assert exc.value.code == "slot_taken" and exc.value.status == 409
    alternatives = [datetime.fromisoformat(a) for a in exc.value.details["alternatives"]]
    assert alternatives == [start + timedelta(minutes=15 * k) for k in (1, 2, 3)]


def test_a_30_minute_visit_over_a_booked_15_minute_one_is_refused(world: World) -> None:
    book(world, bookable(time(9, 15)))
    with pytest.raises(SlotGone):
        book(world, bookable(time(9)), make_patient("b@example.org"), vt=world.first_visit)


@pytest.mark.parametrize(
    "start",
    [
        bookable(time(7, 45)),
        bookable(time(12)),
        bookable(time(9, 5)),
        bookable(time(9), weekday=6),
        weekday_at(5, 1, time(9)),
    ],
    ids=["before-hours", "after-hours", "off-grid", "sunday", "beyond-horizon"],
)
def test_a_time_outside_the_offer_is_refused(world: World, start: datetime) -> None:
    with pytest.raises(InvalidInput) as exc:
        book(world, start)
    assert exc.value.code == "not_bookable"


def test_within_the_lead_time_is_refused(world: World) -> None:
    practices.set_calendar_rules(
        calendar=world.calendar,
        slot_minutes=15,
        horizon_days=28,
        lead_minutes=60 * 24 * 14,
        cancel_deadline_hours=24,
    )
    with pytest.raises(InvalidInput) as exc:
        book(world, bookable())
    assert exc.value.code == "not_bookable"
    book(world, weekday_at(3, 1, time(9)))  # three weeks ahead is fine


def test_an_absence_day_is_refused(world: World) -> None:
    day = bookable().date()
    practices.add_absence(calendar=world.calendar, first_day=day, last_day=day, reason="Urlaub")
    with pytest.raises(SlotGone):
        book(world, bookable())
    book(world, bookable() + timedelta(days=1))


def test_a_busy_interval_of_the_practice_is_refused(world: World) -> None:
    start = bookable()
    BusyInterval.objects.create(
        calendar=world.calendar,
        day=start.date(),
        start=start + timedelta(minutes=10),
        end=start + timedelta(minutes=40),
    )
    for at in (time(9), time(9, 15), time(9, 30)):
        with pytest.raises(SlotGone):
            book(world, bookable(at))
    book(world, bookable(time(9, 45)))
    with pytest.raises(SlotGone):
        book(world, bookable(time(8, 45)), vt=world.first_visit)


def test_visit_type_insurance_rule(world: World) -> None:
    world.checkup.insurances = "pkv,self"
    world.checkup.save()
    with pytest.raises(InvalidInput) as exc:
        book(world, bookable())
    assert exc.value.code == "insurance"
    book(world, bookable(), patient=make_patient("privat@example.org", insurance="pkv"))


def test_visit_type_new_and_existing_patient_rules(world: World) -> None:
    world.first_visit.existing_patients = False
    world.first_visit.save()
    world.checkup.new_patients = False
    world.checkup.save()
    with pytest.raises(InvalidInput) as exc:
        book(world, bookable())  # a new patient cannot book a check-up
    assert exc.value.code == "existing_only"
    book(world, bookable(), vt=world.first_visit)
    with pytest.raises(InvalidInput) as exc:
        book(world, bookable(time(10)), vt=world.first_visit)  # now known to the practice
    assert exc.value.code == "new_only"
    book(world, bookable(time(10)))


def test_an_unconfirmed_patient_cannot_book(world: World) -> None:
    with pytest.raises(PermissionDenied) as exc:
        book(world, bookable(), patient=make_patient("neu@example.org", confirmed=False))
    assert exc.value.code == "unconfirmed"
    assert not Booking.objects.exists()


def test_unknown_or_unpublished_calendar_and_foreign_visit_type(world: World) -> None:
    other = build_world("Praxis Zwei", "admin@zwei.de")
    with pytest.raises(NotFound):
        bookings.book(
            patient=world.patient,
            calendar_id=world.calendar.pk,
            visit_type_id=other.checkup.pk,
            start=bookable(),
        )
    practices.publish(calendar=world.calendar, published=False)
    with pytest.raises(NotFound):
        book(world, bookable())


def test_the_patient_cancels_before_the_deadline_not_after(world: World) -> None:
    b = book(world, bookable())
    cancelled = bookings.cancel_by_patient(patient=world.patient, booking_id=b.pk)
    assert cancelled.status == Booking.Status.CANCELLED
    assert cancelled.cancelled_by == Booking.CancelledBy.PATIENT
    assert OutgoingEmail.objects.filter(kind="booking_cancelled").count() == 1
    with pytest.raises(Conflict) as exc:
        bookings.cancel_by_patient(patient=world.patient, booking_id=b.pk)
    assert exc.value.code == "already_cancelled"

    practices.set_calendar_rules(
        calendar=world.calendar,
        slot_minutes=15,
        horizon_days=28,
        lead_minutes=60,
        cancel_deadline_hours=24 * 14,
    )
    late = book(world, bookable(time(10)))
    with pytest.raises(Conflict) as exc:
        bookings.cancel_by_patient(patient=world.patient, booking_id=late.pk)
    assert exc.value.code == "deadline_passed"
    late.refresh_from_db()
    assert late.status == Booking.Status.ACTIVE


def test_the_practice_cancels_only_with_a_reason(world: World) -> None:
    b = book(world, bookable())
    with pytest.raises(InvalidInput) as exc:
        bookings.cancel_by_practice(practice_id=world.practice.pk, booking_id=b.pk, reason="  ")
    assert exc.value.code == "reason_missing"
    done = bookings.cancel_by_practice(
        practice_id=world.practice.pk, booking_id=b.pk, reason="Praxis geschlossen"
    )
    assert (done.status, done.cancelled_by) == ("cancelled", "practice")
    assert done.cancel_reason == "Praxis geschlossen"
    assert OutgoingEmail.objects.filter(kind="practice_cancelled").count() == 1
    event = ChangeEvent.objects.get(practice=world.practice, seq=2)
    assert event.kind == "cancelled" and event.payload["cancelled_by"] == "practice"


def test_a_cancelled_booking_frees_the_slot(world: World) -> None:
    start = bookable()
    b = book(world, start)
    bookings.cancel_by_patient(patient=world.patient, booking_id=b.pk)
    again = book(world, start, patient=make_patient("b@example.org"), vt=world.first_visit)
    assert again.start == start


# --------------------------------------------------------------------------- the database


def _raw_booking(world: World, start: datetime, minutes: int, **extra: Any) -> Booking:
    return Booking.objects.create(
        calendar=world.calendar,
        patient=world.patient,
        visit_type=world.checkup,
        start=start,
        end=start + timedelta(minutes=minutes),
        patient_last_name="Müller",
        patient_first_name="Hans",
        **extra,
    )


@pytest.mark.postgres_only
def test_the_database_refuses_overlapping_active_bookings(world: World) -> None:
    start = bookable()
    _raw_booking(world, start, 30)
    with pytest.raises(IntegrityError), transaction.atomic():
        _raw_booking(world, start + timedelta(minutes=15), 15)
    with pytest.raises(IntegrityError), transaction.atomic():
        _raw_booking(world, start - timedelta(minutes=5), 10)
    # touching is not overlapping ([start, end) ranges); a cancelled one may overlap
    _raw_booking(world, start + timedelta(minutes=30), 15)
    _raw_booking(world, start, 15, status=Booking.Status.CANCELLED)
    # and another calendar is another matter
    other = build_world("Praxis Zwei", "admin@zwei.de")
    _raw_booking(other, start, 30)
    # re-activating a cancelled overlapping booking is refused as well
    cancelled = Booking.objects.get(calendar=world.calendar, status="cancelled")
    with pytest.raises(IntegrityError), transaction.atomic():
        Booking.objects.filter(pk=cancelled.pk).update(status=Booking.Status.ACTIVE)
    assert Booking.objects.filter(calendar=world.calendar, status="active").count() == 2
