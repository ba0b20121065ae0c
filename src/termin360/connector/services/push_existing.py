"""S11, ``termin360 sync push-existing CAL COL`` (DURIA: notFree): send everything a column
already holds, from today on, so that the online calendar blocks those times — and its
grid, the bookable slots of every day from today (S14), for an online calendar that
takes its hours from the practice.

Used once when a column is connected, or whenever the practice wants to be sure. Every
day is queued even if its state did not change — that is the point: the portal may have
lost it. Idempotent: running it twice sends the same state twice.

Bulk work: one query for the column's slots from today, one for its reservations, one
for the stored states; the rest happens in Python. A year with 10,000 appointments takes
well under a second.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from zoneinfo import ZoneInfo

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from termin360.connector.domain import busy
from termin360.connector.models import BusyState, Mapping
from termin360.connector.services.outbox import bump_outbox, now_us
from termin360.core.errors import InvalidInput
from termin360.core.intervals import Interval
from termin360.practice.domain.runs import GridCell
from termin360.practice.domain.slots import SlotFacts
from termin360.practice.models import Column, Reservation, Slot
from termin360.practice.services.grid_cells import reservation_range
from termin360.practice.services.lookups import calendar_by_number, column_by_number

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class PushResult:
    days: int
    appointments: int


def _mapping_of(calendar_number: int, column_number: int) -> Mapping:
    column = column_by_number(calendar_by_number(calendar_number), column_number)
    mapping = Mapping.objects.select_related("column__calendar__location").filter(column=column)
    found = mapping.first()
    if found is None:
        raise InvalidInput(
            _(
                "Column %(col)s of calendar %(cal)s is not connected to an online calendar; "
                "map it first with termin360 sync config --map ONLINE_ID=%(cal)s/%(col)s."
            )
            % {"cal": calendar_number, "col": column_number},
            code="column_not_mapped",
        )
    return found


def _reserved_by_day(column: Column, today: date, tz: ZoneInfo) -> dict[date, list[Interval]]:
    out: dict[date, list[Interval]] = defaultdict(list)
    for r in Reservation.objects.filter(columns=column, last_day__gte=today):
        rng = reservation_range(r)
        for day in rng.days():
            iv = rng.interval_on(day, tz) if day >= today else None
            if iv is not None:
                out[day].append(iv)
    return out


_DayState = tuple[list[Interval], list[Interval]]


def _state_by_day(column: Column, today: date, tz: ZoneInfo) -> tuple[dict[date, _DayState], int]:
    """Busy intervals and bookable slots of every day from ``today`` that has slots or
    reservations, and the number of appointments in those slots."""
    reserved = _reserved_by_day(column, today, tz)
    cells: dict[date, list[GridCell]] = defaultdict(list)
    appointments = set()
    rows = Slot.objects.filter(column=column, day__gte=today).values_list(
        "id", "day", "start", "end", "appointment_id", "annotated"
    )
    for slot_id, day, start, end, appointment_id, annotated in rows.iterator(chunk_size=5000):
        facts = SlotFacts(appointment_id=appointment_id, annotated=annotated)
        cells[day].append(GridCell(slot_id=slot_id, start=start, end=end, facts=facts))
        if appointment_id is not None:
            appointments.add(appointment_id)
    states = {
        d: (
            busy.busy_intervals(cells.get(d, []), reserved.get(d, [])),
            busy.bookable_slots(cells.get(d, [])),
        )
        for d in set(cells) | set(reserved)
    }
    return states, len(appointments)


def push_existing(
    calendar_number: int, column_number: int, *, progress: Progress | None = None
) -> PushResult:
    """Queue the busy state and the bookable slots of every day of the column from today
    (the calendar's local date) for the portal. ``progress(done, total)`` is called as the
    days are stored."""
    mapping = _mapping_of(calendar_number, column_number)
    column = mapping.column
    tz = ZoneInfo(column.calendar.location.time_zone)
    today = timezone.now().astimezone(tz).date()
    with transaction.atomic():
        # The column lock keeps practice changes out while the states are rewritten.
        list(Column.objects.select_for_update().filter(pk=column.pk).values("id"))
        by_day, appointments = _state_by_day(column, today, tz)
        stored = {s.day: s for s in BusyState.objects.filter(mapping=mapping, day__gte=today)}
        # A day that had busy time and now has no slots at all must be freed online too.
        for day in stored.keys() - by_day.keys():
            by_day[day] = ([], [])
        days = sorted(by_day)
        total = len(days)
        changed, new = [], []
        now = now_us()
        for done, day in enumerate(days, start=1):
            intervals, bookable = by_day[day]
            serialized, slots = busy.to_json(intervals), busy.to_json(bookable)
            row = stored.get(day)
            # A new revision for every day, changed or not: the point is to send it again,
            # and the portal must not take it for a repeat of what it has (or had lost).
            if row is None:
                revision = busy.next_revision(0, now)
                new.append(
                    BusyState(
                        mapping=mapping,
                        day=day,
                        intervals=serialized,
                        bookable=slots,
                        revision=revision,
                    )
                )
            else:
                row.intervals = serialized
                row.bookable = slots
                row.revision = busy.next_revision(row.revision, now)
                changed.append(row)
            if progress is not None and (done % 50 == 0 or done == total):
                progress(done, total)
        BusyState.objects.bulk_create(new, batch_size=500)
        BusyState.objects.bulk_update(
            changed, ["intervals", "bookable", "revision"], batch_size=500
        )
        for start in range(0, total, 500):
            bump_outbox(mapping, days[start : start + 500])
    return PushResult(days=total, appointments=appointments)
