"""The waiting list for an earlier time (Warteliste, P9): join, leave, the worker's offer
round and taking an offer.

Who is offered which time is decided by the pure :mod:`termin360.portal.domain.waitlist`
(order of request, one live offer per time and per entry, never the same time twice to
one entry, lifetime ``OFFER_LIFETIME`` = 30 minutes, shorter when the time is near).
This module loads what it needs, and writes:

* ``offer_round`` (run by the worker, never in a request) computes, per calendar and
  under the practice lock (so two workers never promise a time twice and the free
  times are read on committed bookings), the new offers; it creates the
  ``WaitlistOffer`` rows and queues their mails in one transaction;
* ``take_offer`` (the mailed link) claims the offer with a conditional UPDATE and books
  the time (``bookings.book``) or moves the entry's booking there
  (``reschedule.move_by_patient``) in the same transaction, and ends the entry. The
  booking services decide who is first: a loser gets ``offer_taken``, and nothing is
  ever booked twice.

Errors (``ApplicationError`` codes): ``waitlist_disabled``, ``already_waiting``,
``visit_type_not_open``, ``bad_date``, ``deadline_passed``, ``unconfirmed`` (joining);
``offer_expired``, ``offer_ended``, ``offer_used`` (410 on the page) and
``offer_taken`` (409) (taking).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from django.core import signing
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from termin360.core.errors import ApplicationError, Conflict, InvalidInput, NotFound
from termin360.core.errors import PermissionDenied as Forbidden
from termin360.core.intervals import Interval
from termin360.core.timezones import day_bounds_utc
from termin360.portal.domain import waitlist as rules
from termin360.portal.models import (
    Booking,
    OnlineCalendar,
    PatientProfile,
    WaitlistEntry,
    WaitlistOffer,
)
from termin360.portal.services import availability, bookings, feed, mail_waitlist, reschedule

log = logging.getLogger("termin360.portal.waitlist")

OFFER_LIFETIME = rules.OFFER_LIFETIME
TOKEN_SALT = "termin360.portal.waitlist-offer"


class Ended:
    """Values of ``WaitlistEntry.ended_reason``."""

    LEFT = "left"
    TOOK_OFFER = "took_offer"
    BOOKING_CANCELLED = "booking_cancelled"
    BOOKING_PASSED = "booking_passed"
    DEADLINE_PASSED = "deadline_passed"
    NOTHING_EARLIER = "nothing_earlier"


class OfferGone(Conflict):
    """The offer cannot be taken (any more); ``status`` tells the page what to answer."""

    status = 410


# --------------------------------------------------------------------------- joining


def _weekdays_text(weekdays: Iterable[int]) -> str:
    days = sorted(set(weekdays))
    if any(not 0 <= d <= 6 for d in days):
        raise InvalidInput(_("Please choose weekdays from Monday to Sunday."), code="bad_weekday")
    return "" if len(days) == 7 else ",".join(str(d) for d in days)


def _check_open(calendar: OnlineCalendar) -> None:
    if not calendar.waitlist_enabled:
        raise Forbidden(
            _("This practice does not offer a waiting list for this calendar."),
            code="waitlist_disabled",
        )


def join(
    *,
    patient: PatientProfile,
    booking_id: int | None = None,
    calendar_id: int | None = None,
    visit_type_id: int | None = None,
    before_date: date | None = None,
    weekdays: Iterable[int] = (),
    day_part: str = rules.DAY_PARTS[0],
    now: datetime | None = None,
) -> WaitlistEntry:
    """Put the patient on the waiting list: for a time earlier than their booking
    ``booking_id`` (same calendar and visit type; an offer moves the booking), or for any
    time of ``calendar_id`` / ``visit_type_id`` before the local day ``before_date``."""
    now = now or timezone.now()
    if patient.email_confirmed_at is None:
        raise Forbidden(
            _("Please confirm your e-mail address before joining a waiting list."),
            code="unconfirmed",
        )
    if day_part not in rules.DAY_PARTS:
        raise InvalidInput(_("Please choose a time of day."), code="bad_day_part")
    weekdays_text = _weekdays_text(weekdays)
    booking: Booking | None = None
    if booking_id is not None:
        booking = reschedule.own_active_booking(patient, booking_id)
        calendar, vt = booking.calendar, booking.visit_type
        if not calendar.is_public:
            raise NotFound(_("This online calendar does not exist or is not published."))
        _check_open(calendar)
        if now > reschedule.deadline_of(booking):
            raise Conflict(
                _(
                    "This booking can no longer be moved online, so an earlier time cannot "
                    "be offered; please call the practice."
                ),
                code="deadline_passed",
            )
        before = booking.start
    else:
        if calendar_id is None or visit_type_id is None or before_date is None:
            raise InvalidInput(_("Please choose a date."), code="bad_date")
        calendar = bookings._calendar(calendar_id)
        _check_open(calendar)
        vt = bookings._visit_type(calendar, visit_type_id)
        if vt not in bookings.visit_types_open_to(patient, calendar, [vt]):
            raise InvalidInput(
                _("You cannot book this visit type online in this calendar."),
                code="visit_type_not_open",
            )
        tz = ZoneInfo(calendar.doctor.practice.time_zone)
        if before_date <= now.astimezone(tz).date():
            raise InvalidInput(_("Please choose a date after today."), code="bad_date")
        before = day_bounds_utc(before_date, tz)[0]
    with transaction.atomic():
        # Serializes joins of one practice: two quick clicks do not make two entries.
        feed.lock_practice(calendar.doctor.practice_id)
        waiting = WaitlistEntry.objects.filter(patient=patient, ended_at__isnull=True)
        if booking is not None:
            duplicate = waiting.filter(booking=booking)
        else:
            duplicate = waiting.filter(calendar=calendar, visit_type=vt, booking__isnull=True)
        if duplicate.exists():
            raise Conflict(
                _("You are already on the waiting list for this."), code="already_waiting"
            )
        return WaitlistEntry.objects.create(
            patient=patient,
            calendar=calendar,
            visit_type=vt,
            booking=booking,
            before=before,
            weekdays=weekdays_text,
            day_part=day_part,
        )


def _own_entry(patient: PatientProfile, entry_id: int) -> WaitlistEntry:
    entry = WaitlistEntry.objects.filter(pk=entry_id, patient=patient).first()
    if entry is None:
        raise NotFound(_("There is no such waiting list entry."))  # nor a hint that it exists
    return entry


def leave(*, patient: PatientProfile, entry_id: int, now: datetime | None = None) -> WaitlistEntry:
    """The patient leaves the list; leaving again changes nothing. Live offers of the
    entry can no longer be taken (``offer_ended``) and stop blocking their time."""
    entry = _own_entry(patient, entry_id)
    WaitlistEntry.objects.filter(pk=entry.pk, ended_at__isnull=True).update(
        ended_at=now or timezone.now(), ended_reason=Ended.LEFT
    )
    entry.refresh_from_db()
    return entry


def entries_of(patient: PatientProfile) -> list[WaitlistEntry]:
    """The patient's active entries, oldest first."""
    return list(
        WaitlistEntry.objects.filter(patient=patient, ended_at__isnull=True)
        .select_related(
            "calendar__doctor__practice", "calendar__doctor__location", "visit_type", "booking"
        )
        .order_by("created_at", "pk")
    )


