"""What patients look at — search with the next free time, a doctor's free slots — read
from a snapshot of each online calendar that is kept in the process per calendar version
(decision 021).

A snapshot holds everything the pure ``domain.availability`` needs to answer for one
calendar from its local today to the end of its horizon: its rules (weekly hours or the
practice's bookable slots, S14), its active visit types and what blocks time (bookings,
busy time, S9 holds, absences), merged once. Any number of next-free times and weeks of
slots are then computed from it without the database.

**When a snapshot may answer.** Every write that changes what a calendar offers bumps the
calendar's version in its own transaction — triggers of portal migration 0010 do it, so no
code path can forget — and the reads here fetch the version in the same query that finds
the calendar (``with_version``). A snapshot answers only for the version it was loaded
under, on the local day it starts at, and — as an S9 hold frees its time when its lease
runs out, without any write — only until the first hold it counts ends. The lead time is
applied to the request's own ``now`` each time. So a snapshot shows what loading afresh
would have shown when that query ran: never a time taken before it.

If the triggers are not all there (a database migrated back, or a table rebuilt by a
later SQLite migration), nothing is kept: every read loads afresh, as before.

Booking, moving and the waiting list do not read from here; they decide under the
practice lock with ``services.availability``.
"""

from __future__ import annotations

import threading
from collections import OrderedDict, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from time import monotonic
from zoneinfo import ZoneInfo

from django.db import connection
from django.db.models import QuerySet
from django.db.models.expressions import RawSQL

from termin360.core.intervals import Interval
from termin360.core.timezones import day_bounds_utc
from termin360.portal.domain.availability import (
    BlockedTime,
    CalendarRules,
    free_slots_by_day,
    next_free_slot,
)
from termin360.portal.models import OnlineCalendar, PracticeSlots, VisitType, WeeklyHours
from termin360.portal.services.availability import (
    blocked_and_hold_ends,
    rules_from,
    slots_from_json,
)

# How many calendars a process keeps (least recently used first out): a snapshot of a
# 12-week horizon with a few hundred bookings and busy times is some 20 KB.
MAX_CALENDARS = 5000
# How often a process checks that the triggers keeping the versions are all there.
TRIGGER_CHECK_SECONDS = 300.0

VERSION_TABLE = "portal_availability_version"
# The triggers of migration 0010 (the same names on PostgreSQL and SQLite).
TRIGGERS = (
    *(
        f"portal_av_{table}_{event}"
        for table in (
            *("busyinterval", "hold", "absence", "weeklyhours", "practiceslots", "visittype"),
            *("booking", "onlinecalendar"),
        )
        for event in ("ins", "upd", "del")
    ),
    *("portal_av_practice", "portal_av_doctor", "portal_av_claim"),
)


def with_version(calendars: QuerySet[OnlineCalendar]) -> QuerySet[OnlineCalendar]:
    """The calendars with their current version (``availability_version``; ``None`` when
    the database keeps none), read in the same query."""
    return calendars.annotate(
        availability_version=RawSQL(  # noqa: S611 - no input goes into it
            f"SELECT v.version FROM {VERSION_TABLE} v "  # noqa: S608 - constants only
            f'WHERE v.calendar_id = "{OnlineCalendar._meta.db_table}"."id"',
            (),
        )
    )


@dataclass(frozen=True)
class CalendarAvailability:
    """One calendar as of one version, from its local ``today`` to the end of its horizon.

    ``visit_types``: the active ones, shortest first — shared by every request that reads
    this snapshot, so to be read, never changed."""

    calendar_id: int
    version: int | None
    rules: CalendarRules
    visit_types: tuple[VisitType, ...]
    blocked: BlockedTime
    today: date
    loaded_at: datetime
    # When the first S9 hold counted in ``blocked`` runs out (None: it counts none).
    valid_until: datetime | None
    # The last next free slot found per visit length, and when it was asked for.
    _next: dict[int, tuple[datetime, Interval | None]] = field(
        default_factory=dict, compare=False, repr=False
    )

    def answers_for(self, version: int | None, now: datetime) -> bool:
        """Whether this snapshot may answer for a calendar read at ``version`` at ``now``."""
        return (
            version is not None
            and version == self.version
            and self.loaded_at <= now
            and (self.valid_until is None or now < self.valid_until)
            and now.astimezone(self.rules.zone).date() == self.today
        )

    def next_free(self, duration_minutes: int, now: datetime) -> Interval | None:
        """The first free slot of ``duration_minutes`` from ``now`` on. Within a snapshot
        time only takes slots away (the lead time moves on), so the slot found for an
        earlier ``now`` of the same day is still the first while the lead time allows it."""
        asked = self._next.get(duration_minutes)
        if asked is not None:
            asked_at, found = asked
            same_day = (
                asked_at.astimezone(self.rules.zone).date()
                == now.astimezone(self.rules.zone).date()
            )
            if asked_at <= now and same_day:
                if found is None:
                    return None
                if found.start >= now + timedelta(minutes=self.rules.lead_minutes):
                    return found
        found = next_free_slot(
            self.rules, now=now, duration_minutes=duration_minutes, blocked=self.blocked
        )
        self._next[duration_minutes] = (now, found)
        return found

    def free_by_day(
        self, first_day: date, last_day: date, duration_minutes: int, now: datetime
    ) -> dict[date, list[Interval]]:
        return free_slots_by_day(
            self.rules,
            now=now,
            first_day=first_day,
            last_day=last_day,
            duration_minutes=duration_minutes,
            blocked=self.blocked,
        )


