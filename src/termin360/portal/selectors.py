"""Reads of the portal: doctor search with the next free slot (P2), a doctor's slots,
and how a calendar's typed hours compare with the practice calendar's grid (S14).

Search computes the next free slot only for the page of results it returns and loads
what blocks time (absences, busy times, bookings) for all of them in three queries,
so its cost follows the page size, not the number of calendars.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from django.db.models import Q, QuerySet
from django.utils import timezone

from termin360.core.intervals import Interval
from termin360.core.names import normalize_name
from termin360.portal.domain import visit_types as visit_type_rules
from termin360.portal.domain.availability import CalendarRules, next_free_slot
from termin360.portal.domain.practice_hours import days_differing
from termin360.portal.models import (
    Doctor,
    OnlineCalendar,
    VisitType,
)
from termin360.portal.services.availability import (
    blocked_by_calendar,
    practice_slots_by_day,
    rules_of,
)

MAX_PAGE = 50
# Days searched first for a result's next free slot (see search_doctors).
FIRST_WINDOW_DAYS = 7


@dataclass
class SearchResult:
    doctor: Doctor
    calendar: OnlineCalendar
    visit_types: list[VisitType]
    next_free: Interval | None
    # The type the next free time is for (what the doctor page shows first); None: the
    # patient must choose, and ``next_free`` is that of the shortest type.
    visit_type: VisitType | None = None


def specialties() -> list[str]:
    return sorted(
        set(
            Doctor.objects.filter(calendar__in=OnlineCalendar.objects.public()).values_list(
                "specialty", flat=True
            )
        )
    )


def _matching(specialty: str, place: str, name: str, insurance: str) -> QuerySet[OnlineCalendar]:
    qs = OnlineCalendar.objects.public().select_related("doctor__location", "doctor__practice")
    if specialty.strip():
        qs = qs.filter(doctor__specialty__iexact=specialty.strip())
    place = place.strip()
    if place:
        if place.isdigit():
            qs = qs.filter(doctor__location__postcode__startswith=place)
        else:
            qs = qs.filter(doctor__location__city_key=normalize_name(place))
    for term in normalize_name(name).split():
        qs = qs.filter(doctor__search_key__contains=term)
    if insurance:
        qs = qs.filter(
            Q(visit_types__active=True) & Q(visit_types__insurances__contains=insurance)
        ).distinct()
    return qs.order_by("doctor__last_name", "doctor__first_name", "pk")


def search_doctors(
    *,
    specialty: str = "",
    place: str = "",
    name: str = "",
    insurance: str = "",
    offset: int = 0,
    limit: int = 20,
    now: datetime | None = None,
    known_to: set[int] | None = None,
) -> tuple[int, list[SearchResult]]:
    """(number of matches, one page of results with each doctor's next free slot).

    The next free slot is that of the visit type the doctor page would show first
    (``domain.visit_types.preferred``): for a visitor, among the types open to new
    patients; for a patient, ``known_to`` names the practices that know her."""
    now = now or timezone.now()
    limit = max(1, min(limit, MAX_PAGE))
    qs = _matching(specialty, place, name, insurance)
    total = qs.count()
    page = list(qs.prefetch_related("hours", "visit_types")[offset : offset + limit])
    if not page:
        return total, []
    # Most calendars have a free slot within days: load the first week's blocked time for
    # the page, and the whole horizon only for calendars that have nothing in that week
    # (loading 12 weeks of bookings for 20 calendars was most of a search's time).
    ids = [c.pk for c in page]
    blocked = blocked_by_calendar(
        ids, now - timedelta(days=1), now + timedelta(days=FIRST_WINDOW_DAYS + 2)
    )
    results = []
    pending: list[tuple[SearchResult, CalendarRules, int]] = []
    for cal in page:
        types = [
            vt
            for vt in cal.visit_types.all()
            if vt.active and (not insurance or vt.allows(insurance))
        ]
        existing = known_to is not None and cal.doctor.practice_id in known_to
        open_types = visit_type_rules.for_patients(types, existing=existing)
        preferred = visit_type_rules.preferred(open_types, cal.default_visit_type_id)
        shortest = (
            preferred.duration_minutes
            if preferred is not None
            else min((vt.duration_minutes for vt in types), default=None)
        )
        result = SearchResult(cal.doctor, cal, types, None, preferred)
        results.append(result)
        if shortest is None:
            continue
        rules = rules_of(cal, now=now)
        first_week = replace(rules, horizon_days=min(rules.horizon_days, FIRST_WINDOW_DAYS))
        result.next_free = next_free_slot(
            first_week, now=now, duration_minutes=shortest, blocked=blocked[cal.pk]
        )
        if result.next_free is None and rules.horizon_days > FIRST_WINDOW_DAYS:
            pending.append((result, rules, shortest))
    if pending:
        horizon = max(rules.horizon_days for _, rules, _ in pending)
        blocked = blocked_by_calendar(
            [r.calendar.pk for r, _, _ in pending],
            now - timedelta(days=1),
            now + timedelta(days=horizon + 2),
        )
        for result, rules, shortest in pending:
            result.next_free = next_free_slot(
                rules, now=now, duration_minutes=shortest, blocked=blocked[result.calendar.pk]
            )
    return total, results


@dataclass(frozen=True)
class HoursCheck:
    """S14: of the days from today to the end of the horizon, how many the practice's
    connector sent its grid for, and on which of them the typed weekly hours differ."""

    days_sent: int
    differing: list[date]


def practice_hours_check(calendar: OnlineCalendar, now: datetime | None = None) -> HoursCheck:
    now = now or timezone.now()
    today = now.astimezone(ZoneInfo(calendar.doctor.practice.time_zone)).date()
    grid = practice_slots_by_day(calendar, today, today + timedelta(days=calendar.horizon_days))
    rules = replace(rules_of(calendar, now=now), practice_days=None)
    return HoursCheck(days_sent=len(grid), differing=days_differing(rules, grid))
