"""C3: reservations across days, columns and times."""

from __future__ import annotations

from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import Query, Router, Schema, Status

from termin360.practice import selectors
from termin360.practice.api import schemas
from termin360.practice.api.convert import reservation_out
from termin360.practice.services import reservations as services
from termin360.practice.services.lookups import calendar_by_number
from termin360.webapi.responses import BODY, errors
from termin360.webapi.schemas import Id

router = Router(tags=["reservations"])


class Range(Schema):
    first_day: schemas.CalendarDay
    last_day: schemas.CalendarDay


@router.get(
    "/calendars/{number}/reservations",
    response={200: list[schemas.ReservationOut], **errors(401, 404, 422)},
)
def list_reservations(
    request: HttpRequest, number: schemas.CalendarNumber, period: Query[Range]
) -> list[schemas.ReservationOut]:
    cal = calendar_by_number(number)
    return [
        reservation_out(r)
        for r in selectors.reservations_of(cal, period.first_day, period.last_day)
    ]


@router.post(
    "/calendars/{number}/reservations",
    response={201: schemas.ReservationOut, **errors(401, 403, 404, 409, *BODY)},
)
def create_reservation(
    request: HttpRequest, number: schemas.CalendarNumber, payload: schemas.ReservationIn
) -> Status[schemas.ReservationOut]:
    """Block ``start``–``end`` on every day of the range in the given columns (with a reason).

    Refused with 409 if an appointment lies in the range. A range without any slot is
    saved with a ``warning`` (``no_slots_in_range``).
    """
    r = services.create_reservation(
        actor=request.user,
        calendar=calendar_by_number(number),
        column_numbers=payload.columns,
        first_day=payload.first_day,
        last_day=payload.last_day,
        start=payload.start,
        end=payload.end,
        reason=payload.reason,
    )
    out = reservation_out(r)
    if services.covers_no_slot(r):
        out.warning_code = "no_slots_in_range"
        out.warning = _(
            "There are no slots in this range: the reservation blocks this time online only. "
            "Please check the dates and times, or generate the slot grid first."
        )
    return Status(201, out)


@router.delete("/reservations/{reservation_id}", response={204: None, **errors(401, 403, 404, 422)})
def delete_reservation(request: HttpRequest, reservation_id: Id) -> Status[None]:
    services.delete_reservation(reservation_id=reservation_id)
    return Status(204, None)
