"""The audit trail: who changed which appointment when. No patient data in the summary.

Summaries are written once, in the practice's language (``LANGUAGE_CODE``, German by
default): the trail is the practice's record, read by its staff, and must not change
with whoever happens to look at it later.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

from django.conf import settings
from django.contrib.auth.models import AnonymousUser, User
from django.utils import translation
from django.utils.translation import gettext as _

from termin360.practice.models import Appointment, AuditEntry


def record(
    *,
    actor: User | AnonymousUser | None,
    action: str,
    appointment: Appointment,
    summary: str,
    **values: object,
) -> None:
    """``summary`` is an English msgid with ``%(name)s`` placeholders filled from ``values``
    (``where``/``before`` given as appointments are rendered with ``label``)."""
    with translation.override(settings.LANGUAGE_CODE):
        rendered = {k: label(v) if isinstance(v, Appointment) else v for k, v in values.items()}
        text = _(summary) % rendered if values else _(summary)
    user = actor if actor is not None and actor.is_authenticated else None
    AuditEntry.objects.create(
        actor=user,
        actor_name=user.get_username() if user is not None else "system",
        action=action,
        appointment_id=appointment.pk,
        calendar_number=appointment.calendar.number,
        summary=text[:300],
    )


def label(appt: Appointment) -> str:
    """Where the appointment sits, for a summary: "Spalte 2, 02.03.2026 09:15"."""
    tz = ZoneInfo(appt.calendar.location.time_zone)
    with translation.override(settings.LANGUAGE_CODE):
        if appt.column_id is None or appt.start is None:
            return _("additional list of %(day)s") % {"day": f"{appt.day:%d.%m.%Y}"}
        assert appt.column is not None
        return _("column %(col)s, %(when)s") % {
            "col": appt.column.number,
            "when": f"{appt.start.astimezone(tz):%d.%m.%Y %H:%M}",
        }
