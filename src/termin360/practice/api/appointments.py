"""C2/C4/C5: appointments — book, change, extend, shorten, move, delete; the additional list."""

from __future__ import annotations

from django.http import HttpRequest
from ninja import Router, Status

from termin360.practice import selectors
from termin360.practice.api import schemas
from termin360.practice.api.convert import appointment_out, resolve_slot, slot_at, to_utc, zone_of
from termin360.practice.services import appointments as services
from termin360.practice.services import online_refs
from termin360.practice.services.lookups import (
    appointment_by_id,
    calendar_by_number,
    column_by_number,
)
from termin360.webapi.responses import BODY, errors
from termin360.webapi.schemas import Id

router = Router(tags=["appointments"])


@router.post(
    "/appointments", response={201: schemas.AppointmentOut, **errors(401, 403, 404, 409, *BODY)}
)
def book(request: HttpRequest, payload: schemas.BookIn) -> Status[schemas.AppointmentOut]:
    """Book a slot (or ``slot_count`` consecutive slots) for a patient or a free text.

    Refused with 409 ``slot_taken`` if the time is occupied, blocked or reserved.
    """
    slot_id = resolve_slot(payload.calendar, payload.slot_id, payload.column, payload.start)
    appt = services.book_appointment(
        actor=request.user,
        slot_id=slot_id,
        slot_count=payload.slot_count,
        patient_id=payload.patient_id,
        text=payload.text,
        reason=payload.reason,
    )
    return Status(201, appointment_out(appointment_by_id(appt.pk)))


@router.post(
    "/additional-appointments",
    response={201: schemas.AppointmentOut, **errors(401, 403, 404, 409, *BODY)},
)
def add_additional(
    request: HttpRequest, payload: schemas.AdditionalIn
) -> Status[schemas.AppointmentOut]:
    """Put an appointment without a slot into the additional list of a calendar and day."""
    cal = calendar_by_number(payload.calendar)
    tz = zone_of(cal)
    appt = services.add_to_additional_list(
        actor=request.user,
        calendar=cal,
        day=payload.day,
        patient_id=payload.patient_id,
        text=payload.text,
        reason=payload.reason,
        start=to_utc(payload.start, tz) if payload.start else None,
        end=to_utc(payload.end, tz) if payload.end else None,
    )
    return Status(201, appointment_out(appointment_by_id(appt.pk)))


@router.get(
    "/calendars/{number}/additional/{day}",
    response={200: list[schemas.AppointmentOut], **errors(401, 404, 422)},
)
def additional_list(
    request: HttpRequest, number: schemas.CalendarNumber, day: schemas.CalendarDay
) -> list[schemas.AppointmentOut]:
    """The additional list (Zusatzliste) of a calendar and day."""
    cal = calendar_by_number(number)
    rows = list(selectors.additional_list(cal, day))
    online_ids = online_refs.online_booking_ids(a.pk for a in rows)
    return [appointment_out(a, online_ids) for a in rows]


@router.get(
    "/appointments/{appointment_id}",
    response={200: schemas.AppointmentOut, **errors(401, 404, 422)},
)
def get_appointment(request: HttpRequest, appointment_id: Id) -> schemas.AppointmentOut:
    return appointment_out(appointment_by_id(appointment_id))


@router.patch(
    "/appointments/{appointment_id}",
    response={200: schemas.AppointmentOut, **errors(401, 403, 404, 409, *BODY)},
)
def update_appointment(
    request: HttpRequest, appointment_id: Id, payload: schemas.AppointmentPatch
) -> schemas.AppointmentOut:
    services.update_appointment(actor=request.user, appointment_id=appointment_id, **payload.dict())
    return appointment_out(appointment_by_id(appointment_id))


@router.delete(
    "/appointments/{appointment_id}", response={204: None, **errors(401, 403, 404, 409, 422)}
)
def delete_appointment(request: HttpRequest, appointment_id: Id) -> Status[None]:
    """Delete the appointment; all its slots are free again."""
    services.delete_appointment(actor=request.user, appointment_id=appointment_id)
    return Status(204, None)


@router.post(
    "/appointments/{appointment_id}/extend",
    response={200: schemas.AppointmentOut, **errors(401, 403, 404, 409, 422)},
)
def extend(request: HttpRequest, appointment_id: Id) -> schemas.AppointmentOut:
    """Extend by the next consecutive slot (multi-slot appointment)."""
    services.extend_appointment(actor=request.user, appointment_id=appointment_id)
    return appointment_out(appointment_by_id(appointment_id))


@router.post(
    "/appointments/{appointment_id}/shorten",
    response={200: schemas.AppointmentOut, **errors(401, 403, 404, 409, 422)},
)
def shorten(request: HttpRequest, appointment_id: Id) -> schemas.AppointmentOut:
    """Give up the last slot of a multi-slot appointment."""
    services.shorten_appointment(actor=request.user, appointment_id=appointment_id)
    return appointment_out(appointment_by_id(appointment_id))


@router.post(
    "/appointments/{appointment_id}/move",
    response={200: schemas.AppointmentOut, **errors(401, 403, 404, 409, *BODY)},
)
def move(
    request: HttpRequest, appointment_id: Id, payload: schemas.MoveIn
) -> schemas.AppointmentOut:
    """Move onto a slot of any column and day of the calendar, or into the additional list."""
    if payload.to_additional_list:
        services.move_to_additional_list(actor=request.user, appointment_id=appointment_id)
    else:
        slot_id = payload.slot_id
        if slot_id is None:
            appt = appointment_by_id(appointment_id)
            assert payload.column is not None and payload.start is not None
            slot_id = slot_at(column_by_number(appt.calendar, payload.column), payload.start).pk
        services.move_appointment(
            actor=request.user, appointment_id=appointment_id, slot_id=slot_id
        )
    return appointment_out(appointment_by_id(appointment_id))


@router.get(
    "/appointments/{appointment_id}/history",
    response={200: list[schemas.AuditOut], **errors(401, 404, 422)},
)
def history(request: HttpRequest, appointment_id: Id) -> list[schemas.AuditOut]:
    """The audit trail: who changed this appointment when — also after it was deleted."""
    entries = list(selectors.appointment_history(appointment_id))
    if not entries:
        appointment_by_id(appointment_id)  # 404 for an id that never existed
    return [
        schemas.AuditOut(at=e.at, actor=e.actor_name, action=e.action, summary=e.summary)
        for e in entries
    ]
