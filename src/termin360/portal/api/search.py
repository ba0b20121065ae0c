"""Public reads (P2): search doctors, specialties, a published calendar and its free slots.
No login needed; unpublished calendars do not exist here (404)."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated
from zoneinfo import ZoneInfo

from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import Path, Query, Router

from termin360.core.errors import NotFound
from termin360.portal import selectors
from termin360.portal.api import schemas
from termin360.portal.models import Doctor, OnlineCalendar, VisitType
from termin360.portal.services.availability import slots_by_day
from termin360.webapi.responses import errors

router = Router(tags=["search"])

CalendarId = Annotated[int, Path(ge=1, le=schemas.MAX_ID)]


def doctor_out(doctor: Doctor) -> schemas.DoctorOut:
    return schemas.DoctorOut(
        id=doctor.pk,
        title=doctor.title,
        first_name=doctor.first_name,
        last_name=doctor.last_name,
        display_name=doctor.display_name,
    )


def location_out(doctor: Doctor) -> schemas.LocationOut:
    loc = doctor.location
    return schemas.LocationOut(
        name=loc.name, street=loc.street, postcode=loc.postcode, city=loc.city
    )


def visit_type_out(vt: VisitType) -> schemas.VisitTypeOut:
    return schemas.VisitTypeOut(
        id=vt.pk,
        name=vt.name,
        duration_minutes=vt.duration_minutes,
        new_patients=vt.new_patients,
        existing_patients=vt.existing_patients,
        insurances=[i for i in vt.insurances.split(",") if i],  # type: ignore[misc]
    )


def _languages(doctor: Doctor) -> list[str]:
    return [lang.strip() for lang in doctor.languages.split(",") if lang.strip()]


def published_calendar(calendar_id: int) -> OnlineCalendar:
    calendar = (
        OnlineCalendar.objects.public()
        .select_related("doctor__practice", "doctor__location")
        .prefetch_related("hours", "visit_types")
        .filter(pk=calendar_id)
        .first()
    )
    if calendar is None:
        raise NotFound(_("This online calendar does not exist or is not published."))
    return calendar


def _active_types(calendar: OnlineCalendar) -> list[VisitType]:
    return [vt for vt in calendar.visit_types.all() if vt.active]


@router.get("/search", response={200: schemas.SearchOut, **errors(422)})
def search(request: HttpRequest, query: Query[schemas.SearchQuery]) -> schemas.SearchOut:
    """Published calendars by specialty, place (city or postcode), name and insurance type,
    ordered by the doctor's name, each with the next free slot of its shortest visit type."""
    total, page = selectors.search_doctors(
        specialty=query.specialty,
        place=query.place,
        name=query.name,
        insurance=query.insurance,
        offset=query.offset,
        limit=query.limit,
    )
    results = []
    for hit in page:
        doctor = hit.doctor
        tz = ZoneInfo(doctor.practice.time_zone)
        results.append(
            schemas.SearchResultOut(
                calendar_id=hit.calendar.pk,
                doctor=doctor_out(doctor),
                specialty=doctor.specialty,
                languages=_languages(doctor),
                practice=doctor.practice.name,
                location=location_out(doctor),
                visit_types=[visit_type_out(vt) for vt in hit.visit_types],
                next_free_slot=hit.next_free.start.astimezone(tz) if hit.next_free else None,
            )
        )
    return schemas.SearchOut(total=total, offset=query.offset, limit=query.limit, results=results)


@router.get("/specialties", response={200: list[str], **errors()})
def specialties(request: HttpRequest) -> list[str]:
    """The specialties of published calendars, sorted."""
    return selectors.specialties()


@router.get("/calendars/{calendar_id}", response={200: schemas.CalendarOut, **errors(404, 422)})
def calendar_info(request: HttpRequest, calendar_id: CalendarId) -> schemas.CalendarOut:
    """What a patient needs to know about a published online calendar before booking."""
    cal = published_calendar(calendar_id)
    doctor = cal.doctor
    return schemas.CalendarOut(
        id=cal.pk,
        name=cal.name,
        doctor=doctor_out(doctor),
        specialty=doctor.specialty,
        languages=_languages(doctor),
        practice=doctor.practice.name,
        location=location_out(doctor),
        time_zone=doctor.practice.time_zone,
        slot_minutes=cal.slot_minutes,
        horizon_days=cal.horizon_days,
        lead_minutes=cal.lead_minutes,
        cancel_deadline_hours=cal.cancel_deadline_hours,
        visit_types=[visit_type_out(vt) for vt in _active_types(cal)],
    )


@router.get("/calendars/{calendar_id}/slots", response={200: schemas.SlotsOut, **errors(404, 422)})
def calendar_slots(
    request: HttpRequest, calendar_id: CalendarId, query: Query[schemas.SlotsQuery]
) -> schemas.SlotsOut:
    """Free slots per local day from ``from`` (default today) for ``days`` days, for one
    visit type (default the shortest). Days outside the booking horizon are empty."""
    cal = published_calendar(calendar_id)
    types = _active_types(cal)
    if query.visit_type is None:
        if not types:
            raise NotFound(_("This visit type is not offered in this calendar."))
        vt = types[0]  # ordered by duration
    else:
        found = [t for t in types if t.pk == query.visit_type]
        if not found:
            raise NotFound(_("This visit type is not offered in this calendar."))
        vt = found[0]
    tz = ZoneInfo(cal.doctor.practice.time_zone)
    first = query.from_ or timezone.now().astimezone(tz).date()
    last = first + timedelta(days=query.days - 1)
    by_day = slots_by_day(cal, first, last, vt.duration_minutes)
    return schemas.SlotsOut(
        calendar_id=cal.pk,
        visit_type_id=vt.pk,
        duration_minutes=vt.duration_minutes,
        days=[
            schemas.DayOut(
                day=day,
                slots=[
                    schemas.SlotOut(start=s.start.astimezone(tz), end=s.end.astimezone(tz))
                    for s in by_day[day]
                ],
            )
            for day in sorted(by_day)
        ],
    )
