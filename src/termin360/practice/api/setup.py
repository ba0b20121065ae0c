"""C1: locations, calendars, columns, weekly templates, the slot grid. Changes need an admin."""

from __future__ import annotations

from dataclasses import asdict

from django.http import HttpRequest
from ninja import Router, Status

from termin360.practice.api import schemas
from termin360.practice.api.convert import require_admin, slot_response
from termin360.practice.domain.grid import TemplateRule
from termin360.practice.models import Calendar, Location
from termin360.practice.services import setup as services
from termin360.practice.services.lookups import calendar_by_number, column_by_number
from termin360.webapi.responses import BODY, errors

router = Router(tags=["set-up"])


def _calendar_out(cal: Calendar) -> schemas.CalendarOut:
    return schemas.CalendarOut(
        number=cal.number,
        name=cal.name,
        location_id=cal.location_id,
        columns=[schemas.ColumnOut(number=c.number, name=c.name) for c in cal.columns.all()],
    )


@router.get("/locations", response={200: list[schemas.LocationOut], **errors(401)})
def list_locations(request: HttpRequest) -> list[Location]:
    return list(Location.objects.all())


@router.post("/locations", response={201: schemas.LocationOut, **errors(401, 403, 409, *BODY)})
def create_location(request: HttpRequest, payload: schemas.LocationIn) -> Status[Location]:
    require_admin(request)
    return Status(201, services.create_location(**payload.dict()))


@router.get("/calendars", response={200: list[schemas.CalendarOut], **errors(401)})
def list_calendars(request: HttpRequest) -> list[schemas.CalendarOut]:
    return [_calendar_out(c) for c in Calendar.objects.prefetch_related("columns")]


@router.post("/calendars", response={201: schemas.CalendarOut, **errors(401, 403, 404, 409, *BODY)})
def create_calendar(
    request: HttpRequest, payload: schemas.CalendarIn
) -> Status[schemas.CalendarOut]:
    require_admin(request)
    return Status(201, _calendar_out(services.create_calendar(**payload.dict())))


@router.get("/calendars/{number}", response={200: schemas.CalendarOut, **errors(401, 404, 422)})
def get_calendar(request: HttpRequest, number: schemas.CalendarNumber) -> schemas.CalendarOut:
    return _calendar_out(calendar_by_number(number))


@router.post(
    "/calendars/{number}/columns",
    response={201: schemas.ColumnOut, **errors(401, 403, 404, 409, *BODY)},
)
def create_column(
    request: HttpRequest, number: schemas.CalendarNumber, payload: schemas.ColumnIn
) -> Status[schemas.ColumnOut]:
    require_admin(request)
    col = services.create_column(calendar=calendar_by_number(number), **payload.dict())
    return Status(201, schemas.ColumnOut(number=col.number, name=col.name))


@router.get(
    "/calendars/{number}/columns/{column}/template",
    response={200: list[schemas.TemplateRuleIO], **errors(401, 404, 422)},
)
def get_template(
    request: HttpRequest, number: schemas.CalendarNumber, column: schemas.ColumnNumber
) -> list[schemas.TemplateRuleIO]:
    col = column_by_number(calendar_by_number(number), column)
    return [schemas.TemplateRuleIO(**asdict(r)) for r in _rules(services.template_of(col))]


def _rules(rules: list[TemplateRule]) -> list[TemplateRule]:
    return sorted(rules, key=lambda r: (r.weekday, r.start))


@router.put(
    "/calendars/{number}/columns/{column}/template",
    response={200: list[schemas.TemplateRuleIO], **errors(401, 403, 404, *BODY)},
)
def put_template(
    request: HttpRequest,
    number: schemas.CalendarNumber,
    column: schemas.ColumnNumber,
    payload: list[schemas.TemplateRuleIO],
) -> list[schemas.TemplateRuleIO]:
    """Replace the weekly template of a column. Generate or rebuild the grid afterwards."""
    require_admin(request)
    col = column_by_number(calendar_by_number(number), column)
    rules = [TemplateRule(**r.dict()) for r in payload]
    services.set_template(column=col, rules=rules)
    return [schemas.TemplateRuleIO(**asdict(r)) for r in _rules(rules)]


@router.post(
    "/calendars/{number}/grid",
    response={200: list[schemas.GridOut], **errors(401, 403, 404, *BODY)},
)
def generate_grid(
    request: HttpRequest, number: schemas.CalendarNumber, payload: schemas.GridIn
) -> list[schemas.GridOut]:
    """Generate (or, with ``rebuild``, edit) the slot grid of a range of days (≤ 400)."""
    require_admin(request)
    cal = calendar_by_number(number)
    cols = (
        [column_by_number(cal, n) for n in payload.columns]
        if payload.columns
        else list(cal.columns.all())
    )
    out = []
    for col in cols:
        if payload.rebuild:
            result = services.rebuild_grid(
                column=col, first=payload.first_day, last=payload.last_day, actor=request.user
            )
            out.append(schemas.GridOut(column=col.number, **result))
        else:
            created = services.generate_grid(
                column=col, first=payload.first_day, last=payload.last_day
            )
            out.append(schemas.GridOut(column=col.number, created=created))
    return out


@router.post(
    "/calendars/{number}/columns/{column}/slots",
    response={201: schemas.SlotOut, **errors(401, 403, 404, 409, *BODY)},
)
def add_slot(
    request: HttpRequest,
    number: schemas.CalendarNumber,
    column: schemas.ColumnNumber,
    payload: schemas.SlotIn,
) -> Status[schemas.SlotOut]:
    """Add one slot to the grid by hand."""
    require_admin(request)
    col = column_by_number(calendar_by_number(number), column)
    slot = services.add_slot(column=col, day=payload.day, at=payload.start, minutes=payload.minutes)
    return Status(201, slot_response(slot.pk))
