"""The per-practice change feed (portal → practice). Sequence numbers have no gaps and
never go backwards: they are handed out under a lock on the practice row, inside the
transaction of the change, so a rolled-back change takes its number with it.

An event's payload is the booking as the sync protocol describes it
(``termin360.protocol.messages.BookingState``), so the sync API hands it out as stored.
On PostgreSQL each event also sends ``NOTIFY termin360_feed, '<practice id>'``; the
database delivers it at commit (never for a rolled-back change) to every app process
that long-polls for that practice (``services.sync_wait``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from django.db import connection, transaction

from termin360.portal.models import Booking, ChangeEvent, Practice
from termin360.protocol.messages import BookingState, PatientData

FEED_CHANNEL = "termin360_feed"


def lock_practice(practice_id: int) -> Practice:
    """Serializes booking changes of one practice (and so of each of its calendars)."""
    return Practice.objects.select_for_update().get(pk=practice_id)


def _utc(instant: datetime | None) -> datetime | None:
    return instant.astimezone(UTC) if instant is not None else None


def booking_state(booking: Booking, seq: int = 0) -> BookingState:
    """The booking as the connector sees it (S5, S6: everything needed to place it), as of
    change ``seq`` of the feed. Times in UTC, whatever offset the change came in with."""
    return BookingState(
        booking_id=booking.pk,
        online_calendar_id=booking.calendar_id,
        status=booking.status,  # type: ignore[arg-type]  # a Booking.Status value
        start=booking.start.astimezone(UTC),
        end=booking.end.astimezone(UTC),
        visit_type=booking.visit_type.name,
        reason=booking.reason,
        patient=PatientData(
            last_name=booking.patient_last_name,
            first_name=booking.patient_first_name,
            date_of_birth=booking.patient_date_of_birth,
            email=booking.patient_email,
            phone=booking.patient_phone,
            insurance=booking.patient_insurance,
        ),
        booked_at=_utc(booking.created_at),
        cancelled_at=_utc(booking.cancelled_at),
        cancelled_by=booking.cancelled_by or None,
        seq=seq,
    )


def booking_payload(booking: Booking, seq: int = 0) -> dict[str, Any]:
    return booking_state(booking, seq).model_dump(mode="json")


def last_seq_of(booking: Booking) -> int:
    """The feed number of the booking's latest change (0 if it has none)."""
    last = (
        ChangeEvent.objects.filter(booking=booking).order_by("-seq").values_list("seq", flat=True)
    ).first()
    return int(last or 0)


def append_event(practice: Practice, booking: Booking, kind: str) -> ChangeEvent:
    """Append ``kind`` for ``booking``. ``practice`` must be locked (``lock_practice``)."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("append_event must run inside the transaction of the change")
    practice.feed_seq += 1
    practice.save(update_fields=["feed_seq"])
    event = ChangeEvent.objects.create(
        practice=practice,
        seq=practice.feed_seq,
        booking=booking,
        kind=kind,
        payload=booking_payload(booking, practice.feed_seq),
    )
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_notify(%s, %s)", [FEED_CHANNEL, str(practice.pk)])
    return event
