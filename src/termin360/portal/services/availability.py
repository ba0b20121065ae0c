"""Free slots of an online calendar: loads what blocks time — and, for a calendar that
takes its hours from the practice (S14), the bookable slots the connector sent — and asks
the pure ``domain.availability`` for the rest.

These reads go to the database every time; booking, moving and the waiting list decide
with them. What patients only look at (search, a doctor's slots) is read through
``availability_cache``, which keeps what these functions load per calendar version."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.utils import timezone

from termin360.core.intervals import Interval
from termin360.core.timezones import day_bounds_utc
from termin360.portal.domain.availability import (
    CalendarRules,
    WeeklyHours,
    free_slots,
    free_slots_by_day,
    next_free_slot,
)
from termin360.portal.models import (
    Absence,
    Booking,
    BusyInterval,
    Hold,
    OnlineCalendar,
    PracticeSlots,
)
from termin360.portal.services.sync_claims import active_holds


def rules_of(calendar: OnlineCalendar, *, now: datetime | None = None) -> CalendarRules:
    """The calendar's rules; with hours from the practice, its bookable slots of today
    (``now``'s local day) to the end of the horizon."""
    zone = ZoneInfo(calendar.doctor.practice.time_zone)
    practice_days = None
    if calendar.hours_from_practice:
        today = (now or timezone.now()).astimezone(zone).date()
        practice_days = practice_slots_by_day(
            calendar, today, today + timedelta(days=calendar.horizon_days)
        )
    return rules_from(
        calendar, ((h.weekday, h.start, h.end) for h in calendar.hours.all()), practice_days
    )


def rules_from(
    calendar: OnlineCalendar,
    hours: Iterable[tuple[int, time, time]],
    practice_days: Mapping[date, Sequence[Interval]] | None,
) -> CalendarRules:
    """The rules of ``calendar`` with its weekly ``hours`` (weekday, start, end) and, if it
    takes its hours from the practice, the bookable slots per day (``practice_days``)."""
    return CalendarRules(
        zone=ZoneInfo(calendar.doctor.practice.time_zone),
        slot_minutes=calendar.slot_minutes,
        hours=tuple(WeeklyHours(weekday=d, start=a, end=b) for d, a, b in hours),
        horizon_days=calendar.horizon_days,
        lead_minutes=calendar.lead_minutes,
        practice_days=practice_days if calendar.hours_from_practice else None,
    )


def slots_from_json(data: Sequence[Sequence[str]]) -> list[Interval]:
    return [Interval(datetime.fromisoformat(a), datetime.fromisoformat(b)) for a, b in data]


def practice_slots_by_day(
    calendar: OnlineCalendar, first_day: date, last_day: date
) -> dict[date, list[Interval]]:
    """S14: the bookable slots the practice sent for the days ``first_day``–``last_day``;
    a day it never sent is not a key."""
    rows = PracticeSlots.objects.filter(
        calendar=calendar, day__gte=first_day, day__lte=last_day
    ).values_list("day", "slots")
    return {day: slots_from_json(slots) for day, slots in rows}


def blocked_by_calendar(
    calendar_ids: list[int], start: datetime, end: datetime, *, exclude_booking: int | None = None
) -> dict[int, list[Interval]]:
    """Absences, busy times pushed by the practice, time held for a practice action (S9
    claims) and active bookings in [start, end), per calendar — four queries however
    many calendars (search loads a page at once)."""
    blocked, _holds_end = blocked_and_hold_ends(
        calendar_ids, start, end, exclude_booking=exclude_booking
    )
    return blocked


def blocked_and_hold_ends(
    calendar_ids: list[int], start: datetime, end: datetime, *, exclude_booking: int | None = None
) -> tuple[dict[int, list[Interval]], dict[int, datetime]]:
    """``blocked_by_calendar``, and per calendar when the first S9 hold among them runs out
    (its claim's lease): from then on that time is free again without any write."""
    blocked: dict[int, list[Interval]] = defaultdict(list)
    holds_end: dict[int, datetime] = {}
    bookings = Booking.objects.filter(
        calendar_id__in=calendar_ids, status=Booking.Status.ACTIVE, start__lt=end, end__gt=start
    )
    if exclude_booking is not None:
        bookings = bookings.exclude(pk=exclude_booking)
    # No ORDER BY (Booking is ordered by start): the domain merges the intervals anyway.
    for cal_id, s, e in bookings.order_by().values_list("calendar_id", "start", "end"):
        blocked[cal_id].append(Interval(s, e))
    busy = BusyInterval.objects.filter(calendar_id__in=calendar_ids, start__lt=end, end__gt=start)
    for cal_id, s, e in busy.values_list("calendar_id", "start", "end"):
        blocked[cal_id].append(Interval(s, e))
    holds = Hold.objects.filter(active_holds(calendar_ids, start, end))
    for cal_id, s, e, lease in holds.values_list(
        "calendar_id", "start", "end", "claim__expires_at"
    ):
        blocked[cal_id].append(Interval(s, e))
        holds_end[cal_id] = min(lease, holds_end.get(cal_id, lease))
    # Absences are whole local days; a day either side covers any zone's offset.
    absences = Absence.objects.filter(
        calendar_id__in=calendar_ids,
        last_day__gte=start.date() - timedelta(days=1),
        first_day__lte=end.date() + timedelta(days=1),
    ).values_list("calendar_id", "first_day", "last_day", "calendar__doctor__practice__time_zone")
    for cal_id, first, last, zone in absences:
        tz = ZoneInfo(zone)
        blocked[cal_id].append(Interval(day_bounds_utc(first, tz)[0], day_bounds_utc(last, tz)[1]))
    return blocked, holds_end


def blocked_intervals(
    calendar: OnlineCalendar, start: datetime, end: datetime, *, exclude_booking: int | None = None
) -> list[Interval]:
    """What blocks time in one calendar in [start, end)."""
    return blocked_by_calendar([calendar.pk], start, end, exclude_booking=exclude_booking)[
        calendar.pk
    ]


def _window(calendar: OnlineCalendar, now: datetime) -> tuple[datetime, datetime]:
    tz = ZoneInfo(calendar.doctor.practice.time_zone)
    today = now.astimezone(tz).date()
    start, _ = day_bounds_utc(today, tz)
    _, end = day_bounds_utc(today + timedelta(days=calendar.horizon_days), tz)
    return start, end


def slots_by_day(
    calendar: OnlineCalendar,
    first_day: date,
    last_day: date,
    duration_minutes: int,
    now: datetime | None = None,
) -> dict[date, list[Interval]]:
    now = now or timezone.now()
    tz = ZoneInfo(calendar.doctor.practice.time_zone)
    start, _ = day_bounds_utc(first_day, tz)
    _, end = day_bounds_utc(last_day, tz)
    return free_slots_by_day(
        rules_of(calendar, now=now),
        now=now,
        first_day=first_day,
        last_day=last_day,
        duration_minutes=duration_minutes,
        blocked=blocked_intervals(calendar, start, end),
    )


def first_free(
    calendar: OnlineCalendar, duration_minutes: int, now: datetime | None = None
) -> Interval | None:
    now = now or timezone.now()
    start, end = _window(calendar, now)
    return next_free_slot(
        rules_of(calendar, now=now),
        now=now,
        duration_minutes=duration_minutes,
        blocked=blocked_intervals(calendar, start, end),
    )


def is_free(
    calendar: OnlineCalendar,
    start: datetime,
    duration_minutes: int,
    now: datetime | None = None,
    exclude_booking: int | None = None,
) -> bool:
    """Whether a booking of ``duration_minutes`` may start exactly at ``start``."""
    now = now or timezone.now()
    tz = ZoneInfo(calendar.doctor.practice.time_zone)
    day = start.astimezone(tz).date()
    lo, hi = day_bounds_utc(day, tz)
    slots = free_slots(
        rules_of(calendar, now=now),
        now=now,
        first_day=day,
        last_day=day,
        duration_minutes=duration_minutes,
        blocked=blocked_intervals(calendar, lo, hi, exclude_booking=exclude_booking),
    )
    return any(s.start == start for s in slots)


def upcoming_free(
    calendar: OnlineCalendar, duration_minutes: int, after: datetime, count: int = 3
) -> list[Interval]:
    """A few free slots from ``after`` on — offered when a wished-for time was just taken."""
    tz = ZoneInfo(calendar.doctor.practice.time_zone)
    first = after.astimezone(tz).date()
    found: list[Interval] = []
    for week in range(0, 12):
        lo = first + timedelta(days=7 * week)
        by_day = slots_by_day(calendar, lo, lo + timedelta(days=6), duration_minutes)
        for day in sorted(by_day):
            found.extend(s for s in by_day[day] if s.start >= after)
        if len(found) >= count:
            break
    return found[:count]
