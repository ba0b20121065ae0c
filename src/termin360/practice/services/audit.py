"""The audit trail: who changed which appointment when. No patient data in the summary."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from django.contrib.auth.models import AnonymousUser, User

from termin360.practice.models import Appointment, AuditEntry


def record(
    *,
    actor: User | AnonymousUser | None,
    action: str,
    appointment: Appointment,
    summary: str,
) -> None:
    user = actor if actor is not None and actor.is_authenticated else None
    AuditEntry.objects.create(
        actor=user,
        actor_name=user.get_username() if user is not None else "system",
        action=action,
        appointment_id=appointment.pk,
        calendar_number=appointment.calendar.number,
        summary=summary[:300],
    )


def label(appt: Appointment) -> str:
    """Where the appointment sits, for a summary: "column 2 2026-03-02 09:15"."""
    tz = ZoneInfo(appt.calendar.location.time_zone)
    if appt.column_id is None or appt.start is None:
        return f"additional list {appt.day:%Y-%m-%d}"
    assert appt.column is not None
    return f"column {appt.column.number} {appt.start.astimezone(tz):%Y-%m-%d %H:%M}"
