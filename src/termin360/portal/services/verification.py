"""P10: the portal's operator verifies practices: approve, suspend, cancel what is booked.

A new practice is *pending* (``signup_practice``); it may set everything up, but its
calendars are public (``OnlineCalendar.objects.public()``) only once the operator has
approved it. Suspending takes its calendars offline at once; its bookings stay, and
their patients hear of it only if the operator cancels them (``cancel_future_bookings``:
the practice-cancellation mail, and a feed event so the practice calendar follows).
"""

from __future__ import annotations

from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from termin360.core.errors import Conflict, InvalidInput
from termin360.portal.models import Booking, Practice
from termin360.portal.services import bookings

STATUS_FIELDS = [
    "status",
    "approved_at",
    "approved_by",
    "suspended_at",
    "suspended_by",
    "status_note",
]


def _note(practice: Practice, note: str) -> str:
    note = note.strip()
    return note if note else practice.status_note


@transaction.atomic
def approve(*, practice: Practice, by: User | None = None, note: str = "") -> Practice:
    """The operator has checked the practice (practice number, address): its published
    calendars go public. Approving a suspended practice takes it back online."""
    locked = Practice.objects.select_for_update().get(pk=practice.pk)
    if locked.status != Practice.Status.APPROVED:
        locked.status = Practice.Status.APPROVED
        locked.approved_at, locked.approved_by = timezone.now(), by
    locked.status_note = _note(locked, note)
    locked.save(update_fields=["status", "approved_at", "approved_by", "status_note"])
    practice.refresh_from_db(fields=STATUS_FIELDS)  # a later save() must not undo it
    return practice


@transaction.atomic
def suspend(*, practice: Practice, by: User | None = None, note: str = "") -> Practice:
    """Take the practice's calendars offline at once. Bookings stay; nobody is mailed."""
    if not note.strip():
        raise InvalidInput(_("Please note why the practice is suspended."), code="note_missing")
    locked = Practice.objects.select_for_update().get(pk=practice.pk)
    if locked.status != Practice.Status.SUSPENDED:
        locked.status = Practice.Status.SUSPENDED
        locked.suspended_at, locked.suspended_by = timezone.now(), by
    locked.status_note = _note(locked, note)
    locked.save(update_fields=["status", "suspended_at", "suspended_by", "status_note"])
    practice.refresh_from_db(fields=STATUS_FIELDS)
    return practice


def cancel_future_bookings(*, practice: Practice, reason: str) -> list[Booking]:
    """Cancel the active bookings of a suspended practice that have not begun yet, each as
    a cancellation by the practice: its patient gets the practice-cancellation mail with
    ``reason``, and the practice calendar learns of it through the feed."""
    practice.refresh_from_db(fields=["status"])
    if practice.status != Practice.Status.SUSPENDED:
        raise Conflict(
            _("Only the bookings of a suspended practice can be cancelled here."),
            code="not_suspended",
        )
    if not reason.strip():
        raise InvalidInput(_("Please give the patients a reason."), code="reason_missing")
    ids = Booking.objects.filter(
        calendar__doctor__practice=practice,
        status=Booking.Status.ACTIVE,
        start__gt=timezone.now(),
    ).values_list("pk", flat=True)
    return [
        bookings.cancel_from_practice_calendar(
            practice_id=practice.pk, booking_id=booking_id, reason=reason
        )
        for booking_id in list(ids)
    ]
