"""Setting up the practice: locations, calendars, columns, weekly templates, the slot grid
("Jahrgang bearbeiten")."""

from __future__ import annotations

import bisect
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.contrib.auth.models import AnonymousUser, User
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from termin360.core.errors import Conflict, InvalidInput
from termin360.core.timezones import local_to_utc
from termin360.practice.domain import grid
from termin360.practice.models import Appointment, Calendar, Column, Location, Slot, TemplateRule
from termin360.practice.services import audit
from termin360.practice.services.lookups import location_by_id
from termin360.practice.services.occupancy import occupancy_change, origin

MAX_GRID_DAYS = 400


def create_location(*, name: str, address: str = "", time_zone: str = "Europe/Berlin") -> Location:
    try:
        ZoneInfo(time_zone)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        # OSError: a name like "Europe" is a folder of the zone database, not a zone.
        raise InvalidInput(_("Unknown time zone %(tz)s.") % {"tz": time_zone}) from None
    if not name.strip():
        raise InvalidInput(_("A location needs a name."))
    try:
        with transaction.atomic():
            return Location.objects.create(name=name.strip(), address=address, time_zone=time_zone)
    except IntegrityError:
        raise Conflict(_("A location named %(n)s exists already.") % {"n": name}) from None


def create_calendar(*, number: int, name: str, location_id: int) -> Calendar:
    location = location_by_id(location_id)
    if number < 1:
        raise InvalidInput(_("Calendar numbers start at 1."))
    if not name.strip():
        raise InvalidInput(_("A calendar needs a name."), code="name_missing")
    try:
        with transaction.atomic():
            return Calendar.objects.create(number=number, name=name.strip(), location=location)
    except IntegrityError:
        raise Conflict(_("Calendar number %(n)s exists already.") % {"n": number}) from None


def create_column(
    *, calendar: Calendar, number: int, name: str, location_id: int | None = None
) -> Column:
    """``location_id``: the column belongs to another location than its calendar (a doctor
    of the other location in a shared practice); ``None`` = the calendar's location."""
    if number < 1:
        raise InvalidInput(_("Column numbers start at 1."))
    if not name.strip():
        raise InvalidInput(_("A column needs a name."), code="name_missing")
    try:
        with transaction.atomic():
            return Column.objects.create(
                calendar=calendar,
                number=number,
                name=name.strip(),
                location=location_by_id(location_id) if location_id is not None else None,
            )
    except IntegrityError:
        raise Conflict(
            _("Calendar %(cal)s already has a column %(col)s.")
            % {"cal": calendar.number, "col": number}
        ) from None


def set_template(*, column: Column, rules: list[grid.TemplateRule]) -> list[TemplateRule]:
    """Replace the column's weekly template. The grid changes only when (re)generated."""
    if grid.rules_overlap(rules):
        raise InvalidInput(_("Two template lines overlap on the same weekday."))
    with transaction.atomic():
        TemplateRule.objects.filter(column=column).delete()
        return TemplateRule.objects.bulk_create(
            TemplateRule(
                column=column,
                weekday=r.weekday,
                start=r.start,
                end=r.end,
                slot_minutes=r.slot_minutes,
            )
            for r in rules
        )


def template_of(column: Column) -> list[grid.TemplateRule]:
    return [
        grid.TemplateRule(weekday=r.weekday, start=r.start, end=r.end, slot_minutes=r.slot_minutes)
        for r in column.template_rules.all()
    ]


def _check_range(first: date, last: date) -> None:
    if last < first:
        raise InvalidInput(_("The last day lies before the first."))
    if (last - first).days >= MAX_GRID_DAYS:
        raise InvalidInput(_("At most %(n)s days at once.") % {"n": MAX_GRID_DAYS})


