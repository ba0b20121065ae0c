"""Turning rows and views into response bodies, and request references into rows."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from django.http import HttpRequest
from django.utils.translation import gettext as _

from termin360.core.errors import InvalidInput, PermissionDenied
from termin360.core.timezones import local_to_utc
from termin360.practice.api import schemas
from termin360.practice.models import Appointment, Calendar, Column, Reservation, Slot
from termin360.practice.selectors import DayView, SlotView, column_day
from termin360.practice.services import online_refs
from termin360.practice.services.lookups import calendar_by_number, column_by_number, slot_by_id


def require_admin(request: HttpRequest) -> None:
    user = request.user
    if not getattr(user, "is_staff", False):
        raise PermissionDenied(_("Only practice administrators may change the set-up."))


def zone_of(calendar: Calendar) -> ZoneInfo:
    return ZoneInfo(calendar.location.time_zone)


def to_utc(value: datetime, tz: ZoneInfo) -> datetime:
    """An aware datetime as it is; a naive one as wall time in ``tz``."""
    if not schemas.FIRST_DAY <= value.date() <= schemas.LAST_DAY:
        raise InvalidInput(
            _("Dates must lie between %(first)s and %(last)s.")
            % {"first": schemas.FIRST_DAY.year, "last": schemas.LAST_DAY.year},
            code="out_of_range",
        )
    if value.tzinfo is not None:
        return value
    instant = local_to_utc(value.date(), value.time(), tz)
    if instant is None:
        raise InvalidInput(_("This local time does not exist (daylight saving change)."))
    return instant


def slot_at(column: Column, start: datetime) -> Slot:
    instant = to_utc(start, zone_of(column.calendar))
    slot = Slot.objects.filter(column=column, start=instant).first()
    if slot is None:
        raise InvalidInput(
            _("No slot of column %(col)s starts at this time.") % {"col": column.number},
            code="outside_grid",
        )
    return slot


def resolve_slot(
    calendar_number: int | None, slot_id: int | None, column: int | None, start: datetime | None
) -> int:
    if slot_id is not None:
        if calendar_number is not None or column is not None:
            # both ways given: they must name the same slot, or the client has a bug
            slot = slot_by_id(slot_id)
            if (calendar_number is not None and slot.column.calendar.number != calendar_number) or (
                column is not None and slot.column.number != column
            ):
                raise InvalidInput(
                    _("The slot does not belong to the given calendar and column."),
                    code="slot_mismatch",
                )
        return slot_id
    if calendar_number is None or column is None or start is None:
        raise InvalidInput(_("Give slot_id, or calendar, column and start."))
    col = column_by_number(calendar_by_number(calendar_number), column)
    return slot_at(col, start).pk


def appointment_out(
    appt: Appointment, online_ids: dict[int, int] | None = None
) -> schemas.AppointmentOut:
    """``online_ids``: the online booking numbers looked up for a whole list at once
    (``online_refs.online_booking_ids``); without it, this appointment's alone."""
    tz = zone_of(appt.calendar)
    if online_ids is None:
        online_ids = online_refs.online_booking_ids([appt.pk])
    patient = None
    if appt.patient is not None:
        p = appt.patient
        patient = schemas.PatientBrief(
            id=p.pk, last_name=p.last_name, first_name=p.first_name, date_of_birth=p.date_of_birth
        )
    return schemas.AppointmentOut(
        id=appt.pk,
        calendar=appt.calendar.number,
        column=appt.column.number if appt.column is not None else None,
        day=appt.day,
        start=appt.start.astimezone(tz) if appt.start else None,
        end=appt.end.astimezone(tz) if appt.end else None,
        slot_count=appt.slots.count() if appt.column_id is not None else 0,
        in_additional_list=appt.column_id is None,
        patient=patient,
        text=appt.text,
        reason=appt.reason,
        origin=appt.origin,
        online_booking_id=online_ids.get(appt.pk),
        flagged=appt.flagged,
        flag_reason=appt.flag_reason,
    )


def slot_out(column_number: int, s: SlotView) -> schemas.SlotOut:
    return schemas.SlotOut(
        id=s.id,
        column=column_number,
        start=s.local_start,
        end=s.local_end,
        state=s.state.value,
        reserved=s.reserved,
        note=s.note,
        annotation=s.annotation,
        appointment_id=s.appointment.pk if s.appointment is not None else None,
    )


def day_out(view: DayView, online_ids: dict[int, int] | None = None) -> schemas.DayOut:
    """``online_ids``: as for ``appointment_out``, looked up for a whole week at once."""
    additional_ids = (
        online_ids
        if online_ids is not None
        else online_refs.online_booking_ids(a.pk for a in view.additional)
    )
    return schemas.DayOut(
        calendar=view.calendar.number,
        day=view.day,
        columns=[
            schemas.ColumnDayOut(
                number=cd.column.number,
                name=cd.column.name,
                slots=[slot_out(cd.column.number, s) for s in cd.slots],
                reservation_ids=[r.pk for r in cd.reservations],
            )
            for cd in view.columns
        ],
        additional=[appointment_out(a, additional_ids) for a in view.additional],
    )


def reservation_out(r: Reservation) -> schemas.ReservationOut:
    return schemas.ReservationOut(
        id=r.pk,
        calendar=r.calendar.number,
        columns=sorted(c.number for c in r.columns.all()),
        first_day=r.first_day,
        last_day=r.last_day,
        start=r.start,
        end=r.end,
        reason=r.reason,
    )


def slot_response(slot_id: int) -> schemas.SlotOut:
    """One slot as the day view shows it (state, reservation, appointment)."""
    slot = slot_by_id(slot_id)
    appts = {a.pk: a for a in Appointment.objects.filter(column=slot.column, day=slot.day)}
    view = column_day(slot.column, slot.day, zone_of(slot.column.calendar), appts)
    found = next(s for s in view.slots if s.id == slot_id)
    return slot_out(slot.column.number, found)
