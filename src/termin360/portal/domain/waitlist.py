"""The waiting list for an earlier time (Warteliste, P9): which freed time goes to whom.

A patient waits for free time of one online calendar and visit type that starts
before ``before`` (the start of their booking, or a date), optionally only on some
weekdays or at some time of day (in the practice's zone). Each round of the worker
hands the free times to the waiting entries:

* the free times are taken in chronological order (the earliest time is the most
  wanted); each goes to the *first* entry, in order of request, that it suits, that
  has no live offer and that has never been offered that start;
* a time overlapping a *live* offer (not expired, not taken) is offered to nobody
  else meanwhile, so two patients never race for a time they were both promised;
* an entry holds at most one live offer;
* an offer that expires untaken frees its time: the next round gives it to the next
  entry in order (the first never gets the same start again).

An offer lives ``OFFER_LIFETIME`` (30 minutes), shorter when the time is near — an
eighth of the time left until it starts, but at least ``MIN_OFFER_LIFETIME`` — and
never past the entry's ``deadline`` (when its booking can no longer be moved online).

Pure: plain dataclasses and datetimes, no Django.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from termin360.core.intervals import Interval

OFFER_LIFETIME = timedelta(minutes=30)
MIN_OFFER_LIFETIME = timedelta(minutes=10)
NOON = time(12, 0)

DayPart = Literal["any", "morning", "afternoon"]
DAY_PARTS: tuple[DayPart, ...] = ("any", "morning", "afternoon")


@dataclass(frozen=True, slots=True)
class WaitingEntry:
    """One patient's wish. ``rank`` orders entries by request (created_at, id);
    ``weekdays`` empty means every day (0 = Monday); ``booking_start`` is set when an
    offer would move an existing booking."""

    id: int
    rank: tuple[datetime, int]
    duration_minutes: int
    before: datetime
    weekdays: frozenset[int] = frozenset()
    day_part: DayPart = "any"
    booking_start: datetime | None = None
    deadline: datetime | None = None

    def __post_init__(self) -> None:
        if self.day_part not in DAY_PARTS:
            raise ValueError(f"unknown day part {self.day_part!r}")
        if any(not 0 <= d <= 6 for d in self.weekdays):
            raise ValueError("weekdays are 0 (Monday) … 6 (Sunday)")

    def latest_start(self) -> datetime:
        """Offered times must start before this."""
        if self.booking_start is not None and self.booking_start < self.before:
            return self.booking_start
        return self.before


@dataclass(frozen=True, slots=True)
class PastOffer:
    """An offer made in an earlier round."""

    entry_id: int
    start: datetime
    end: datetime
    expires_at: datetime
    taken: bool = False

    def live(self, now: datetime) -> bool:
        return not self.taken and self.expires_at > now


@dataclass(frozen=True, slots=True)
class NewOffer:
    entry_id: int
    start: datetime
    end: datetime
    expires_at: datetime


def suits(entry: WaitingEntry, start: datetime, zone: ZoneInfo) -> bool:
    """Whether a time starting at ``start`` is what ``entry`` waits for (duration aside)."""
    if start >= entry.latest_start():
        return False
    local = start.astimezone(zone)
    if entry.weekdays and local.weekday() not in entry.weekdays:
        return False
    if entry.day_part == "morning":
        return local.time() < NOON
    if entry.day_part == "afternoon":
        return local.time() >= NOON
    return True


def offer_expiry(
    start: datetime,
    now: datetime,
    *,
    lifetime: timedelta = OFFER_LIFETIME,
    deadline: datetime | None = None,
) -> datetime:
    """Until when an offer of ``start`` made at ``now`` may be taken (see the module doc)."""
    valid = min(lifetime, max(MIN_OFFER_LIFETIME, (start - now) / 8))
    expires = now + valid
    if deadline is not None and deadline < expires:
        expires = deadline
    return min(expires, start)


def plan_offers(
    entries: Iterable[WaitingEntry],
    free_by_duration: Mapping[int, Sequence[Interval]],
    offers: Iterable[PastOffer],
    *,
    now: datetime,
    zone: ZoneInfo,
    lifetime: timedelta = OFFER_LIFETIME,
) -> list[NewOffer]:
    """The offers to make in this round (see the module doc for the rules).

    ``entries``: the waiting entries of one calendar; ``free_by_duration``: the free
    times per visit duration in minutes; ``offers``: the offers made so far to these
    entries. Returns new offers in chronological order of their times.
    """
    ordered = sorted(entries, key=lambda e: e.rank)
    past = list(offers)
    offered_before = {(o.entry_id, o.start) for o in past}
    live: list[Interval] = [Interval(o.start, o.end) for o in past if o.live(now)]
    busy_entries = {o.entry_id for o in past if o.live(now)}

    times = sorted(
        (slot.start, minutes, slot) for minutes, slots in free_by_duration.items() for slot in slots
    )
    made: list[NewOffer] = []
    for start, minutes, slot in times:
        if start <= now or any(slot.overlaps(iv) for iv in live):
            continue
        for entry in ordered:
            if (
                entry.duration_minutes != minutes
                or entry.id in busy_entries
                or (entry.id, start) in offered_before
                or (entry.deadline is not None and entry.deadline <= now)
                or not suits(entry, start, zone)
            ):
                continue
            expires = offer_expiry(start, now, lifetime=lifetime, deadline=entry.deadline)
            made.append(NewOffer(entry.id, slot.start, slot.end, expires))
            live.append(slot)
            busy_entries.add(entry.id)
            offered_before.add((entry.id, start))
            break
    return made


__all__ = [
    "DAY_PARTS",
    "MIN_OFFER_LIFETIME",
    "OFFER_LIFETIME",
    "DayPart",
    "NewOffer",
    "PastOffer",
    "WaitingEntry",
    "offer_expiry",
    "plan_offers",
    "suits",
]
