"""The per-practice change feed (portal → practice). Sequence numbers have no gaps and
never go backwards: they are handed out under a lock on the practice row, inside the
transaction of the change, so a rolled-back change takes its number with it."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from django.db import transaction

from termin360.portal.models import Booking, ChangeEvent, Practice


def lock_practice(practice_id: int) -> Practice:
    """Serializes booking changes of one practice (and so of each of its calendars)."""
    return Practice.objects.select_for_update().get(pk=practice_id)


def booking_payload(booking: Booking) -> dict[str, Any]:
    cal = booking.calendar
    tz = ZoneInfo(cal.doctor.practice.time_zone)
    return {
        "booking_id": booking.pk,
        "online_calendar_id": cal.pk,
        "status": booking.status,
        "start": booking.start.isoformat(),
        "end": booking.end.isoformat(),
        "local_start": booking.start.astimezone(tz).isoformat(),
        "visit_type": booking.visit_type.name,
        "reason": booking.reason,
        "patient": {
            "last_name": booking.patient_last_name,
            "first_name": booking.patient_first_name,
            "date_of_birth": booking.patient_date_of_birth.isoformat()
            if booking.patient_date_of_birth
            else None,
            "email": booking.patient_email,
            "phone": booking.patient_phone,
            "insurance": booking.patient_insurance,
        },
        "cancelled_at": booking.cancelled_at.isoformat() if booking.cancelled_at else None,
        "cancelled_by": booking.cancelled_by or None,
    }


def append_event(practice: Practice, booking: Booking, kind: str) -> ChangeEvent:
    """Append ``kind`` for ``booking``. ``practice`` must be locked (``lock_practice``)."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("append_event must run inside the transaction of the change")
    practice.feed_seq += 1
    practice.save(update_fields=["feed_seq"])
    return ChangeEvent.objects.create(
        practice=practice,
        seq=practice.feed_seq,
        booking=booking,
        kind=kind,
        payload=booking_payload(booking),
    )
