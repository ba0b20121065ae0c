"""Reads of the portal: doctor search with the next free slot (P2), a doctor's slots,
and how a calendar's typed hours compare with the practice calendar's grid (S14).

Search finds one page of calendars and the number of all matches in one query, with
each calendar's version; the next free slot of each comes from the calendar's snapshot
(``services.availability_cache``), and the calendars without a current one are loaded
together in a handful of queries — so a search's cost follows the page size, not the
number of calendars, and a repeated one costs one query.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from django.db.models import Count, Exists, OuterRef, QuerySet, Window
from django.utils import timezone

from termin360.core.intervals import Interval
from termin360.core.names import normalize_name
from termin360.portal.domain import visit_types as visit_type_rules
from termin360.portal.domain.practice_hours import days_differing
from termin360.portal.models import (
    Doctor,
    OnlineCalendar,
    VisitType,
)
from termin360.portal.services.availability import practice_slots_by_day, rules_of
from termin360.portal.services.availability_cache import availability_of, with_version

MAX_PAGE = 50


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
        # EXISTS, not a join: a calendar with two such types is still one row, so the page
        # query needs no DISTINCT and can count the matches in the same go.
        offered = VisitType.objects.filter(
            calendar=OuterRef("pk"), active=True, insurances__contains=insurance
        )
        qs = qs.filter(Exists(offered))
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
    page = list(with_version(qs).annotate(matches=Window(Count("pk")))[offset : offset + limit])
    if not page:
        return (qs.count() if offset else 0), []
    total = int(page[0].matches)
    snapshots = availability_of(page, now=now)
    results = []
    for cal in page:
        snapshot = snapshots[cal.pk]
        types = [vt for vt in snapshot.visit_types if not insurance or vt.allows(insurance)]
        existing = known_to is not None and cal.doctor.practice_id in known_to
        open_types = visit_type_rules.for_patients(types, existing=existing)
        preferred = visit_type_rules.preferred(open_types, cal.default_visit_type_id)
        shortest = (
            preferred.duration_minutes
            if preferred is not None
            else min((vt.duration_minutes for vt in types), default=None)
        )
        next_free = snapshot.next_free(shortest, now) if shortest is not None else None
        results.append(SearchResult(cal.doctor, cal, types, next_free, preferred))
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
