"""What the practice's connector does to the portal through the sync API (decision 008).

- ``replace_busy``: the practice calendar's busy time of whole (online calendar, local
  day)s replaces what the portal had for those days (S8, S12) — state, not deltas, so a
  resent day is harmless;
- ``check_claim``: S9 — may the practice occupy this time, or does an online booking the
  connector has not seen yet hold it?
- ``cancel_booking`` / ``move_booking``: S10 — the practice deleted or moved an online
  booking in its calendar (``services.bookings`` does the change, the feed event and the
  patient's mail);
- ``record_receipts``: P6 — the bookings reached the practice calendar.

Every function gets the practice the API key belongs to and treats an id of another
practice exactly like one that does not exist.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from termin360.core.errors import Conflict, InvalidInput, NotFound
from termin360.core.timezones import day_bounds_utc
from termin360.portal.models import Booking, BusyInterval, ChangeEvent, OnlineCalendar, Practice
from termin360.portal.services import bookings, feed
from termin360.protocol.messages import (
    BusyDay,
    CalendarInfo,
    CalendarList,
    Claim,
    Receipt,
)
from termin360.webapi.schemas import FIRST_DAY, LAST_DAY


class OnlineBookingHoldsTime(Conflict):
    """S9: an online booking the connector has not seen yet holds the claimed time. The
    answer lists those bookings (``bookings``) so that the connector can pull them in."""

    code = "online_booking_holds_time"


def _unknown_calendar() -> NotFound:
    return NotFound(_("There is no such online calendar."), code="unknown_calendar")


def _calendars_of(practice: Practice, ids: set[int]) -> dict[int, OnlineCalendar]:
    found = {c.pk: c for c in OnlineCalendar.objects.filter(pk__in=ids, doctor__practice=practice)}
    if set(found) != ids:
        raise _unknown_calendar()
    return found


# The S9 check runs before every staff action in a mapped column: remember for a minute
# which calendars a practice owns instead of asking the database each time. (A calendar
# never changes its practice; a deleted one only makes a claim answer "free" a little
# longer, which reveals nothing.)
_OWNED_FOR = 60.0
_owned: dict[tuple[int, int], float] = {}


def _check_owned(practice: Practice, calendar_id: int) -> None:
    key = (practice.pk, calendar_id)
    now = time.monotonic()
    if _owned.get(key, 0.0) > now:
        return
    _calendars_of(practice, {calendar_id})
    if len(_owned) > 10_000:
        _owned.clear()
    _owned[key] = now + _OWNED_FOR


def calendar_list(practice: Practice) -> CalendarList:
    """S1: the practice's online calendars, for the connector's mappings."""
    calendars = (
        OnlineCalendar.objects.filter(doctor__practice=practice)
        .select_related("doctor")
        .order_by("pk")
    )
    return CalendarList(
        practice=practice.name,
        calendars=[
            CalendarInfo(
                id=c.pk,
                name=c.name,
                doctor=c.doctor.display_name,
                time_zone=practice.time_zone,
                slot_minutes=c.slot_minutes,
                published=c.published,
            )
            for c in calendars
        ],
    )


# --------------------------------------------------------------------------- busy time (S8)


def _check_day(day: BusyDay, tz: ZoneInfo) -> None:
    """An interval of a day must touch that local day (or the one before or after: a
    night appointment may cross midnight) — anything else is a connector bug that would
    block time the practice never meant to."""
    if not FIRST_DAY < day.day < LAST_DAY:
        raise InvalidInput(_("The day lies outside the supported range."), code="bad_day")
    lo = day_bounds_utc(day.day - timedelta(days=1), tz)[0]
    hi = day_bounds_utc(day.day + timedelta(days=1), tz)[1]
    for iv in day.intervals:
        if not (iv.start < hi and iv.end > lo):
            raise InvalidInput(
                _("A busy interval lies outside the day it was sent for (%(day)s).")
                % {"day": day.day.isoformat()},
                code="interval_outside_day",
            )


def replace_busy(*, practice: Practice, days: Sequence[BusyDay]) -> int:
    """Replace the busy intervals of each (online calendar, day) in ``days`` — all of them
    in one transaction. A day sent twice in one batch: the later one counts."""
    _calendars_of(practice, {d.online_calendar_id for d in days})
    tz = ZoneInfo(practice.time_zone)
    for day in days:
        _check_day(day, tz)
    with transaction.atomic():
        for day in days:
            BusyInterval.objects.filter(calendar_id=day.online_calendar_id, day=day.day).delete()
            BusyInterval.objects.bulk_create(
                BusyInterval(
                    calendar_id=day.online_calendar_id, day=day.day, start=iv.start, end=iv.end
                )
                for iv in day.intervals
            )
    return len(days)


# --------------------------------------------------------------------------- S9 check


def _describe(booking: Booking, tz: ZoneInfo) -> str:
    local = booking.start.astimezone(tz)
    return _("booking %(id)s, %(when)s") % {"id": booking.pk, "when": f"{local:%d.%m.%Y %H:%M}"}


def check_claim(*, practice: Practice, claim: Claim) -> None:
    """Refuse (``OnlineBookingHoldsTime``) if an active online booking of the calendar
    overlaps the claimed intervals and was booked after ``after_seq`` — the connector's
    cursor, so it has not placed that booking yet. A booking it has seen is its own
    business: the practice calendar already shows it, and moving onto it is the practice's
    decision (S10 then moves or cancels it)."""
    _check_owned(practice, claim.online_calendar_id)
    unseen = ChangeEvent.objects.filter(
        practice=practice, kind="booked", seq__gt=claim.after_seq
    ).values("booking_id")
    overlap = Q()
    for iv in claim.intervals:
        overlap |= Q(start__lt=iv.end, end__gt=iv.start)
    holding = list(
        Booking.objects.filter(
            overlap,
            calendar_id=claim.online_calendar_id,
            status=Booking.Status.ACTIVE,
            pk__in=unseen,
        )
        .select_related("visit_type")
        .order_by("start")
    )
    if not holding:
        return
    tz = ZoneInfo(practice.time_zone)
    raise OnlineBookingHoldsTime(
        _("This time is booked online (%(bookings)s).")
        % {"bookings": "; ".join(_describe(b, tz) for b in holding)},
        bookings=[feed.booking_payload(b) for b in holding],
    )


# --------------------------------------------------------------------------- S10


def _state(booking: Booking) -> dict[str, Any]:
    return feed.booking_payload(Booking.objects.select_related("visit_type").get(pk=booking.pk))


def cancel_booking(*, practice: Practice, booking_id: int, reason: str) -> dict[str, Any]:
    """The practice deleted the appointment: cancel the booking (repeat: answered as is).
    Returns the ``BookingState`` as JSON."""
    if "\x00" in reason:
        raise InvalidInput(_("The request is not valid."), code="invalid")
    booking = bookings.cancel_from_practice_calendar(
        practice_id=practice.pk, booking_id=booking_id, reason=reason
    )
    return _state(booking)


def move_booking(
    *, practice: Practice, booking_id: int, start: datetime, end: datetime
) -> dict[str, Any]:
    """The practice moved the appointment; refused with ``slot_taken`` if another online
    booking holds the new time. Returns the ``BookingState`` as JSON."""
    booking = bookings.move_by_practice(
        practice_id=practice.pk, booking_id=booking_id, start=start, end=end
    )
    return _state(booking)


# --------------------------------------------------------------------------- receipts (P6)


def record_receipts(*, practice: Practice, receipts: Sequence[Receipt]) -> int:
    """Mark the bookings as delivered to the practice calendar (the first receipt's time
    stays). Ids of other practices are ignored; returns how many bookings of this
    practice the receipts named."""
    ids = {r.booking_id for r in receipts}
    mine = Booking.objects.filter(pk__in=ids, calendar__doctor__practice=practice)
    mine.filter(delivered_at__isnull=True).update(delivered_at=timezone.now())
    return mine.count()
