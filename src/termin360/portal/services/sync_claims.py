"""S9 on the portal: claims that hold time for a practice action (decision 009).

A practice action in a mapped column claims its time before it is saved. Under the
practice lock — the lock every online booking of the practice takes too — the portal
either refuses the claim, because an active online booking the connector has not seen
yet holds (part of) that time, or records ``Hold`` rows for it. Whichever of a claim and
a booking takes the lock first wins; the other is refused cleanly:

- booking first → the claim is refused (``OnlineBookingHoldsTime``, naming the booking,
  which the connector pulls in at once);
- claim first → the booking sees the hold as blocked time (``availability``) and is
  refused with ``slot_taken`` and the next free times.

A hold ends when the busy state of its day arrives naming the claim (``settle``: from
then on the busy state itself blocks the time), when the practice releases the claim
(``release_claim``: the action was not saved), or when its lease runs out
(``CLAIM_LEASE_SECONDS``: the practice crashed between claim and commit, or its busy
state never came). Repeating a claim changes nothing: its row stays a day as a
tombstone, so even a copy of the request delayed past the busy state holds nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from termin360.core.errors import Conflict
from termin360.portal.models import Booking, ChangeEvent, Claim, Hold, Practice
from termin360.portal.services import feed
from termin360.protocol.messages import CLAIM_LEASE_SECONDS, ClaimResult
from termin360.protocol.messages import Claim as ClaimMessage

# Ended and expired claims are kept this long, so that a late copy of a claim request
# finds its tombstone instead of holding the time again.
KEEP = timedelta(days=1)


class OnlineBookingHoldsTime(Conflict):
    """S9: an online booking the connector has not seen yet holds the claimed time. The
    answer lists those bookings (``bookings``) so that the connector can pull them in."""

    code = "online_booking_holds_time"


def active_holds(calendar_ids: Iterable[int], start: datetime, end: datetime) -> Q:
    """Filter for the ``Hold`` rows that block time of these calendars in [start, end)."""
    return Q(
        calendar_id__in=list(calendar_ids),
        start__lt=end,
        end__gt=start,
        claim__ended_at__isnull=True,
        claim__expires_at__gt=timezone.now(),
    )


def _describe(booking: Booking, tz: ZoneInfo) -> str:
    local = booking.start.astimezone(tz)
    return _("booking %(id)s, %(when)s") % {"id": booking.pk, "when": f"{local:%d.%m.%Y %H:%M}"}


def _holding_bookings(practice: Practice, claim: ClaimMessage) -> list[Booking]:
    """Active bookings overlapping the claimed time that the connector cannot know of:
    booked or moved after its cursor, and not among those it says it pulled in already.
    A booking it has seen is its own business: the practice calendar shows it, and
    claiming its time is the practice's decision (S10 then moves or cancels it).

    Usually nothing overlaps at all: that is one small query; the feed is asked only
    about bookings that do."""
    overlap = Q()
    for day in claim.days:
        for iv in day.intervals:
            overlap |= Q(calendar_id=day.online_calendar_id, start__lt=iv.end, end__gt=iv.start)
    overlapping = list(
        Booking.objects.filter(overlap, status=Booking.Status.ACTIVE)
        .exclude(pk__in=claim.known)
        .values_list("pk", flat=True)
    )
    if not overlapping:
        return []
    unseen = ChangeEvent.objects.filter(
        practice=practice,
        booking_id__in=overlapping,
        kind__in=("booked", "moved"),
        seq__gt=claim.after_seq,
    ).values("booking_id")
    return list(
        Booking.objects.filter(pk__in=unseen).select_related("visit_type").order_by("start")
    )


def claim_time(*, practice: Practice, claim: ClaimMessage) -> ClaimResult:
    """Hold the claimed time, or refuse with ``OnlineBookingHoldsTime``. The caller has
    checked that the calendars are the practice's and the intervals lie on their days."""
    now = timezone.now()
    with transaction.atomic():
        feed.lock_practice(practice.pk)
        earlier = Claim.objects.filter(practice=practice, key=claim.claim_id).first()
        if earlier is not None:  # a repeat, or a claim already settled or released
            return ClaimResult(ok=True, claim_id=earlier.key, expires_at=earlier.expires_at)
        holding = _holding_bookings(practice, claim)
        if holding:
            tz = ZoneInfo(practice.time_zone)
            raise OnlineBookingHoldsTime(
                _("This time is booked online (%(bookings)s).")
                % {"bookings": "; ".join(_describe(b, tz) for b in holding)},
                bookings=[feed.booking_payload(b) for b in holding],
            )
        record = Claim.objects.create(
            practice=practice,
            key=claim.claim_id,
            expires_at=now + timedelta(seconds=CLAIM_LEASE_SECONDS),
        )
        Hold.objects.bulk_create(
            Hold(
                claim=record,
                calendar_id=day.online_calendar_id,
                day=day.day,
                start=iv.start,
                end=iv.end,
            )
            for day in claim.days
            for iv in day.intervals
        )
    return ClaimResult(ok=True, claim_id=record.key, expires_at=record.expires_at)


def forget_old(now: datetime | None = None) -> int:
    """Delete claims ended or expired more than ``KEEP`` ago (the worker calls this every
    round; a claim keeps nothing from a booking in the meantime)."""
    now = now or timezone.now()
    deleted, _per_model = Claim.objects.filter(expires_at__lt=now - KEEP).delete()
    return deleted


def _tombstones(practice: Practice, keys: set[str], now: datetime) -> None:
    """Record claims that end before they were seen (their request is late or lost)."""
    Claim.objects.bulk_create(
        [Claim(practice=practice, key=k, expires_at=now, ended_at=now) for k in sorted(keys)],
        ignore_conflicts=True,
    )


def settle(*, practice: Practice, calendar_id: int, day: date, keys: list[str]) -> None:
    """The busy state of (calendar, day) that arrived includes these claims' actions: their
    holds on that day end (the busy state blocks the time now). Inside the caller's
    transaction, under the practice lock."""
    if not keys:
        return
    wanted = set(keys)
    found = dict(Claim.objects.filter(practice=practice, key__in=wanted).values_list("key", "pk"))
    _tombstones(practice, wanted - set(found), timezone.now())
    Hold.objects.filter(claim_id__in=found.values(), calendar_id=calendar_id, day=day).delete()


def release_claim(*, practice: Practice, key: str) -> bool:
    """The practice action was not saved: end the claim. True if it held anything."""
    now = timezone.now()
    with transaction.atomic():
        claim = Claim.objects.filter(practice=practice, key=key).first()
        if claim is None:
            _tombstones(practice, {key}, now)
            return False
        deleted, _per_model = Hold.objects.filter(claim=claim).delete()
        if claim.ended_at is None:
            Claim.objects.filter(pk=claim.pk).update(ended_at=now)
    return deleted > 0
