"""Every write that changes what an online calendar offers bumps the calendar's version in
its own transaction (portal migration 0010, decision 021) — through the services that make
these writes, whichever they are — and writes that change nothing of it leave it alone."""

from __future__ import annotations

from collections.abc import Callable
from datetime import time, timedelta
from typing import Any

import pytest
from django.db import connection, transaction
from django.utils import timezone

from termin360.portal.models import Booking, Claim, Doctor, OnlineCalendar, VisitType
from termin360.portal.services import (
    availability_cache,
    bookings,
    practices,
    reschedule,
    sync,
    sync_claims,
    verification,
)
from termin360.portal.services import practice_setup_extra as extra
from termin360.protocol.messages import BusyDay, ClaimDay, TimeRange
from termin360.protocol.messages import Claim as ClaimMessage
from tests.portal.conftest import World, build_world
from tests.portal.sync_support import book
from tests.portal.test_api_bookings import bookable


def version(calendar_id: int) -> int | None:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT version FROM portal_availability_version WHERE calendar_id = %s",
            [calendar_id],
        )
        row = cursor.fetchone()
    return None if row is None else int(row[0])


def _busy(world: World, *, bookable_slots: bool = False, settles: list[str] | None = None) -> None:
    day = bookable().date()
    sync.replace_busy(
        practice=world.practice,
        days=[
            BusyDay(
                online_calendar_id=world.calendar.pk,
                day=day,
                intervals=[TimeRange(start=bookable(time(10)), end=bookable(time(11)))],
                settles=settles or [],
                bookable=[TimeRange(start=bookable(time(10)), end=bookable(time(10, 15)))]
                if bookable_slots
                else None,
            )
        ],
    )


def _claim(world: World, key: str = "claim-0001") -> None:
    sync_claims.claim_time(
        practice=world.practice,
        claim=ClaimMessage(
            claim_id=key,
            days=[
                ClaimDay(
                    online_calendar_id=world.calendar.pk,
                    day=bookable().date(),
                    intervals=[TimeRange(start=bookable(time(11)), end=bookable(time(11, 15)))],
                )
            ],
            after_seq=0,
        ),
    )


def _booking() -> Booking:
    return Booking.objects.get(status=Booking.Status.ACTIVE)


def _doctor_to_another_practice(world: World) -> None:
    other = build_world("Praxis Zwei", "admin@zwei.de")
    Doctor.objects.filter(pk=world.doctor.pk).update(practice=other.practice)


CHANGES: dict[str, Callable[[World], Any]] = {
    "a booking": book,
    "a cancellation": lambda w: bookings.cancel_by_patient(
        patient=w.patient, booking_id=_booking().pk
    ),
    "a move by the patient": lambda w: reschedule.move_by_patient(
        patient=w.patient, booking_id=_booking().pk, start=bookable(time(10))
    ),
    "a move by the practice (S10)": lambda w: bookings.move_by_practice(
        practice_id=w.practice.pk,
        booking_id=_booking().pk,
        start=bookable(time(10)),
        end=bookable(time(10, 15)),
    ),
    "the practice's busy time (S8)": _busy,
    "the practice's bookable slots (S14)": lambda w: _busy(w, bookable_slots=True),
    "a claim's hold (S9)": _claim,
    "a claim released": lambda w: sync_claims.release_claim(practice=w.practice, key="claim-0001"),
    "a claim settled by the busy state": lambda w: _busy(w, settles=["claim-0001"]),
    "a claim's lease": lambda w: Claim.objects.filter(practice=w.practice).update(
        expires_at=timezone.now() + timedelta(minutes=5)
    ),
    "an absence": lambda w: practices.add_absence(
        calendar=w.calendar, first_day=bookable().date(), last_day=bookable().date(), reason=""
    ),
    "an absence removed": lambda w: extra.remove_absence(
        practice=w.practice, absence_id=w.calendar.absences.get().pk
    ),
    "weekly hours": lambda w: practices.set_weekly_hours(
        calendar=w.calendar, hours=[(d, time(8), time(13)) for d in range(5)]
    ),
    "a new visit type": lambda w: practices.add_visit_type(
        calendar=w.calendar, name="Impfung", duration_minutes=10
    ),
    "a visit type switched off": lambda w: extra.set_visit_type_active(
        practice=w.practice, visit_type_id=w.first_visit.pk, active=False
    ),
    "a visit type's insurances": lambda w: VisitType.objects.filter(pk=w.checkup.pk).update(
        insurances="pkv"
    ),
    "the calendar's rules": lambda w: practices.set_calendar_rules(
        calendar=w.calendar,
        slot_minutes=20,
        horizon_days=28,
        lead_minutes=60,
        cancel_deadline_hours=24,
    ),
    "the calendar's source of hours (S14)": lambda w: extra.set_hours_source(
        calendar=w.calendar, source=OnlineCalendar.HoursSource.PRACTICE
    ),
    "the calendar unpublished": lambda w: practices.publish(calendar=w.calendar, published=False),
    "the practice suspended (P10)": lambda w: verification.suspend(
        practice=w.practice, note="Praxisnummer unbekannt"
    ),
    "the practice's time zone": lambda w: (
        type(w.practice).objects.filter(pk=w.practice.pk).update(time_zone="Europe/Vienna")
    ),
    "the doctor moved to another practice": _doctor_to_another_practice,
}
# Writes whose precondition another change makes first.
PREPARE: dict[str, Callable[[World], Any]] = {
    "a cancellation": book,
    "a move by the patient": book,
    "a move by the practice (S10)": book,
    "a claim released": _claim,
    "a claim settled by the busy state": _claim,
    "a claim's lease": _claim,
    "an absence removed": CHANGES["an absence"],
}


