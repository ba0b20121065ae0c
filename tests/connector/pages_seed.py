"""Connector rows for the page tests, written straight through the models: the pages
only read them, and this way the tests do not depend on the sync engine."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.utils import timezone
from django.utils.translation import gettext, override

BERLIN = ZoneInfo("Europe/Berlin")


def de(msgid: str) -> str:
    """The German text of a message id, as the pages show it."""
    with override("de"):
        return gettext(msgid)


def at(day: date, hh_mm: str) -> datetime:
    return datetime.combine(day, time.fromisoformat(hh_mm), tzinfo=BERLIN)


def mapping(column: Any, online_calendar_id: int = 501, online_name: str = "") -> Any:
    from termin360.connector.models import Mapping

    return Mapping.objects.create(
        online_calendar_id=online_calendar_id, column=column, online_name=online_name
    )


def booking(
    booking_id: int,
    start: datetime,
    *,
    minutes: int = 15,
    online_calendar_id: int = 501,
    mapping: Any = None,
    appointment: Any = None,
    placement: str = "",
    status: str = "active",
    cancelled_at: datetime | None = None,
    last_name: str = "Sommer",
    first_name: str = "Lea",
    **extra: Any,
) -> Any:
    from termin360.connector.models import OnlineBooking

    return OnlineBooking.objects.create(
        booking_id=booking_id,
        online_calendar_id=online_calendar_id,
        mapping=mapping,
        status=status,
        start=start,
        end=start + timedelta(minutes=minutes),
        visit_type=extra.pop("visit_type", "Erstgespräch"),
        last_name=last_name,
        first_name=first_name,
        date_of_birth=extra.pop("date_of_birth", date(1990, 5, 17)),
        booked_at=extra.pop("booked_at", timezone.now()),
        cancelled_at=cancelled_at,
        cancelled_by="patient" if cancelled_at else "",
        appointment=appointment,
        placement=placement,
        match=extra.pop("match", "free_text"),
        **extra,
    )


def online_appointment_in_slot(
    practice: Any, column: int, start: datetime, *, patient: Any = None, text: str = ""
) -> Any:
    """An online appointment on the slot of ``column`` that starts at ``start``."""
    from termin360.practice.models import Appointment, Slot

    slot = Slot.objects.get(column=practice.columns[column], start=start)
    appt = Appointment.objects.create(
        calendar=practice.calendar,
        column=slot.column,
        day=slot.day,
        start=slot.start,
        end=slot.end,
        patient=patient,
        text="" if patient else (text or "Sommer, Lea"),
        origin=Appointment.Origin.ONLINE,
    )
    Slot.objects.filter(pk=slot.pk).update(appointment=appt)
    return appt


def flagged_additional(practice: Any, day: date, start: datetime, reason: str) -> Any:
    """An online appointment the connector put in the additional list, flagged (S5)."""
    from termin360.practice.models import Appointment

    return Appointment.objects.create(
        calendar=practice.calendar,
        day=day,
        start=start,
        end=start + timedelta(minutes=15),
        text="Sommer, Lea",
        origin=Appointment.Origin.ONLINE,
        flagged=True,
        flag_reason=reason,
    )
