"""Public reads (P2): search doctors, specialties, a published calendar and its free slots.
No login needed; unpublished calendars do not exist here (404).

Search and slots are the hottest endpoints, so their answers are built with
``model_construct`` and rendered by the schema itself (pydantic's ``model_dump_json``):
the values come from the database and the availability computation, already of the
schema's types, and validating a few hundred nested objects again and encoding them
through Python's ``json`` was a third of each request. Their tests check the answers
against the validated schema."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated
from zoneinfo import ZoneInfo

from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import Path, Query, Router, Schema

from termin360.core.errors import NotFound
from termin360.portal import selectors
from termin360.portal.api import schemas
from termin360.portal.models import Doctor, OnlineCalendar, VisitType
from termin360.portal.services.availability_cache import availability_of, with_version
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
    # Not ``first()``: its ORDER BY is work for nothing on a primary key.
    found = (
        with_version(OnlineCalendar.objects.public())
        .select_related("doctor__practice", "doctor__location")
        .filter(pk=calendar_id)
    )
    calendar = next(iter(found), None)
    if calendar is None:
        raise NotFound(_("This online calendar does not exist or is not published."))
    return calendar


def _rendered(answer: Schema) -> HttpResponse:
    return HttpResponse(answer.model_dump_json(), content_type="application/json; charset=utf-8")


def _doctor_built(doctor: Doctor) -> schemas.DoctorOut:
    return schemas.DoctorOut.model_construct(
        id=doctor.pk,
        title=doctor.title,
        first_name=doctor.first_name,
        last_name=doctor.last_name,
        display_name=doctor.display_name,
    )


def _location_built(doctor: Doctor) -> schemas.LocationOut:
    loc = doctor.location
    return schemas.LocationOut.model_construct(
        name=loc.name, street=loc.street, postcode=loc.postcode, city=loc.city
    )


def _visit_type_built(vt: VisitType) -> schemas.VisitTypeOut:
    return schemas.VisitTypeOut.model_construct(
        id=vt.pk,
        name=vt.name,
        duration_minutes=vt.duration_minutes,
        new_patients=vt.new_patients,
        existing_patients=vt.existing_patients,
        insurances=[i for i in vt.insurances.split(",") if i],
    )


@router.get("/search", response={200: schemas.SearchOut, **errors(422)})
def search(request: HttpRequest, query: Query[schemas.SearchQuery]) -> HttpResponse:
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
            schemas.SearchResultOut.model_construct(
                calendar_id=hit.calendar.pk,
                doctor=_doctor_built(doctor),
                specialty=doctor.specialty,
                languages=_languages(doctor),
                practice=doctor.practice.name,
                location=_location_built(doctor),
                visit_types=[_visit_type_built(vt) for vt in hit.visit_types],
                next_free_slot=hit.next_free.start.astimezone(tz) if hit.next_free else None,
            )
        )
    return _rendered(
        schemas.SearchOut.model_construct(
            total=total, offset=query.offset, limit=query.limit, results=results
        )
    )


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
        visit_types=[visit_type_out(vt) for vt in cal.visit_types.filter(active=True)],
    )


@router.get("/calendars/{calendar_id}/slots", response={200: schemas.SlotsOut, **errors(404, 422)})
def calendar_slots(
    request: HttpRequest, calendar_id: CalendarId, query: Query[schemas.SlotsQuery]
) -> HttpResponse:
    """Free slots per local day from ``from`` (default today) for ``days`` days, for one
    visit type (default the shortest). Days outside the booking horizon are empty."""
    cal = published_calendar(calendar_id)
    now = timezone.now()
    snapshot = availability_of([cal], now=now)[cal.pk]
    types = snapshot.visit_types
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
    first = query.from_ or now.astimezone(tz).date()
    last = first + timedelta(days=query.days - 1)
    by_day = snapshot.free_by_day(first, last, vt.duration_minutes, now)

    def local(instant: datetime) -> datetime:
        return instant.astimezone(tz)

    return _rendered(
        schemas.SlotsOut.model_construct(
            calendar_id=cal.pk,
            visit_type_id=vt.pk,
            duration_minutes=vt.duration_minutes,
            days=[
                schemas.DayOut.model_construct(
                    day=day,
                    slots=[
                        schemas.SlotOut.model_construct(start=local(s.start), end=local(s.end))
                        for s in by_day[day]
                    ],
                )
                for day in sorted(by_day)
            ],
        )
    )