@pytest.mark.parametrize("change", list(CHANGES))
def test_a_write_that_changes_what_a_calendar_offers_bumps_its_version(
    world: World, change: str
) -> None:
    if change in PREPARE:
        PREPARE[change](world)
    before = version(world.calendar.pk)
    assert before is not None
    CHANGES[change](world)
    assert version(world.calendar.pk) not in (before, None)


def _receipt(world: World) -> None:
    booking = book(world)
    before = version(world.calendar.pk)
    sync.record_receipts(practice=world.practice, receipts=[_receipt_of(booking)])
    assert Booking.objects.get(pk=booking.pk).delivered_at is not None
    assert version(world.calendar.pk) == before


def _receipt_of(booking: Booking) -> Any:
    from termin360.protocol.messages import Receipt

    return Receipt(booking_id=booking.pk, placement="slot")


def test_a_receipt_a_reminder_or_the_feed_number_leave_the_version_alone(world: World) -> None:
    _receipt(world)
    before = version(world.calendar.pk)
    Booking.objects.update(reminder_sent_at=timezone.now())
    world.practice.feed_seq += 7
    world.practice.save(update_fields=["feed_seq"])
    extra.update_practice_settings(
        practice=world.practice, name="Praxis Berger-Neu", email=world.practice.email,
        reminder_hours=12, phone="07251 1234",
    )  # fmt: skip
    Doctor.objects.filter(pk=world.doctor.pk).update(first_name="Anne")
    assert version(world.calendar.pk) == before


def test_another_calendar_keeps_its_version(world: World) -> None:
    other = build_world("Praxis Zwei", "admin@zwei.de")
    before = version(other.calendar.pk)
    book(world)
    _busy(world)
    assert version(other.calendar.pk) == before


def test_a_new_calendar_gets_a_version_and_a_deleted_one_loses_it(world: World) -> None:
    doctor = practices.add_doctor(
        practice=world.practice,
        location_id=world.location.pk,
        title="",
        first_name="Karl",
        last_name="Keller",
        specialty="Innere Medizin",
    )
    calendar_id = doctor.calendar.pk
    assert version(calendar_id) is not None
    doctor.delete()
    assert version(calendar_id) is None


def test_a_version_seen_in_a_rolled_back_write_is_never_given_out_again(world: World) -> None:
    inside = None
    with pytest.raises(RuntimeError), transaction.atomic():
        book(world)
        inside = version(world.calendar.pk)
        raise RuntimeError("roll back")
    after_rollback = version(world.calendar.pk)
    book(world, time(10))
    assert inside is not None and version(world.calendar.pk) not in (inside, after_rollback)


def test_every_trigger_that_keeps_the_versions_is_there(world: World) -> None:
    availability_cache.clear()
    assert availability_cache.versions_kept()
    assert len(set(availability_cache.TRIGGERS)) == 27
