"""P8: a patient moves their booking to another free time of the same online calendar
and visit type, up to the practice's deadline.

The move is one update of the booking row under the practice lock: the new time is
checked free (other bookings, the practice's busy time, S9 holds, absences) and taken
in the same statement that frees the old one, so there is never a moment with two
holders nor one with none. The exclusion constraint (PostgreSQL) refuses an overlap
the check missed. The practice learns of it through the change feed as ``moved``
(the connector moves the appointment, or puts it in the additional list, flagged,
when the new time is taken there, like S5); the patient gets a calendar file with
the same UID and a higher SEQUENCE.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from termin360.core.errors import Conflict, InvalidInput, NotFound
from termin360.core.intervals import Interval, subtract
from termin360.core.timezones import day_bounds_utc
from termin360.portal.domain.availability import free_slots_by_day
from termin360.portal.models import Booking, PatientProfile
from termin360.portal.services import availability, feed, mail
from termin360.portal.services.bookings import (
    SlotGone,
    _booking,
    _check_offered,
    _taken,
    deadline_of,
)


class _Taken(Exception):
    """Inside ``move_by_patient``: the new time is not free."""


def _deadline_passed(booking: Booking) -> Conflict:
    return Conflict(
        _(
            "Bookings of this practice can be moved online up to %(h)s hours before; "
            "please call the practice."
        )
        % {"h": booking.calendar.cancel_deadline_hours},
        code="deadline_passed",
    )


def own_active_booking(patient: PatientProfile, booking_id: int) -> Booking:
    """The patient's active booking ``booking_id`` (404 for anyone else's: ids leak
    nothing)."""
    booking = _booking(booking_id)
    if booking.patient_id != patient.pk:
        raise NotFound(_("There is no such booking."))
    if booking.status != Booking.Status.ACTIVE:
        raise Conflict(
            _("This booking is cancelled; it cannot be moved."), code="already_cancelled"
        )
    return booking


def free_for_move_by_day(
    booking: Booking, first_day: date, last_day: date, now: datetime | None = None
) -> dict[date, list[Interval]]:
    """The free start times ``booking`` may move to, per local day of its practice.

    The booking's own time counts as free for itself: once the practice calendar holds
    it, the busy state the connector pushes contains it as well, and a 30-minute visit
    could never move by one 15-minute slot. Whatever else overlaps its time was a second
    holder already."""
    calendar = booking.calendar
    if not calendar.is_public:
        return {}  # offline (unpublished, or the practice is not approved): no time to offer
    tz = ZoneInfo(calendar.doctor.practice.time_zone)
    lo, _end = day_bounds_utc(first_day, tz)
    _start, hi = day_bounds_utc(last_day, tz)
    blocked = availability.blocked_intervals(calendar, lo, hi, exclude_booking=booking.pk)
    now = now or timezone.now()
    return free_slots_by_day(
        availability.rules_of(calendar, now=now),
        now=now,
        first_day=first_day,
        last_day=last_day,
        duration_minutes=booking.visit_type.duration_minutes,
        blocked=subtract(blocked, [Interval(booking.start, booking.end)]),
    )


def _free_for_move(booking: Booking, start: datetime, now: datetime) -> bool:
    day = start.astimezone(ZoneInfo(booking.calendar.doctor.practice.time_zone)).date()
    return any(s.start == start for s in free_for_move_by_day(booking, day, day, now)[day])


def move_by_patient(
    *, patient: PatientProfile, booking_id: int, start: datetime, now: datetime | None = None
) -> Booking:
    """Move the patient's booking to ``start`` (same calendar, same visit type). Refused
    with ``SlotGone`` (and the next free times) if the time is not free (any more), with
    ``deadline_passed`` after the deadline. A move to where the booking is already
    changes nothing (a repeated request)."""
    if start.tzinfo is None:
        raise InvalidInput(_("The start time needs a time zone."), code="naive_time")
    now = now or timezone.now()
    booking = own_active_booking(patient, booking_id)
    if now > deadline_of(booking):
        raise _deadline_passed(booking)
    calendar, vt = booking.calendar, booking.visit_type
    if booking.start == start:
        return booking
    if not calendar.is_public:
        # The practice (or the operator, P10) took the calendar offline: it offers no
        # time, to move to either.
        raise InvalidInput(
            _("This calendar offers no appointments online at the moment."), code="not_bookable"
        )
    _check_offered(calendar, vt, start)
    try:
        with transaction.atomic():
            practice = feed.lock_practice(calendar.doctor.practice_id)
            booking.refresh_from_db()
            if booking.status != Booking.Status.ACTIVE:
                raise Conflict(
                    _("This booking is cancelled; it cannot be moved."),
                    code="already_cancelled",
                )
            if booking.start == start:
                return booking
            if now > deadline_of(booking):
                raise _deadline_passed(booking)
            if not _free_for_move(booking, start, now):
                raise _Taken
            old_start = booking.start
            booking.start = start
            booking.end = start + timedelta(minutes=vt.duration_minutes)
            booking.reminder_sent_at = None  # the reminder belongs to the new time
            booking.save(update_fields=["start", "end", "reminder_sent_at"])
            feed.append_event(practice, booking, "moved")
            mail.booking_moved_by_patient(booking, old_start)
    except (_Taken, IntegrityError):
        raise _taken(calendar, vt, start) from None
    return booking


__all__ = [
    "SlotGone",
    "deadline_of",
    "free_for_move_by_day",
    "move_by_patient",
    "own_active_booking",
]