def generate_grid(*, column: Column, first: date, last: date) -> int:
    """Add the template's slots from ``first`` to ``last``; existing slots stay as they are.

    A template slot that would overlap an existing one (e.g. a slot added by hand) is
    left out: two slots of a column at the same time could take two appointments.
    Returns the number of slots created. Running it twice creates nothing the second time.
    """
    _check_range(first, last)
    tz = ZoneInfo(column.calendar.location.time_zone)
    wanted = grid.generate_grid(template_of(column), first, last, tz)
    with origin("grid_edit"), occupancy_change() as change:
        change.lock(column)
        # one day more on each side: a slot may run past midnight
        existing = sorted(
            Slot.objects.filter(
                column=column, day__gte=first - timedelta(days=1), day__lte=last + timedelta(days=1)
            ).values_list("start", "end")
        )
        new = [s for s in wanted if not _overlaps_any(s.start, s.end, existing)]
        Slot.objects.bulk_create(
            (Slot(column=column, day=s.day, start=s.start, end=s.end) for s in new),
            batch_size=2000,
        )
        change.touch_days(column.pk, {s.day for s in new})
    return len(new)


def _overlaps_any(start: datetime, end: datetime, slots: list[tuple[datetime, datetime]]) -> bool:
    """Whether ``start``–``end`` overlaps one of ``slots`` (sorted, not overlapping each other,
    so only the last one starting before ``end`` can overlap)."""
    i = bisect.bisect_left(slots, (end,))
    return i > 0 and slots[i - 1][1] > start


def rebuild_grid(
    *, column: Column, first: date, last: date, actor: User | AnonymousUser | None = None
) -> dict[str, int]:
    """Make the grid from ``first`` to ``last`` match the template (edit a year's grid).

    Slots the template no longer has are removed. An appointment on such a slot
    is never lost: it moves to the calendar's additional list of its day, flagged.
    """
    _check_range(first, last)
    tz = ZoneInfo(column.calendar.location.time_zone)
    wanted = {s.start: s for s in grid.generate_grid(template_of(column), first, last, tz)}
    moved = 0
    with origin("grid_edit"), occupancy_change() as change:
        change.lock(column)
        current = list(Slot.objects.filter(column=column, day__gte=first, day__lte=last))
        have = {s.start: s for s in current}
        stale = [s for s in current if s.start not in wanted or s.end != wanted[s.start].end]
        displaced = {s.appointment_id for s in stale if s.appointment_id is not None}
        for appt in Appointment.objects.filter(pk__in=displaced).select_related(
            "calendar__location", "column"
        ):
            before = audit.label(appt)
            Slot.objects.filter(appointment=appt).update(appointment=None)
            appt.column = None
            appt.flagged = True
            appt.flag_reason = "grid_changed"
            appt.save(update_fields=["column", "flagged", "flag_reason", "updated_at"])
            audit.record(
                actor=actor,
                action="grid_changed",
                appointment=appt,
                summary=gettext_noop(
                    "slot removed from the grid; moved from %(before)s to the additional list"
                ),
                before=before,
            )
            moved += 1
        Slot.objects.filter(pk__in=[s.pk for s in stale]).delete()
        stale_starts = {s.start for s in stale}
        new = [s for start, s in wanted.items() if start not in have or start in stale_starts]
        Slot.objects.bulk_create(
            (Slot(column=column, day=s.day, start=s.start, end=s.end) for s in new),
            batch_size=2000,
        )
        change.touch_days(column.pk, {s.day for s in stale} | {s.day for s in new})
    return {"created": len(new), "removed": len(stale), "moved_to_additional_list": moved}


def add_slot(*, column: Column, day: date, at: time, minutes: int) -> Slot:
    """Add a single slot to the grid by hand (e.g. an extra evening appointment)."""
    if not grid.MIN_SLOT_MINUTES <= minutes <= grid.MAX_SLOT_MINUTES:
        raise InvalidInput(_("Slot length must be between 5 and 240 minutes."))
    tz = ZoneInfo(column.calendar.location.time_zone)
    start = local_to_utc(day, at, tz)
    if start is None:
        raise InvalidInput(_("This local time does not exist (daylight saving change)."))
    end = start + timedelta(minutes=minutes)
    with origin("grid_edit"), occupancy_change() as change:
        change.lock(column)
        if Slot.objects.filter(column=column, start__lt=end, end__gt=start).exists():
            raise Conflict(_("The new slot overlaps an existing slot."), code="slot_overlap")
        slot = Slot.objects.create(column=column, day=day, start=start, end=end)
        change.touch(column.pk, day)
    return slot


def local_datetime(day: date, at: time, tz: ZoneInfo) -> datetime:
    instant = local_to_utc(day, at, tz)
    if instant is None:
        raise InvalidInput(_("This local time does not exist (daylight saving change)."))
    return instant
