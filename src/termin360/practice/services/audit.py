"""The audit trail: who changed which appointment when. No patient data in the summary."""

from __future__ import annotations

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
