"""E-mails, queued as ``OutgoingEmail`` rows in the transaction of the change (P5).

Call these inside the ``transaction.atomic`` block of the change they report: the
mail then exists exactly when the change does. The worker (``termin360 portal
worker``, :mod:`termin360.portal.worker`) sends it after commit; no request ever
waits for SMTP. A booking's mails are queued unrendered (``OutgoingEmail.pending``:
the template and the times as of the change) and rendered by the worker just before
sending (``render_pending``): the transaction that holds the practice lock writes one
small row instead of rendering templates and a calendar file.

Texts come from ``templates/portal/mail/<name>_subject.txt`` and ``<name>.txt``
(English msgids, rendered in the site language, German). Times are local times of
the practice's zone. A mail holds only what the patient entered themselves and
what the practice publishes — never a diagnosis or the reason of a visit to
anyone but the patient.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal, cast
from zoneinfo import ZoneInfo

from django.conf import settings
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import formats, translation

from termin360.portal import ics
from termin360.portal.models import Booking, ChangeEvent, OnlineCalendar, OutgoingEmail, VisitType

NoticeKind = Literal["booked", "cancelled"]


def _queue(to: str, subject: str, body: str, kind: str, ics_text: str = "") -> OutgoingEmail | None:
    if not to:  # the account is gone; nobody to tell
        return None
    return OutgoingEmail.objects.create(
        to=to, subject=subject[:200], body=body, kind=kind, ics=ics_text
    )


def _render(name: str, context: dict[str, Any]) -> tuple[str, str]:
    subject = render_to_string(f"portal/mail/{name}_subject.txt", context)
    body = render_to_string(f"portal/mail/{name}.txt", context)
    return " ".join(subject.split()), body.strip() + "\n"


def portal_url(path: str) -> str:
    base = str(getattr(settings, "PORTAL_BASE_URL", "http://127.0.0.1:8000"))
    return base.rstrip("/") + path


def _local_when(instant: datetime, zone_name: str) -> dict[str, str]:
    local = instant.astimezone(ZoneInfo(zone_name))
    return {
        "weekday": formats.date_format(local, "l"),
        "date": formats.date_format(local, "DATE_FORMAT"),
        "time": formats.time_format(local, "TIME_FORMAT"),
    }


def appointment_context(
    calendar: OnlineCalendar, visit_type: VisitType, start: datetime, end: datetime
) -> dict[str, Any]:
    """Who, where and when of an appointment, as every booking mail (and the waiting
    list's offer, ``mail_waitlist``) shows it, with the practice's phone."""
    doctor = calendar.doctor
    practice = doctor.practice
    location = doctor.location
    address = ", ".join(
        p for p in (location.street, f"{location.postcode} {location.city}".strip()) if p
    )
    return {
        "practice_name": practice.name,
        "practice_email": practice.email,
        "practice_phone": practice.phone,
        "doctor": doctor.display_name,
        "specialty": doctor.specialty,
        "location_name": location.name,
        "address": address,
        "visit_type": visit_type.name,
        "duration": visit_type.duration_minutes,
        "when": _local_when(start, practice.time_zone),
        "end": _local_when(end, practice.time_zone),
        "portal_url": portal_url("/"),
    }


def _booking_context(booking: Booking) -> dict[str, Any]:
    return {
        **appointment_context(booking.calendar, booking.visit_type, booking.start, booking.end),
        "booking": booking,
        "patient_name": f"{booking.patient_first_name} {booking.patient_last_name}".strip(),
        "my_bookings_url": portal_url(reverse("portal:my-bookings")),
        "cancel_deadline_hours": booking.calendar.cancel_deadline_hours,
    }


def _ics_sequence(booking: Booking, method: ics.Method, versions: int | None = None) -> int:
    """SEQUENCE of the booking's calendar file: one more for every version after the first
    (booked 0, moved 1, moved again 2, cancelled after that 3), counted from the booking's
    feed events — the mail is queued after its event, in the same transaction.
    ``versions``: the count when the caller knows it (a new booking has one event)."""
    if versions is None:
        versions = ChangeEvent.objects.filter(booking_id=booking.pk).count()
    floor = ics.SEQUENCE_CANCELLED if method == "CANCEL" else ics.SEQUENCE_CONFIRMED
    return max(versions - 1, floor)


def _booking_ics(booking: Booking, context: dict[str, Any], *, method: str, sequence: int) -> str:
    where = ", ".join(p for p in (context["practice_name"], context["address"]) if p)
    return ics.build(
        ics.IcsEvent(
            booking_id=booking.pk,
            start=booking.start,
            end=booking.end,
            time_zone=booking.calendar.doctor.practice.time_zone,
            summary=render_to_string("portal/mail/ics_summary.txt", context).strip(),
            location=where,
            description=render_to_string("portal/mail/ics_description.txt", context).strip(),
            url=context["my_bookings_url"],
        ),
        method=cast(ics.Method, method),
        sequence=sequence,
    )


def _booking_mail(
    booking: Booking,
    name: str,
    kind: str,
    *,
    to: str,
    method: ics.Method | None,
    old_start: datetime | None = None,
    versions: int | None = None,
) -> OutgoingEmail | None:
    """Queue a mail about ``booking``, rendered later by the worker (``render_pending``)
    from what the booking is now: its times, its cancel reason, its calendar file's
    sequence — a later move or cancellation does not change what this mail says."""
    if not to:  # the account is gone; nobody to tell
        return None
    pending = {
        "template": name,
        "booking": booking.pk,
        "start": booking.start.isoformat(),
        "end": booking.end.isoformat(),
        "cancel_reason": booking.cancel_reason,
        "old_start": old_start.isoformat() if old_start is not None else None,
        "method": method,
        "sequence": _ics_sequence(booking, method, versions) if method else None,
    }
    return OutgoingEmail.objects.create(to=to, subject="", body="", kind=kind, pending=pending)


class BookingGone(Exception):
    """A queued booking mail whose booking no longer exists: there is nothing to render."""


def render_pending(outgoing: OutgoingEmail) -> None:
    """Render a mail queued by ``_booking_mail`` (subject, body and calendar file) and
    store it, so that a retry sends the very same text. Does nothing for a mail that is
    rendered already."""
    spec = outgoing.pending
    if not spec:
        return
    booking = (
        Booking.objects.select_related(
            "calendar__doctor__practice", "calendar__doctor__location", "visit_type"
        )
        .filter(pk=spec["booking"])
        .first()
    )
    if booking is None:
        raise BookingGone(f"booking {spec['booking']} of mail {outgoing.pk} is gone")
    # The booking as of the change the mail reports.
    booking.start = datetime.fromisoformat(spec["start"])
    booking.end = datetime.fromisoformat(spec["end"])
    booking.cancel_reason = spec["cancel_reason"]
    with translation.override(settings.LANGUAGE_CODE):
        context = _booking_context(booking)
        if spec["old_start"]:
            context["old_when"] = _local_when(
                datetime.fromisoformat(spec["old_start"]),
                booking.calendar.doctor.practice.time_zone,
            )
        subject, body = _render(spec["template"], context)
        method = spec["method"]
        ics_text = (
            _booking_ics(booking, context, method=method, sequence=spec["sequence"])
            if method
            else ""
        )
    outgoing.subject, outgoing.body, outgoing.ics = subject[:200], body, ics_text
    outgoing.pending = None
    OutgoingEmail.objects.filter(pk=outgoing.pk).update(
        subject=outgoing.subject, body=body, ics=ics_text, pending=None
    )


# --------------------------------------------------------------------------- accounts


def confirm_email(user: Any, link: str) -> OutgoingEmail | None:
    """Ask a new patient to confirm their address (P3); ``link`` is absolute."""
    with translation.override(settings.LANGUAGE_CODE):
        subject, body = _render(
            "confirm_email", {"user": user, "link": link, "portal_url": portal_url("/")}
        )
    return _queue(user.email, subject, body, "confirm_email")


def registration_attempt(user: Any, *, login_link: str, reset_link: str) -> OutgoingEmail | None:
    """Someone tried to register with an address that has an account: its owner is told
    (the registration page itself says nothing about it, P3)."""
    with translation.override(settings.LANGUAGE_CODE):
        subject, body = _render(
            "registration_attempt",
            {
                "user": user,
                "login_link": login_link,
                "reset_link": reset_link,
                "portal_url": portal_url("/"),
            },
        )
    return _queue(user.email, subject, body, "registration_attempt")


def password_reset(user: Any, link: str) -> OutgoingEmail | None:
    """A link to choose a new password (P3); ``link`` is absolute."""
    with translation.override(settings.LANGUAGE_CODE):
        subject, body = _render(
            "password_reset", {"user": user, "link": link, "portal_url": portal_url("/")}
        )
    return _queue(user.email, subject, body, "password_reset")


# --------------------------------------------------------------------------- patients


def booking_confirmed(booking: Booking) -> None:
    """Confirmation with the appointment as a calendar file."""
    _booking_mail(
        booking,
        "booking_confirmed",
        "booking_confirmed",
        to=booking.patient_email,
        method="PUBLISH",
        versions=1,  # queued right after the booking's first event
    )


def booking_cancelled_by_patient(booking: Booking) -> None:
    """The patient's own cancellation, confirmed; the file removes the calendar entry."""
    _booking_mail(
        booking,
        "booking_cancelled",
        "booking_cancelled",
        to=booking.patient_email,
        method="CANCEL",
    )


def booking_cancelled_by_practice(booking: Booking) -> None:
    """The practice cancelled (with its reason); the file removes the calendar entry."""
    _booking_mail(
        booking,
        "practice_cancelled",
        "practice_cancelled",
        to=booking.patient_email,
        method="CANCEL",
    )


def _moved_mail(booking: Booking, old_start: datetime, name: str) -> None:
    """A moved appointment, old and new time; the file replaces the calendar entry (same
    UID, higher SEQUENCE)."""
    _booking_mail(
        booking, name, name, to=booking.patient_email, method="PUBLISH", old_start=old_start
    )


def booking_moved_by_practice(booking: Booking, old_start: datetime) -> None:
    """The practice moved the appointment (S10)."""
    _moved_mail(booking, old_start, "practice_moved")


def booking_moved_by_patient(booking: Booking, old_start: datetime) -> None:
    """The patient moved their appointment (P8)."""
    _moved_mail(booking, old_start, "booking_moved")


def booking_reminder(booking: Booking) -> None:
    """Reminder before the appointment (queued by the worker, ``Practice.reminder_hours``)."""
    _booking_mail(
        booking, "booking_reminder", "booking_reminder", to=booking.patient_email, method=None
    )


# --------------------------------------------------------------------------- practices


def practice_booking_notice(booking: Booking, kind: NoticeKind) -> None:
    """Tell the practice's address about a new or cancelled online booking.

    The patient's name and the time, never the reason of the visit: the practice
    sees that in its calendar once the booking is delivered.
    """
    if kind not in ("booked", "cancelled"):
        raise ValueError(f"unknown notice kind {kind!r}")
    _booking_mail(
        booking,
        f"notice_{kind}",
        f"practice_notice_{kind}",
        to=booking.calendar.doctor.practice.email,
        method=None,
    )


def undelivered_alert(booking: Booking) -> None:
    """P6: a booking has not reached the practice calendar in time; someone should look."""
    _booking_mail(
        booking,
        "undelivered_alert",
        "undelivered_alert",
        to=booking.calendar.doctor.practice.email,
        method=None,
    )