# --------------------------------------------------------------------------- offer round


def _end(entries: Q, reason: str, now: datetime) -> int:
    return WaitlistEntry.objects.filter(entries, ended_at__isnull=True).update(
        ended_at=now, ended_reason=reason
    )


def end_hopeless_entries(now: datetime) -> int:
    """End entries that can get no offer any more: their booking is cancelled or has
    passed, or can no longer be moved online, or nothing bookable lies before it."""
    ended = _end(
        Q(booking__isnull=False) & ~Q(booking__status=Booking.Status.ACTIVE),
        Ended.BOOKING_CANCELLED,
        now,
    )
    ended += _end(Q(booking__start__lte=now), Ended.BOOKING_PASSED, now)
    candidates = WaitlistEntry.objects.filter(ended_at__isnull=True).select_related(
        "calendar", "booking__calendar"
    )
    deadline_passed, nothing_earlier = [], []
    for entry in candidates:
        earliest = now + timedelta(minutes=entry.calendar.lead_minutes)
        if entry.booking is not None and now > reschedule.deadline_of(entry.booking):
            deadline_passed.append(entry.pk)
        elif entry.before <= earliest:
            nothing_earlier.append(entry.pk)
    if deadline_passed:
        ended += _end(Q(pk__in=deadline_passed), Ended.DEADLINE_PASSED, now)
    if nothing_earlier:
        ended += _end(Q(pk__in=nothing_earlier), Ended.NOTHING_EARLIER, now)
    return ended


