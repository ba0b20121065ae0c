"""C2/C7: the day and week of a calendar, and slot states (note, annotation)."""

from __future__ import annotations

from django.http import HttpRequest
from ninja import Query, Router, Schema
from pydantic import Field

from termin360.practice import selectors
from termin360.practice.api import schemas
from termin360.practice.api.convert import day_out, slot_response
from termin360.practice.services import online_refs
from termin360.practice.services import slots as slot_services
from termin360.practice.services.lookups import calendar_by_number
from termin360.webapi.responses import BODY, errors
from termin360.webapi.schemas import Id

router = Router(tags=["calendar"])


class ColumnFilter(Schema):
    columns: list[schemas.ColumnNumber] | None = Field(None, max_length=schemas.MAX_COLUMNS)


@router.get(
    "/calendars/{number}/days/{day}", response={200: schemas.DayOut, **errors(401, 404, 422)}
)
def get_day(
    request: HttpRequest,
    number: schemas.CalendarNumber,
    day: schemas.CalendarDay,
    filters: Query[ColumnFilter],
) -> schemas.DayOut:
    """All columns of the day side by side, with reservations and the additional list."""
    view = selectors.day_view(calendar_by_number(number), day, filters.columns)
    return day_out(view)


@router.get(
    "/calendars/{number}/weeks/{day}", response={200: list[schemas.DayOut], **errors(401, 404, 422)}
)
def get_week(
    request: HttpRequest,
    number: schemas.CalendarNumber,
    day: schemas.CalendarDay,
    filters: Query[ColumnFilter],
) -> list[schemas.DayOut]:
    """Monday to Sunday of the week that contains ``day``."""
    views = selectors.week_view(calendar_by_number(number), day, filters.columns)
    online_ids = online_refs.online_booking_ids(a.pk for v in views for a in v.additional)
    return [day_out(v, online_ids) for v in views]


@router.get("/slots/{slot_id}", response={200: schemas.SlotOut, **errors(401, 404, 422)})
def get_slot(request: HttpRequest, slot_id: Id) -> schemas.SlotOut:
    return slot_response(slot_id)


@router.put(
    "/slots/{slot_id}/note", response={200: schemas.SlotOut, **errors(401, 403, 404, 409, *BODY)}
)
def set_note(request: HttpRequest, slot_id: Id, payload: schemas.TextIn) -> schemas.SlotOut:
    """Write the yellow note (the slot stays bookable); an empty text removes it."""
    slot_services.set_note(slot_id=slot_id, text=payload.text)
    return slot_response(slot_id)


@router.post(
    "/slots/{slot_id}/annotation",
    response={200: schemas.SlotOut, **errors(401, 403, 404, 409, *BODY)},
)
def delete_free_slot(request: HttpRequest, slot_id: Id, payload: schemas.TextIn) -> schemas.SlotOut:
    """Delete a free slot: it becomes a green annotation and is blocked."""
    slot_services.delete_free_slot(slot_id=slot_id, text=payload.text)
    return slot_response(slot_id)


@router.delete(
    "/slots/{slot_id}/annotation",
    response={200: schemas.SlotOut, **errors(401, 403, 404, 409, 422)},
)
def remove_annotation(request: HttpRequest, slot_id: Id) -> schemas.SlotOut:
    """Remove the annotation: the slot is a note again, or free."""
    slot_services.remove_annotation(slot_id=slot_id)
    return slot_response(slot_id)
