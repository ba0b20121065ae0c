"""Reservations (Reservierung): block time ranges across days, columns and times."""

from __future__ import annotations

from datetime import date, time
from zoneinfo import ZoneInfo

from django.contrib.auth.models import AnonymousUser, User
from django.utils.translation import gettext as _

from termin360.core.errors import Conflict, InvalidInput, NotFound
from termin360.practice.domain.reservations import ReservationRange
from termin360.practice.models import Calendar, Column, Reservation, Slot
from termin360.practice.services.occupancy import occupancy_change


def create_reservation(
    *,
    actor: User | AnonymousUser | None,
    calendar: Calendar,
    column_numbers: list[int],
    first_day: date,
    last_day: date,
    start: time,
    end: time,
    reason: str,
) -> Reservation:
    """Block ``start``–``end`` on every day from ``first_day`` to ``last_day`` in the columns.

    Refused if an appointment already sits in that range: the receptionist
    decides where it goes first, nothing is moved behind her back. A range without any
    slot in those columns is accepted — it still blocks that time online (a lunch break
    between the slots, say) — but ``covers_no_slot`` tells, and the API and the UI warn
    (a wrong year or time is the likelier cause).
    """
    if not reason.strip():
        raise InvalidInput(_("A reservation needs a reason."), code="reason_missing")
    if not column_numbers:
        raise InvalidInput(_("Choose at least one column."), code="columns_missing")
    try:
        rng = ReservationRange(first_day=first_day, last_day=last_day, start=start, end=end)
    except ValueError as exc:
        raise InvalidInput(_("Invalid reservation range: %(e)s") % {"e": exc}) from None
    columns = list(Column.objects.filter(calendar=calendar, number__in=set(column_numbers)))
    missing = set(column_numbers) - {c.number for c in columns}
    if missing:
        raise NotFound(
            _("Calendar %(cal)s has no column %(col)s.")
            % {"cal": calendar.number, "col": ", ".join(map(str, sorted(missing)))}
        )
    tz = ZoneInfo(calendar.location.time_zone)
    with occupancy_change() as change:
        change.lock(*columns)
        for day in rng.days():
            iv = rng.interval_on(day, tz)
            if iv is None:
                continue
            clash = (
                Slot.objects.filter(
                    column__in=columns,
                    day=day,
                    appointment__isnull=False,
                    start__lt=iv.end,
                    end__gt=iv.start,
                )
                .select_related("column")
                .first()
            )
            if clash is not None:
                local = clash.start.astimezone(tz)
                raise Conflict(
                    _("An appointment lies in this range (column %(col)s, %(when)s).")
                    % {"col": clash.column.number, "when": f"{local:%d.%m.%Y %H:%M}"},
                    code="appointment_in_range",
                )
        reservation = Reservation.objects.create(
            calendar=calendar,
            first_day=first_day,
            last_day=last_day,
            start=start,
            end=end,
            reason=reason.strip(),
            created_by=actor if actor is not None and actor.is_authenticated else None,
        )
        reservation.columns.set(columns)
        for column in columns:
            change.touch_days(column.pk, rng.days())
    return reservation


def covers_no_slot(reservation: Reservation) -> bool:
    """Whether the reservation's range holds no slot of its columns on any of its days."""
    rng = ReservationRange(
        first_day=reservation.first_day,
        last_day=reservation.last_day,
        start=reservation.start,
        end=reservation.end,
    )
    tz = ZoneInfo(reservation.calendar.location.time_zone)
    columns = list(reservation.columns.all())
    for day in rng.days():
        iv = rng.interval_on(day, tz)
        if (
            iv is not None
            and Slot.objects.filter(
                column__in=columns, day=day, start__lt=iv.end, end__gt=iv.start
            ).exists()
        ):
            return False
    return True


def delete_reservation(*, reservation_id: int) -> None:
    try:
        reservation = Reservation.objects.get(pk=reservation_id)
    except Reservation.DoesNotExist:
        raise NotFound(
            _("There is no reservation with id %(id)s.") % {"id": reservation_id}
        ) from None
    rng = ReservationRange(
        first_day=reservation.first_day,
        last_day=reservation.last_day,
        start=reservation.start,
        end=reservation.end,
    )
    columns = list(reservation.columns.all())
    with occupancy_change() as change:
        change.lock(*columns)
        for column in columns:
            change.touch_days(column.pk, rng.days())
        reservation.delete()
