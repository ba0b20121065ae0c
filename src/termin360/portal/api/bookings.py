"""A patient's bookings (P4, P8): book, list, see one, cancel, move. Token or session
(with CSRF).

Another patient's booking id answers 404 exactly like an id that does not exist,
so ids leak nothing.
"""

from __future__ import annotations

from typing import Annotated
from zoneinfo import ZoneInfo

from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import Path, Router, Status
from ninja.security import django_auth

from termin360.core.errors import NotFound
from termin360.portal.api import schemas
from termin360.portal.api.auth import PatientToken, patient_of
from termin360.portal.api.search import location_out
from termin360.portal.models import Booking
from termin360.portal.services import bookings as booking_services
from termin360.portal.services import reschedule
from termin360.webapi.responses import BODY, errors

router = Router(tags=["bookings"], auth=[PatientToken(), django_auth])

BookingId = Annotated[int, Path(ge=1, le=schemas.MAX_ID)]
_RELATED = ("calendar__doctor__practice", "calendar__doctor__location", "visit_type")


def booking_out(booking: Booking) -> schemas.BookingOut:
    cal = booking.calendar
    doctor = cal.doctor
    tz = ZoneInfo(doctor.practice.time_zone)
    return schemas.BookingOut(
        id=booking.pk,
        status=booking.status,  # type: ignore[arg-type]
        calendar_id=cal.pk,
        calendar_name=cal.name,
        doctor=doctor.display_name,
        practice=doctor.practice.name,
        location=location_out(doctor),
        visit_type_id=booking.visit_type_id,
        visit_type=booking.visit_type.name,
        start=booking.start.astimezone(tz),
        end=booking.end.astimezone(tz),
        reason=booking.reason,
        cancellable_until=booking_services.deadline_of(booking).astimezone(tz),
        cancelled_at=booking.cancelled_at.astimezone(tz) if booking.cancelled_at else None,
        cancelled_by=booking.cancelled_by or None,
        cancel_reason=booking.cancel_reason,
        delivered=booking.delivered_at is not None,
    )


def _reloaded(booking_id: int) -> Booking:
    return Booking.objects.select_related(*_RELATED).get(pk=booking_id)


@router.get("/me/bookings", response={200: list[schemas.BookingOut], **errors(401, 403)})
def my_bookings(request: HttpRequest) -> list[schemas.BookingOut]:
    """The patient's bookings, active and cancelled, by appointment time."""
    patient = patient_of(request)
    rows = Booking.objects.filter(patient=patient).select_related(*_RELATED).order_by("start")
    return [booking_out(b) for b in rows]


@router.get(
    "/bookings/{booking_id}", response={200: schemas.BookingOut, **errors(401, 403, 404, 422)}
)
def get_booking(request: HttpRequest, booking_id: BookingId) -> schemas.BookingOut:
    patient = patient_of(request)
    booking = (
        Booking.objects.select_related(*_RELATED).filter(pk=booking_id, patient=patient).first()
    )
    if booking is None:
        raise NotFound(_("There is no such booking."))
    return booking_out(booking)


@router.post(
    "/bookings",
    response={
        201: schemas.BookingOut,
        **errors(401, 403, 404, *BODY),
        409: schemas.SlotTakenOut | schemas.ErrorOut,
    },
)
def create_booking(request: HttpRequest, payload: schemas.BookingIn) -> Status[schemas.BookingOut]:
    """Book a free slot. A time taken meanwhile answers 409 ``slot_taken`` with the next
    free times as ``alternatives``; an unconfirmed e-mail address 403 ``unconfirmed``."""
    booking = booking_services.book(
        patient=patient_of(request),
        calendar_id=payload.calendar_id,
        visit_type_id=payload.visit_type_id,
        start=payload.start,
        reason=payload.reason,
    )
    return Status(201, booking_out(booking))  # it holds its calendar, doctor and visit type


@router.delete(
    "/bookings/{booking_id}",
    response={200: schemas.BookingOut, **errors(401, 403, 404, 409, 422)},
)
def cancel_booking(request: HttpRequest, booking_id: BookingId) -> schemas.BookingOut:
    """Cancel one's own booking, up to the practice's cancellation deadline
    (later: 409 ``deadline_passed``)."""
    booking = booking_services.cancel_by_patient(patient=patient_of(request), booking_id=booking_id)
    return booking_out(_reloaded(booking.pk))


@router.post(
    "/bookings/{booking_id}/move",
    response={
        200: schemas.BookingOut,
        **errors(401, 403, 404, *BODY),
        409: schemas.SlotTakenOut | schemas.ErrorOut,
    },
)
def move_booking(
    request: HttpRequest, booking_id: BookingId, payload: schemas.BookingMoveIn
) -> schemas.BookingOut:
    """Move one's own booking to another free time of the same calendar and visit type,
    up to the practice's deadline (P8). The old time is given up only when the new one is
    held. A time not free (any more) answers 409 ``slot_taken`` with the next free times
    as ``alternatives``; after the deadline 409 ``deadline_passed``; a cancelled booking
    409 ``already_cancelled``; a time the calendar never offers 422 ``not_bookable``.
    Moving to where the booking is already changes nothing."""
    booking = reschedule.move_by_patient(
        patient=patient_of(request), booking_id=booking_id, start=payload.start
    )
    return booking_out(_reloaded(booking.pk))
