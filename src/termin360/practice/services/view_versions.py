"""The version of what a calendar's day and week views show (C8, decision 014).

Open views poll ``selectors.view_version`` about once a second and re-fetch their content
only when it changed. So every write that changes what a view shows raises the counter
of its (calendar, day) *in the same transaction*: a poller that sees the new number is
sure to read the new content. Occupancy changes are covered by the gate
(``occupancy.occupancy_change`` calls ``columns_changed`` last, after its listeners);
writes that do not change occupancy (a note, an appointment's details, the additional
list, a patient's name) call ``views_changed`` themselves.

The counter is raised with one upsert per (calendar, day) — ``INSERT … ON CONFLICT DO
UPDATE`` (PostgreSQL and SQLite ≥ 3.24 alike) — rather than read-modify-write: two
writers on different columns of the same day must not lose a bump. On PostgreSQL the
upsert holds the row until commit; pairs are raised in sorted order so that two writers
never wait for each other in a circle.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from django.db import connection, transaction

from termin360.practice.models import Appointment, Column

# ``ViewVersion``'s table (its name is Django's default for the model; a test checks).
TABLE = "practice_viewversion"
_UPSERT = (
    "INSERT INTO practice_viewversion (calendar_id, day, version) VALUES (%s, %s, 1) "
    "ON CONFLICT (calendar_id, day) DO UPDATE SET version = practice_viewversion.version + 1"
)


def views_changed(pairs: Iterable[tuple[int, date]]) -> None:
    """Raise the version of each (calendar id, day) once."""
    wanted = sorted(set(pairs))
    if not wanted:
        return
    with transaction.atomic(savepoint=False), connection.cursor() as cursor:
        cursor.executemany(_UPSERT, wanted)


def columns_changed(
    touched: Iterable[tuple[int, date]], also: Iterable[tuple[int, date]] = ()
) -> None:
    """The occupancy gate's (column id, day) pairs as (calendar, day) versions, with the
    (calendar id, day) pairs ``also`` (the additional list)."""
    touched = set(touched)
    pairs = set(also)
    if touched:
        calendar_of = dict(
            Column.objects.filter(id__in={c for c, _day in touched}).values_list(
                "id", "calendar_id"
            )
        )
        pairs |= {(calendar_of[c], day) for c, day in touched if c in calendar_of}
    views_changed(pairs)


def appointment_changed(appt: Appointment) -> None:
    views_changed([(appt.calendar_id, appt.day)])


def patient_renamed(patient_id: int) -> None:
    """The views show a linked patient's name: every day with one of their appointments."""
    views_changed(
        Appointment.objects.filter(patient_id=patient_id)
        .values_list("calendar_id", "day")
        .distinct()
    )
