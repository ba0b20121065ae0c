"""What the practice's connector does to the portal through the sync API (decision 008).

- ``replace_busy``: the practice calendar's busy time of whole (online calendar, local
  day)s replaces what the portal had for those days (S8, S12) — state, not deltas, so a
  resent day is harmless; with it, if sent, the day's bookable slots (S14,
  ``PracticeSlots``), which a calendar with hours from the practice offers;
- ``claim`` / ``release``: S9 — hold time for a practice action, unless an online booking
  the connector has not seen yet holds it (``sync_claims``);
- ``cancel_booking`` / ``move_booking``: S10 — the practice deleted or moved an online
  booking in its calendar (``services.bookings`` does the change, the feed event and the
  patient's mail);
- ``record_receipts``: P6 — the bookings reached the practice calendar.

Every function gets the practice the API key belongs to and treats an id of another
practice exactly like one that does not exist.
"""

from __future__ import annotations

import functools
import operator
import time
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from termin360.core.errors import InvalidInput, NotFound
from termin360.core.timezones import day_bounds_utc
from termin360.portal.models import (
    Booking,
    BusyInterval,
    BusyRevision,
    OnlineCalendar,
    Practice,
    PracticeSlots,
)
from termin360.portal.services import bookings, feed, sync_claims
from termin360.protocol.messages import (
    BusyBatchResult,
    BusyDay,
    CalendarInfo,
    CalendarList,
    Claim,
    ClaimReleased,
    ClaimResult,
    Receipt,
    TimeRange,
)
from termin360.webapi.schemas import FIRST_DAY, LAST_DAY


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


def _check_day(day: date, intervals: Sequence[TimeRange], tz: ZoneInfo) -> None:
    """An interval of a day must touch that local day (or the one before or after: a
    night appointment may cross midnight) — anything else is a connector bug that would
    block time the practice never meant to."""
    if not FIRST_DAY < day < LAST_DAY:
        raise InvalidInput(_("The day lies outside the supported range."), code="bad_day")
    lo = day_bounds_utc(day - timedelta(days=1), tz)[0]
    hi = day_bounds_utc(day + timedelta(days=1), tz)[1]
    for iv in intervals:
        if not (iv.start < hi and iv.end > lo):
            raise InvalidInput(
                _("A busy interval lies outside the day it was sent for (%(day)s).")
                % {"day": day.isoformat()},
                code="interval_outside_day",
            )


def _newest(days: Sequence[BusyDay]) -> list[BusyDay]:
    """One state per (calendar, day): the highest revision; of equal ones the later."""
    chosen: dict[tuple[int, date], BusyDay] = {}
    for day in days:
        key = (day.online_calendar_id, day.day)
        if key not in chosen or day.revision >= chosen[key].revision:
            chosen[key] = day
    return list(chosen.values())


def replace_busy(*, practice: Practice, days: Sequence[BusyDay]) -> BusyBatchResult:
    """Replace the busy intervals of each (online calendar, day) in ``days`` — all of them
    in one transaction — unless the portal has a newer revision of that day already; end
    the holds of the claims each day settles (S9).

    Under the practice lock, like bookings and claims: a booking checking the time sees
    either the hold or the busy state that replaced it, never neither."""
    _calendars_of(practice, {d.online_calendar_id for d in days})
    tz = ZoneInfo(practice.time_zone)
    for day in days:
        _check_day(day.day, day.intervals, tz)
        _check_day(day.day, day.bookable or [], tz)
    stale = 0
    with transaction.atomic():
        feed.lock_practice(practice.pk)
        # For the back office (P10): how old the busy state is; the row is locked already.
        Practice.objects.filter(pk=practice.pk).update(busy_received_at=timezone.now())
        for day in days:
            sync_claims.settle(
                practice=practice, calendar_id=day.online_calendar_id, day=day.day, keys=day.settles
            )
        newest = _newest(days)
        wanted = functools.reduce(
            operator.or_, (Q(calendar_id=d.online_calendar_id, day=d.day) for d in newest)
        )
        have = {(r.calendar_id, r.day): r.revision for r in BusyRevision.objects.filter(wanted)}
        # Revision 0: a connector that does not count revisions; its state always applies.
        fresh = [
            d
            for d in newest
            if d.revision == 0 or d.revision > have.get((d.online_calendar_id, d.day), -1)
        ]
        stale = len(newest) - len(fresh)
        if fresh:
            replaced = functools.reduce(
                operator.or_, (Q(calendar_id=d.online_calendar_id, day=d.day) for d in fresh)
            )
            BusyInterval.objects.filter(replaced).delete()
            BusyInterval.objects.bulk_create(
                BusyInterval(
                    calendar_id=d.online_calendar_id, day=d.day, start=iv.start, end=iv.end
                )
                for d in fresh
                for iv in d.intervals
            )
            BusyRevision.objects.bulk_create(
                [
                    BusyRevision(calendar_id=d.online_calendar_id, day=d.day, revision=d.revision)
                    for d in fresh
                    if d.revision
                ],
                update_conflicts=True,
                unique_fields=["calendar", "day"],
                update_fields=["revision"],
            )
            _replace_practice_slots([d for d in fresh if d.bookable is not None])
    return BusyBatchResult(applied=len(fresh), stale=stale)


def _replace_practice_slots(days: Sequence[BusyDay]) -> None:
    """S14: the bookable slots of these days replace what the portal had (``bookable``
    ``None`` — a connector from before — is not among them: it changes nothing)."""
    if not days:
        return
    PracticeSlots.objects.bulk_create(
        [
            PracticeSlots(
                calendar_id=d.online_calendar_id,
                day=d.day,
                slots=[
                    [r.start.astimezone(UTC).isoformat(), r.end.astimezone(UTC).isoformat()]
                    for r in sorted(d.bookable or [], key=lambda r: r.start)
                ],
            )
            for d in days
        ],
        update_conflicts=True,
        unique_fields=["calendar", "day"],
        update_fields=["slots"],
    )


# --------------------------------------------------------------------------- S9 claims


def claim(*, practice: Practice, claim: Claim) -> ClaimResult:
    """S9: hold the claimed time for a practice action, or refuse
    (``sync_claims.OnlineBookingHoldsTime``) naming the unseen booking that holds it."""
    for calendar_id in sorted({d.online_calendar_id for d in claim.days}):
        _check_owned(practice, calendar_id)
    tz = ZoneInfo(practice.time_zone)
    for day in claim.days:
        _check_day(day.day, day.intervals, tz)
    return sync_claims.claim_time(practice=practice, claim=claim)


def release(*, practice: Practice, claim_id: str) -> ClaimReleased:
    """S9: the practice action behind the claim was not saved; its holds end."""
    released = sync_claims.release_claim(practice=practice, key=claim_id)
    return ClaimReleased(claim_id=claim_id, released=released)


# --------------------------------------------------------------------------- S10


def _state(booking: Booking) -> dict[str, Any]:
    fresh = Booking.objects.select_related("visit_type").get(pk=booking.pk)
    return feed.booking_payload(fresh, feed.last_seq_of(fresh))


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