def _waiting_entry(entry: WaitlistEntry) -> rules.WaitingEntry:
    booking = entry.booking
    return rules.WaitingEntry(
        id=entry.pk,
        rank=(entry.created_at, entry.pk),
        duration_minutes=entry.visit_type.duration_minutes,
        before=entry.before,
        weekdays=frozenset(int(d) for d in entry.weekdays.split(",") if d),
        day_part=entry.day_part,  # type: ignore[arg-type]  # a DayPart value
        booking_start=booking.start if booking is not None else None,
        deadline=reschedule.deadline_of(booking) if booking is not None else None,
    )


def _free_times(
    calendar: OnlineCalendar, entries: list[WaitlistEntry], now: datetime
) -> dict[int, list[Interval]]:
    tz = ZoneInfo(calendar.doctor.practice.time_zone)
    today = now.astimezone(tz).date()
    last = min(
        max(e.before for e in entries).astimezone(tz).date(),
        today + timedelta(days=calendar.horizon_days),
    )
    free: dict[int, list[Interval]] = {}
    for minutes in sorted({e.visit_type.duration_minutes for e in entries}):
        by_day = availability.slots_by_day(calendar, today, last, minutes, now=now)
        free[minutes] = [s for day in sorted(by_day) for s in by_day[day]]
    return free


def _offer_round_for(calendar_id: int, practice_id: int, now: datetime) -> int:
    with transaction.atomic():
        feed.lock_practice(practice_id)
        calendar = OnlineCalendar.objects.select_related(
            "doctor__practice", "doctor__location"
        ).get(pk=calendar_id)
        entries = list(
            WaitlistEntry.objects.filter(
                calendar=calendar, ended_at__isnull=True, visit_type__active=True
            ).select_related("visit_type", "booking__calendar", "patient__user")
        )
        if not entries:
            return 0
        past = [
            rules.PastOffer(o.entry_id, o.start, o.end, o.expires_at, taken=o.taken_at is not None)
            for o in WaitlistOffer.objects.filter(entry__in=entries, start__gt=now)
        ]
        planned = rules.plan_offers(
            [_waiting_entry(e) for e in entries],
            _free_times(calendar, entries, now),
            past,
            now=now,
            zone=ZoneInfo(calendar.doctor.practice.time_zone),
            lifetime=OFFER_LIFETIME,
        )
        by_id = {e.pk: e for e in entries}
        for new in planned:
            offer = WaitlistOffer.objects.create(
                entry=by_id[new.entry_id], start=new.start, end=new.end, expires_at=new.expires_at
            )
            mail_waitlist.waitlist_offer(offer, offer_url(offer))
    return len(planned)


def offer_round(now: datetime | None = None) -> int:
    """One round of the worker: end hopeless entries, then offer free times to the
    waiting entries of every public calendar with the waiting list switched on.
    Returns how many offers were made (and mailed)."""
    now = now or timezone.now()
    end_hopeless_entries(now)
    calendars = (
        OnlineCalendar.objects.public()
        .filter(waitlist_enabled=True, waits__ended_at__isnull=True)
        .values_list("pk", "doctor__practice_id")
        .distinct()
    )
    made = 0
    for calendar_id, practice_id in calendars:
        made += _offer_round_for(calendar_id, practice_id, now)
    return made


# --------------------------------------------------------------------------- taking


