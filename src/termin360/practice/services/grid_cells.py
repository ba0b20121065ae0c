"""Loading a column's slots of one day as domain cells (with reservations applied)."""

from __future__ import annotations

from datetime import date
from zoneinfo import ZoneInfo

from termin360.core.intervals import Interval
from termin360.practice.domain.reservations import ReservationRange
from termin360.practice.domain.runs import GridCell
from termin360.practice.domain.slots import SlotFacts
from termin360.practice.models import Column, Reservation, Slot


def reservation_range(r: Reservation) -> ReservationRange:
    return ReservationRange(first_day=r.first_day, last_day=r.last_day, start=r.start, end=r.end)


def reserved_intervals(column: Column, day: date, tz: ZoneInfo) -> list[Interval]:
    out = []
    for r in Reservation.objects.filter(columns=column, first_day__lte=day, last_day__gte=day):
        iv = reservation_range(r).interval_on(day, tz)
        if iv is not None:
            out.append(iv)
    return out


def facts_of(slot: Slot, reserved: list[Interval]) -> SlotFacts:
    span = Interval(slot.start, slot.end)
    return SlotFacts(
        appointment_id=slot.appointment_id,
        annotated=slot.annotated,
        annotation=slot.annotation,
        note=slot.note,
        reserved=any(iv.overlaps(span) for iv in reserved),
    )


def day_slots(column: Column | int, day: date) -> list[Slot]:
    """A column's slots of one day in time order. Sorted here, not by the database: with
    ``ORDER BY start`` SQLite walks the (column, start) index over the column's whole
    history instead of the (column, day) index — a cost that grows with the calendar."""
    return sorted(Slot.objects.filter(column=column, day=day).order_by(), key=lambda s: s.start)


def load_cells(column: Column, day: date) -> list[GridCell]:
    tz = ZoneInfo(column.calendar.location.time_zone)
    reserved = reserved_intervals(column, day, tz)
    return [
        GridCell(slot_id=s.pk, start=s.start, end=s.end, facts=facts_of(s, reserved))
        for s in day_slots(column, day)
    ]
