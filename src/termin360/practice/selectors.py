"""Reads of the practice calendar: day and week views, lists, searches."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from django.db import connection
from django.db.models import Q, QuerySet

from termin360.core.names import normalize_name
from termin360.practice.domain.slots import SlotState
from termin360.practice.models import (
    Appointment,
    AuditEntry,
    Calendar,
    Column,
    Patient,
    Reservation,
    Slot,
)
from termin360.practice.services.grid_cells import facts_of, reservation_range

# The tables are Django's default names of ``ViewVersion`` and ``Calendar`` (a test checks).
_VIEW_VERSION = (
    "SELECT COALESCE((SELECT SUM(v.version) FROM practice_viewversion v "
    "WHERE v.calendar_id = c.id AND v.day BETWEEN %s AND %s), 0) "
    "FROM practice_calendar c WHERE c.number = %s"
)


@dataclass
class SlotView:
    id: int
    start: datetime
    end: datetime
    local_start: datetime
    local_end: datetime
    state: SlotState
    reserved: bool
    note: str
    annotation: str
    appointment: Appointment | None
    # first slot of a multi-slot appointment, and how many slots it spans
    appointment_head: bool = False
    appointment_span: int = 0


@dataclass
class ColumnDay:
    column: Column
    slots: list[SlotView] = field(default_factory=list)
    reservations: list[Reservation] = field(default_factory=list)


@dataclass
class DayView:
    calendar: Calendar
    day: date
    columns: list[ColumnDay]
    additional: list[Appointment]


def _zone(calendar: Calendar) -> ZoneInfo:
    return ZoneInfo(calendar.location.time_zone)


def _column_day(
    column: Column,
    day: date,
    tz: ZoneInfo,
    slots: list[Slot],
    reservations: list[Reservation],
    appts: dict[int, Appointment],
) -> ColumnDay:
    """One column's day from rows already loaded: its slots in time order, the
    reservations that cover the day, the appointments by id."""
    reserved = [
        iv for r in reservations if (iv := reservation_range(r).interval_on(day, tz)) is not None
    ]
    out = ColumnDay(column=column, reservations=reservations)
    spans: dict[int, int] = {}
    for s in slots:
        if s.appointment_id is not None:
            spans[s.appointment_id] = spans.get(s.appointment_id, 0) + 1
    seen: set[int] = set()
    for s in slots:
        facts = facts_of(s, reserved)
        head = s.appointment_id is not None and s.appointment_id not in seen
        if s.appointment_id is not None:
            seen.add(s.appointment_id)
        out.slots.append(
            SlotView(
                id=s.pk,
                start=s.start,
                end=s.end,
                local_start=s.start.astimezone(tz),
                local_end=s.end.astimezone(tz),
                state=facts.state,
                reserved=facts.reserved,
                note=s.note,
                annotation=s.annotation,
                appointment=appts.get(s.appointment_id) if s.appointment_id else None,
                appointment_head=head,
                appointment_span=spans.get(s.appointment_id, 0) if s.appointment_id else 0,
            )
        )
    return out


def column_day(column: Column, day: date, tz: ZoneInfo, appts: dict[int, Appointment]) -> ColumnDay:
    """One column's day (a single cell's neighbours, ``api.convert``)."""
    return _column_days([column], day, day, tz, appts)[(column.pk, day)]


def _column_days(
    columns: list[Column], first: date, last: date, tz: ZoneInfo, appts: dict[int, Appointment]
) -> dict[tuple[int, date], ColumnDay]:
    """Every (column, day) of ``first``–``last``: one query for the slots and one for the
    reservations, however many columns and days (the week view shows 7 × columns)."""
    ids = [c.pk for c in columns]
    slots: dict[tuple[int, date], list[Slot]] = defaultdict(list)
    # Sorted here, not by the database (see ``grid_cells.day_slots``).
    rows = Slot.objects.filter(column_id__in=ids, day__gte=first, day__lte=last).order_by()
    for s in sorted(rows, key=lambda s: s.start):
        slots[(s.column_id, s.day)].append(s)
    covering: dict[int, list[Reservation]] = defaultdict(list)
    links = Reservation.columns.through.objects.filter(
        column_id__in=ids, reservation__first_day__lte=last, reservation__last_day__gte=first
    ).select_related("reservation")
    for link in links.order_by("reservation__first_day", "reservation__start", "reservation_id"):
        covering[link.column_id].append(link.reservation)
    out = {}
    day = first
    while day <= last:
        for c in columns:
            on_day = [r for r in covering[c.pk] if r.first_day <= day <= r.last_day]
            out[(c.pk, day)] = _column_day(c, day, tz, slots[(c.pk, day)], on_day, appts)
        day += timedelta(days=1)
    return out


def _views(calendar: Calendar, days: list[date], column_numbers: list[int] | None) -> list[DayView]:
    """Day views of consecutive ``days``: one read per kind of row — columns,
    appointments, slots, reservations — whatever the number of days and columns."""
    tz = _zone(calendar)
    columns = list(calendar.columns.all())
    if column_numbers:
        columns = [c for c in columns if c.number in column_numbers]
    first, last = days[0], days[-1]
    appts = {
        a.pk: a
        for a in Appointment.objects.filter(calendar=calendar, day__gte=first, day__lte=last)
        .select_related("patient")
        .order_by("day", "start", "id")
    }
    cells = _column_days(columns, first, last, tz, appts)
    additional: dict[date, list[Appointment]] = defaultdict(list)
    for a in appts.values():  # in the database's order: day, start, id
        a.calendar = calendar  # loaded already, with its location (the time zone)
        if a.column_id is None:
            additional[a.day].append(a)
    return [
        DayView(
            calendar=calendar,
            day=d,
            columns=[cells[(c.pk, d)] for c in columns],
            additional=additional[d],
        )
        for d in days
    ]


def day_view(calendar: Calendar, day: date, column_numbers: list[int] | None = None) -> DayView:
    return _views(calendar, [day], column_numbers)[0]


def week_days(day: date) -> list[date]:
    monday = day - timedelta(days=day.weekday())
    return [monday + timedelta(days=i) for i in range(7)]


def week_view(
    calendar: Calendar, day: date, column_numbers: list[int] | None = None
) -> list[DayView]:
    return _views(calendar, week_days(day), column_numbers)


def additional_list(calendar: Calendar, day: date) -> list[Appointment]:
    return list(
        Appointment.objects.filter(calendar=calendar, day=day, column__isnull=True)
        .select_related("patient")
        .order_by("start", "id")
    )


def search_patients(
    *,
    location_id: int | None = None,
    query: str = "",
    date_of_birth: date | None = None,
    limit: int = 50,
) -> QuerySet[Patient]:
    """Search by (parts of) the name — "müller", "Mül han", "Müller, Hans" — and/or birth date."""
    qs = Patient.objects.all()
    if location_id is not None:
        qs = qs.filter(location_id=location_id)
    if date_of_birth is not None:
        qs = qs.filter(date_of_birth=date_of_birth)
    terms = normalize_name(query.replace(",", " ")).split()
    for term in terms:
        # a term matches the start of any name part; parts of a double name count ("Lüd"
        # finds "Müller-Lüdenscheidt")
        qs = qs.filter(
            Q(search_name__startswith=term)
            | Q(search_name__contains=" " + term)
            | Q(search_name__contains="-" + term)
        )
    return qs.order_by("last_name", "first_name", "date_of_birth")[:limit]


def appointment_history(appointment_id: int) -> QuerySet[AuditEntry]:
    return AuditEntry.objects.filter(appointment_id=appointment_id).order_by("at", "id")


def reservations_of(calendar: Calendar, first: date, last: date) -> QuerySet[Reservation]:
    return (
        Reservation.objects.filter(calendar=calendar, first_day__lte=last, last_day__gte=first)
        .prefetch_related("columns")
        .order_by("first_day", "start")
    )


def view_version(calendar_number: int, first_day: date, last_day: date) -> int | None:
    """The sum of the view versions of the days (C8; see ``services/view_versions``):
    it grows whenever anything on those days changes. ``None`` for an unknown calendar.
    One statement on the (calendar, day) unique index, written out: open views ask it
    every second, and building it through the ORM cost more than running it."""
    day = connection.ops.adapt_datefield_value
    with connection.cursor() as cursor:
        cursor.execute(_VIEW_VERSION, [day(first_day), day(last_day), calendar_number])
        row = cursor.fetchone()
    return None if row is None else int(row[0])