def offer_token(offer: WaitlistOffer) -> str:
    """The signed token of the mailed link; names the offer only."""
    return signing.dumps({"offer": offer.pk}, salt=TOKEN_SALT)


def offer_url(offer: WaitlistOffer) -> str:
    from django.urls import reverse

    return mail_waitlist.portal_url(reverse("portal:waitlist-offer", args=[offer_token(offer)]))


def offer_of(patient: PatientProfile, token: str) -> WaitlistOffer:
    """The offer a token names, if it is this patient's; ``NotFound`` otherwise (a forged
    token and someone else's offer look alike)."""
    try:
        offer_id = int(signing.loads(token, salt=TOKEN_SALT)["offer"])
    except (signing.BadSignature, KeyError, TypeError, ValueError):
        raise NotFound(_("There is no such offer.")) from None
    offer = (
        WaitlistOffer.objects.filter(pk=offer_id, entry__patient=patient)
        .select_related(
            "entry__calendar__doctor__practice",
            "entry__calendar__doctor__location",
            "entry__visit_type",
            "entry__booking",
        )
        .first()
    )
    if offer is None:
        raise NotFound(_("There is no such offer."))
    return offer


def check_offer(offer: WaitlistOffer, now: datetime) -> None:
    """Raise ``OfferGone`` if the offer can no longer be taken."""
    if offer.taken_at is not None:
        raise OfferGone(_("You have already taken this offer."), code="offer_used")
    if offer.entry.ended_at is not None:
        raise OfferGone(
            _("This offer has ended: you are no longer on this waiting list."),
            code="offer_ended",
        )
    if now >= offer.expires_at:
        raise OfferGone(
            _("This offer has expired; the time has been offered to the next patient."),
            code="offer_expired",
        )


def _taken_by_someone_else() -> Conflict:
    return Conflict(
        _("Someone else was faster: this time has just been booked."), code="offer_taken"
    )


def take_offer(*, patient: PatientProfile, token: str, now: datetime | None = None) -> Booking:
    """Book the offered time, or move the entry's booking there, in one step; the entry
    ends. Refused with ``offer_used``, ``offer_ended``, ``offer_expired`` (``OfferGone``)
    or ``offer_taken`` (someone was faster)."""
    now = now or timezone.now()
    offer = offer_of(patient, token)
    check_offer(offer, now)
    entry = offer.entry
    try:
        with transaction.atomic():
            # Claim the offer first: a second click (or tab) finds it taken; the claim is
            # rolled back with everything else if the booking fails.
            claimed = WaitlistOffer.objects.filter(
                pk=offer.pk,
                taken_at__isnull=True,
                expires_at__gt=now,
                entry__ended_at__isnull=True,
            ).update(taken_at=now)
            if claimed != 1:
                offer.refresh_from_db()
                entry.refresh_from_db()
                check_offer(offer, now)
                raise _taken_by_someone_else()
            if entry.booking_id is not None:
                booking = reschedule.move_by_patient(
                    patient=patient, booking_id=entry.booking_id, start=offer.start, now=now
                )
            else:
                booking = bookings.book(
                    patient=patient,
                    calendar_id=entry.calendar_id,
                    visit_type_id=entry.visit_type_id,
                    start=offer.start,
                )
            WaitlistEntry.objects.filter(pk=entry.pk).update(
                ended_at=now, ended_reason=Ended.TOOK_OFFER, booking=booking
            )
    except bookings.SlotGone:
        raise _taken_by_someone_else() from None
    except ApplicationError as exc:
        if exc.code == "not_bookable":  # the time has come too near to be booked
            raise OfferGone(
                _("This offer has expired; the time can no longer be booked online."),
                code="offer_expired",
            ) from None
        if exc.code in ("deadline_passed", "already_cancelled"):
            raise OfferGone(exc.message, code="offer_ended") from None
        raise
    return booking


__all__ = [
    "OFFER_LIFETIME",
    "Ended",
    "OfferGone",
    "check_offer",
    "end_hopeless_entries",
    "entries_of",
    "join",
    "leave",
    "offer_of",
    "offer_round",
    "offer_token",
    "offer_url",
    "take_offer",
]