class _Store:
    """The process's snapshots by calendar id, least recently used first out."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.entries: OrderedDict[int, CalendarAvailability] = OrderedDict()
        self.lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(
        self, calendar_id: int, version: int | None, now: datetime
    ) -> CalendarAvailability | None:
        with self.lock:
            entry = self.entries.get(calendar_id)
            if entry is None or not entry.answers_for(version, now):
                self.misses += 1
                return None
            self.entries.move_to_end(calendar_id)
            self.hits += 1
            return entry

    def put(self, entry: CalendarAvailability) -> None:
        with self.lock:
            self.entries[entry.calendar_id] = entry
            self.entries.move_to_end(entry.calendar_id)
            while len(self.entries) > self.size:
                self.entries.popitem(last=False)

    def clear(self) -> None:
        with self.lock:
            self.entries.clear()
            self.hits = self.misses = 0


_store = _Store(MAX_CALENDARS)
_trigger_check: tuple[float, bool] | None = None


def stats() -> dict[str, int]:
    """Hits, misses and calendars kept in this process (for benchmarks and tests)."""
    return {"hits": _store.hits, "misses": _store.misses, "kept": len(_store.entries)}


def clear() -> None:
    """Forget every snapshot and the trigger check (tests)."""
    global _trigger_check
    _store.clear()
    _trigger_check = None


def versions_kept() -> bool:
    """Whether every trigger that keeps the versions is there and enabled; asked of the
    database at most every ``TRIGGER_CHECK_SECONDS`` per process."""
    global _trigger_check
    now = monotonic()
    if _trigger_check is not None and now - _trigger_check[0] < TRIGGER_CHECK_SECONDS:
        return _trigger_check[1]
    names = ", ".join(["%s"] * len(TRIGGERS))
    if connection.vendor == "postgresql":
        sql = (
            "SELECT count(DISTINCT tgname) FROM pg_trigger "  # noqa: S608 - placeholders only
            f"WHERE tgname IN ({names}) AND tgenabled <> 'D'"
        )
    else:
        sql = f"SELECT count(*) FROM sqlite_master WHERE type = 'trigger' AND name IN ({names})"  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(sql, TRIGGERS)
        row = cursor.fetchone()
    ok = row is not None and row[0] == len(TRIGGERS)
    _trigger_check = (now, ok)
    return ok


def availability_of(
    calendars: Sequence[OnlineCalendar], *, now: datetime
) -> dict[int, CalendarAvailability]:
    """A snapshot per calendar: kept ones where they still answer, the others loaded
    together (a handful of queries however many). The calendars must come with their
    practice (``select_related("doctor__practice")``) and, to be kept, ``with_version``."""
    found: dict[int, CalendarAvailability] = {}
    missing: list[OnlineCalendar] = []
    keep = versions_kept()
    for cal in calendars:
        version = _version(cal) if keep else None
        entry = _store.get(cal.pk, version, now) if version is not None else None
        if entry is None:
            missing.append(cal)
        else:
            found[cal.pk] = entry
    if missing:
        for entry in _load(missing, now):
            found[entry.calendar_id] = entry
            if entry.version is not None and keep:
                _store.put(entry)
    return found


def _version(calendar: OnlineCalendar) -> int | None:
    version = getattr(calendar, "availability_version", None)
    return int(version) if version is not None else None


def _load(calendars: Sequence[OnlineCalendar], now: datetime) -> list[CalendarAvailability]:
    ids = [c.pk for c in calendars]
    zones = {c.pk: ZoneInfo(c.doctor.practice.time_zone) for c in calendars}
    today = {c.pk: now.astimezone(zones[c.pk]).date() for c in calendars}
    last = {c.pk: today[c.pk] + timedelta(days=c.horizon_days) for c in calendars}
    hours: dict[int, list[tuple[int, time, time]]] = defaultdict(list)
    rows = WeeklyHours.objects.filter(calendar_id__in=ids).order_by()
    for cal_id, weekday, start, end in rows.values_list("calendar_id", "weekday", "start", "end"):
        hours[cal_id].append((weekday, start, end))
    types: dict[int, list[VisitType]] = defaultdict(list)
    for vt in VisitType.objects.filter(calendar_id__in=ids, active=True):
        types[vt.calendar_id].append(vt)
    practice_days = _practice_days([c for c in calendars if c.hours_from_practice], today, last)
    lo = min(day_bounds_utc(today[c.pk], zones[c.pk])[0] for c in calendars)
    hi = max(day_bounds_utc(last[c.pk], zones[c.pk])[1] for c in calendars)
    blocked, holds_end = blocked_and_hold_ends(ids, lo, hi)
    return [
        CalendarAvailability(
            calendar_id=c.pk,
            version=_version(c),
            rules=rules_from(c, hours[c.pk], practice_days.get(c.pk)),
            visit_types=tuple(types[c.pk]),
            blocked=BlockedTime.of(blocked[c.pk]),
            today=today[c.pk],
            loaded_at=now,
            valid_until=holds_end.get(c.pk),
        )
        for c in calendars
    ]


def _practice_days(
    calendars: Iterable[OnlineCalendar], first: dict[int, date], last: dict[int, date]
) -> dict[int, dict[date, list[Interval]]]:
    """S14: the bookable slots the practice sent, per calendar and local day, in one query."""
    wanted = list(calendars)
    days: dict[int, dict[date, list[Interval]]] = {c.pk: {} for c in wanted}
    if not wanted:
        return days
    rows = PracticeSlots.objects.filter(
        calendar_id__in=[c.pk for c in wanted],
        day__gte=min(first[c.pk] for c in wanted),
        day__lte=max(last[c.pk] for c in wanted),
    ).values_list("calendar_id", "day", "slots")
    for cal_id, day, slots in rows:
        if first[cal_id] <= day <= last[cal_id]:
            days[cal_id][day] = slots_from_json(slots)
    return days
