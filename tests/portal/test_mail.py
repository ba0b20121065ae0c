"""E-mails are queued with the change that causes them, in German, with the practice's
local time and a calendar file (P5)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone
from icalendar import Calendar

from termin360.core.errors import Conflict
from termin360.portal.models import Booking, OutgoingEmail
from termin360.portal.services import bookings, mail
from tests.portal.conftest import World, make_patient, rendered

BERLIN = ZoneInfo("Europe/Berlin")


def next_weekday_at(hour: int, minute: int = 0, days_ahead: int = 2) -> datetime:
    """A Monday–Friday at ``hour`` local time, at least ``days_ahead`` days from now."""
    day = timezone.now().astimezone(BERLIN).date() + timedelta(days=days_ahead)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return datetime.combine(day, time(hour, minute), tzinfo=BERLIN)


def booking_at(world: World, local: datetime, *, reason: str = "") -> Booking:
    """A booking row at any date (the service only books within the horizon from today)."""
    start = local.astimezone(UTC)
    p = world.patient
    return Booking.objects.create(
        calendar=world.calendar,
        patient=p,
        visit_type=world.checkup,
        start=start,
        end=start + timedelta(minutes=world.checkup.duration_minutes),
        reason=reason,
        patient_last_name=p.last_name,
        patient_first_name=p.first_name,
        patient_date_of_birth=p.date_of_birth,
        patient_email=p.user.email,
        patient_phone=p.phone,
        patient_insurance=p.insurance,
    )


def queued(kind: str) -> list[OutgoingEmail]:
    return rendered(kind)


def test_booking_queues_a_german_confirmation_with_calendar_file(world: World) -> None:
    start = next_weekday_at(9, 15)
    booking = bookings.book(
        patient=world.patient,
        calendar_id=world.calendar.pk,
        visit_type_id=world.checkup.pk,
        start=start,
        reason="Rückenschmerzen seit Tagen",
    )

    (m,) = queued("booking_confirmed")
    assert m.to == world.patient.user.email
    assert m.sent_at is None and m.attempts == 0
    assert m.subject.startswith("Termin bestätigt")
    assert "Praxis Berger" in m.subject
    assert "09:15" in m.subject
    assert "Guten Tag Hans Müller" in m.body
    for text in (
        "Dr. Anna Berger",
        "Allgemeinmedizin",
        "Praxis Berger",
        "Hauptstraße 1, 76646 Bruchsal",
        "Kontrolle",
        "09:15 Uhr",
        "http://127.0.0.1:8000/meine-termine/",
        "termin.ics",
    ):
        assert text in m.body, text
    # German weekday and month names, the local date of the practice
    weekday = ["Montag", "Dienstag", "Mittwoch", "Donnerstag", "Freitag"][start.weekday()]
    assert f"{weekday}, {start.day}. " in m.body
    # the reason the patient typed is health data: not in the mail
    assert "Rücken" not in m.body and "Rücken" not in m.ics
    event = Calendar.from_ical(m.ics).walk("VEVENT")[0]
    assert event["UID"] == f"booking-{booking.pk}@termin360"
    assert event.decoded("DTSTART") == start


def test_a_booking_queues_its_mail_unrendered_and_the_worker_renders_the_time_booked(
    world: World,
) -> None:
    """The booking's transaction (which holds the practice lock) writes one small row; the
    text is rendered when the mail is sent — and still says the time that was booked,
    with the calendar file of that version, even after the booking was moved."""
    start = next_weekday_at(9, 15)
    booking = bookings.book(
        patient=world.patient,
        calendar_id=world.calendar.pk,
        visit_type_id=world.checkup.pk,
        start=start,
    )
    raw = OutgoingEmail.objects.get(kind="booking_confirmed")
    assert (raw.subject, raw.body, raw.ics) == ("", "", "")
    assert raw.pending is not None and raw.pending["booking"] == booking.pk
    bookings.move_by_practice(
        practice_id=world.practice.pk,
        booking_id=booking.pk,
        start=start + timedelta(hours=1),
        end=start + timedelta(hours=1, minutes=15),
    )

    (confirmed,) = queued("booking_confirmed")
    (moved,) = queued("practice_moved")
    assert "09:15" in confirmed.subject and "10:15" not in confirmed.body
    assert Calendar.from_ical(confirmed.ics).walk("VEVENT")[0].decoded("DTSTART") == start
    assert Calendar.from_ical(confirmed.ics).walk("VEVENT")[0]["SEQUENCE"] == 0
    assert "10:15" in moved.body and "09:15" in moved.body  # new and old time
    assert Calendar.from_ical(moved.ics).walk("VEVENT")[0]["SEQUENCE"] == 1
    # Stored once rendered: a retry sends the very same text.
    stored = OutgoingEmail.objects.get(pk=confirmed.pk)
    assert stored.pending is None and (stored.subject, stored.body) == (
        confirmed.subject,
        confirmed.body,
    )


def test_a_mail_whose_booking_is_gone_is_not_sent_empty(world: World) -> None:
    from termin360.portal import worker

    booking = bookings.book(
        patient=world.patient,
        calendar_id=world.calendar.pk,
        visit_type_id=world.checkup.pk,
        start=next_weekday_at(9, 30),
    )
    OutgoingEmail.objects.filter(kind="booking_confirmed").update(
        pending={**OutgoingEmail.objects.get().pending, "booking": booking.pk + 1000}
    )
    outgoing = worker.claim_next()
    assert outgoing is not None
    assert worker.send_one(outgoing) is False
    failed = OutgoingEmail.objects.get()
    assert failed.sent_at is None and failed.last_error == "BookingGone"
    assert failed.body == ""


def test_a_refused_booking_queues_no_mail(world: World) -> None:
    start = next_weekday_at(10)
    other = make_patient("other@example.org")
    bookings.book(
        patient=other,
        calendar_id=world.calendar.pk,
        visit_type_id=world.checkup.pk,
        start=start,
    )
    with pytest.raises(Conflict):
        bookings.book(
            patient=world.patient,
            calendar_id=world.calendar.pk,
            visit_type_id=world.checkup.pk,
            start=start,
        )
    assert [m.to for m in queued("booking_confirmed")] == ["other@example.org"]


def test_mail_rolls_back_with_the_change(world: World) -> None:
    booking = booking_at(world, next_weekday_at(11))
    with pytest.raises(RuntimeError), transaction.atomic():
        mail.booking_confirmed(booking)
        raise RuntimeError("the change failed")
    assert OutgoingEmail.objects.count() == 0


def test_patient_cancellation_mail_carries_a_cancel_calendar_file(world: World) -> None:
    booking = bookings.book(
        patient=world.patient,
        calendar_id=world.calendar.pk,
        visit_type_id=world.first_visit.pk,
        start=next_weekday_at(8, 30),
    )
    bookings.cancel_by_patient(patient=world.patient, booking_id=booking.pk)

    (m,) = queued("booking_cancelled")
    assert m.subject.startswith("Termin abgesagt")
    assert "Erstgespräch" in m.body and "08:30 Uhr" in m.body
    cal = Calendar.from_ical(m.ics)
    assert cal["METHOD"] == "CANCEL"
    (event,) = cal.walk("VEVENT")
    assert event["STATUS"] == "CANCELLED"
    assert event["UID"] == f"booking-{booking.pk}@termin360"
    confirmed = Calendar.from_ical(queued("booking_confirmed")[0].ics).walk("VEVENT")[0]
    assert event["SEQUENCE"] > confirmed["SEQUENCE"]


def test_practice_cancellation_tells_the_patient_the_reason(world: World) -> None:
    booking = bookings.book(
        patient=world.patient,
        calendar_id=world.calendar.pk,
        visit_type_id=world.checkup.pk,
        start=next_weekday_at(9),
    )
    bookings.cancel_by_practice(
        practice_id=world.practice.pk, booking_id=booking.pk, reason="Ärztin erkrankt"
    )
    (m,) = queued("practice_cancelled")
    assert m.to == world.patient.user.email
    assert "Praxis Berger" in m.subject
    assert "Ärztin erkrankt" in m.body
    assert Calendar.from_ical(m.ics)["METHOD"] == "CANCEL"


def test_account_mails_carry_the_link(db: None) -> None:
    user = User.objects.create_user("neu@example.org", email="neu@example.org")
    mail.confirm_email(user, "https://portal.example/konto/bestaetigen/abc/")
    mail.password_reset(user, "https://portal.example/konto/passwort/xyz/")

    (confirm,) = queued("confirm_email")
    assert confirm.to == "neu@example.org"
    assert confirm.subject == "Bitte bestätigen Sie Ihre E-Mail-Adresse"
    assert "https://portal.example/konto/bestaetigen/abc/" in confirm.body
    (reset,) = queued("password_reset")
    assert "Passwort" in reset.subject
    assert "https://portal.example/konto/passwort/xyz/" in reset.body
    assert not confirm.ics and not reset.ics


def test_reminder_text(world: World) -> None:
    booking = booking_at(world, datetime(2027, 1, 11, 10, 45, tzinfo=BERLIN))
    mail.booking_reminder(booking)
    (m,) = queued("booking_reminder")
    assert m.subject == "Erinnerung: Ihr Termin am Montag, 11. Januar 2027, 10:45"
    assert "10:45 Uhr" in m.body and "Dr. Anna Berger" in m.body


def test_practice_notices_name_the_patient_but_not_the_reason(world: World) -> None:
    booking = booking_at(world, datetime(2027, 7, 5, 9, 30, tzinfo=BERLIN), reason="Husten")
    mail.practice_booking_notice(booking, "booked")
    mail.practice_booking_notice(booking, "cancelled")
    booked, cancelled = queued("practice_notice_booked"), queued("practice_notice_cancelled")
    assert [m.to for m in booked + cancelled] == [world.practice.email] * 2
    assert booked[0].subject.startswith("Neue Online-Buchung")
    assert cancelled[0].subject.startswith("Online-Buchung abgesagt")
    for m in booked + cancelled:
        assert "Hans Müller" in m.body and "09:30 Uhr" in m.body
        assert "Husten" not in m.body
        assert str(booking.pk) in m.body
    with pytest.raises(ValueError):
        mail.practice_booking_notice(booking, "moved")  # type: ignore[arg-type]


def test_undelivered_alert_goes_to_the_practice(world: World) -> None:
    booking = booking_at(world, datetime(2027, 7, 5, 9, 30, tzinfo=BERLIN))
    mail.undelivered_alert(booking)
    (m,) = queued("undelivered_alert")
    assert m.to == world.practice.email
    assert str(booking.pk) in m.subject
    assert "termin360 sync" in m.body


def test_times_are_local_in_summer_and_winter(world: World) -> None:
    summer = booking_at(world, datetime(2027, 7, 5, 9, 30, tzinfo=BERLIN))
    winter = booking_at(world, datetime(2027, 1, 11, 9, 30, tzinfo=BERLIN))
    # 07:30 and 08:30 UTC: the text must show the Berlin wall-clock time for both
    assert summer.start.astimezone(UTC).hour == 7 and winter.start.astimezone(UTC).hour == 8
    mail.booking_confirmed(summer)
    mail.booking_confirmed(winter)
    s, w = queued("booking_confirmed")
    assert "Montag, 5. Juli 2027 um 09:30 Uhr" in s.body
    assert "Montag, 11. Januar 2027 um 09:30 Uhr" in w.body


def test_texts_are_plain_text_not_html_escaped(world: World) -> None:
    world.practice.name = "Müller & Söhne <Praxis>"
    world.practice.save()
    booking = booking_at(world, datetime(2027, 7, 5, 9, 30, tzinfo=BERLIN))
    booking.calendar.doctor.practice = world.practice
    mail.booking_confirmed(booking)
    (m,) = queued("booking_confirmed")
    assert "Müller & Söhne <Praxis>" in m.subject
    assert "Müller & Söhne <Praxis>" in m.body
    assert "&amp;" not in m.body


def test_no_mail_to_a_deleted_account(world: World) -> None:
    booking = booking_at(world, datetime(2027, 7, 5, 9, 30, tzinfo=BERLIN))
    booking.patient_email = ""
    mail.booking_cancelled_by_practice(booking)
    assert OutgoingEmail.objects.count() == 0


def test_dates_are_formatted_as_the_practice_sees_them(world: World) -> None:
    booking = booking_at(world, datetime(2027, 3, 28, 3, 0, tzinfo=BERLIN))  # after the jump
    assert booking.start.astimezone(BERLIN).date() == date(2027, 3, 28)
    mail.booking_reminder(booking)
    (m,) = queued("booking_reminder")
    assert "Sonntag, 28. März 2027 um 03:00 Uhr" in m.body
