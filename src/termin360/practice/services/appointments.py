"""Appointments: book, change, extend, shorten, move, delete — and the additional list.

Each function locks the columns it touches (see ``occupancy``), re-reads the
slots under that lock, checks the rules of ``domain/runs.py`` and writes. The
slot update is conditional as well (``appointment IS NULL``) so that even a
forgotten lock could not give one slot to two appointments.

Which columns to lock depends on where the appointment sits, which is only known
by reading it before the lock. So a change re-reads the appointment under the lock
(``_fresh``); if it was moved to another column meanwhile, the transaction is rolled
back and the change starts again (``_retry_when_moved``) — otherwise it would work
on the old place, e.g. report the wrong day as freed to the online calendar.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import date, datetime
from typing import ParamSpec, TypeVar

from django.contrib.auth.models import AnonymousUser, User
from django.db import transaction
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from termin360.core.errors import Conflict, InvalidInput, SlotTaken
from termin360.practice.domain.runs import (
    GridCell,
    RunError,
    extension_cell,
    run_from,
    shortening_cell,
)
from termin360.practice.models import Appointment, Calendar, Column, Patient, Slot
from termin360.practice.services import audit, view_versions
from termin360.practice.services.grid_cells import load_cells
from termin360.practice.services.lookups import appointment_by_id, patient_by_id, slot_by_id
from termin360.practice.services.occupancy import OccupancyChange, occupancy_change

Actor = User | AnonymousUser | None
MAX_SLOTS_PER_APPOINTMENT = 24
ATTEMPTS_WHEN_MOVED = 3

P = ParamSpec("P")
R = TypeVar("R")


class _MovedMeanwhile(Exception):
    """The appointment changed its column between being read and the column lock."""


def _retry_when_moved(fn: Callable[P, R]) -> Callable[P, R]:
    @functools.wraps(fn)
    def attempt(*args: P.args, **kwargs: P.kwargs) -> R:
        for _attempt in range(ATTEMPTS_WHEN_MOVED):
            try:
                return fn(*args, **kwargs)
            except _MovedMeanwhile:
                continue
        raise Conflict(
            _("Someone else is changing this appointment right now; please try again."),
            code="changed_meanwhile",
        )

    return attempt


def _fresh(appt: Appointment) -> Appointment:
    """``appt`` read again now that its column is locked; it must still sit in that column
    (a deleted appointment raises ``NotFound``)."""
    current = appointment_by_id(appt.pk)
    if current.column_id != appt.column_id:
        raise _MovedMeanwhile
    return current


def _run_error(exc: RunError) -> Exception:
    messages = {
        "slot_taken": _("This time is already taken."),
        "outside_grid": _("The appointment would run past the slots of this column."),
        "not_consecutive": _("The slots of this time are not consecutive."),
        "unknown_slot": _("The slot does not belong to this column."),
        "invalid_length": _("An appointment needs at least one slot."),
        "single_slot": _("A single-slot appointment cannot be shortened; delete it instead."),
        "not_placed": _("The appointment is in the additional list; place it on a slot first."),
    }
    message = messages.get(exc.code, str(exc))
    if exc.code == "slot_taken":
        return SlotTaken(message)
    if exc.code in {"single_slot", "not_placed"}:
        return Conflict(message, code=exc.code)
    return InvalidInput(message, code=exc.code)


def _taken(slot_ids: list[int]) -> SlotTaken:
    """The refusal of a time that is taken — naming the online booking that holds it, if
    one does: the receptionist sees at once that a patient booked it online (S9)."""
    holder = (
        Appointment.objects.filter(slots__id__in=slot_ids, origin=Appointment.Origin.ONLINE)
        .select_related("patient")
        .first()
    )
    if holder is None:
        return SlotTaken(_("This time is already taken."))
    if holder.patient is not None:
        who = f"{holder.patient.last_name}, {holder.patient.first_name}"
        return SlotTaken(_("This time is already booked online: %(who)s.") % {"who": who})
    # An online booking not linked to a patient shows its free text ("Online: …").
    return SlotTaken(_("This time is already taken: %(who)s.") % {"who": holder.text})


def _run_slot_ids(cells: list[GridCell], first_slot_id: int, count: int) -> list[int]:
    ids = [c.slot_id for c in cells]
    i = ids.index(first_slot_id) if first_slot_id in ids else 0
    return ids[i : i + count]


def _validate_subject(calendar: Calendar, patient_id: int | None, text: str) -> Patient | None:
    patient = None
    if patient_id is not None:
        patient = patient_by_id(patient_id)
        if patient.location_id != calendar.location_id:
            raise InvalidInput(
                _("The patient belongs to another location than this calendar."),
                code="patient_other_location",
            )
    elif not text.strip():
        raise InvalidInput(_("An appointment needs a patient or a text."), code="patient_or_text")
    return patient


def _occupy(appt: Appointment, run: list[GridCell]) -> None:
    """Claim the run's slots for ``appt``; a slot claimed meanwhile raises ``SlotTaken``."""
    ids = [c.slot_id for c in run]
    Slot.objects.filter(id__in=ids, annotated=False, appointment__isnull=True).update(
        appointment=appt
    )
    if Slot.objects.filter(id__in=ids, appointment=appt).count() != len(ids):
        raise _taken(ids)
    appt.start = min(c.start for c in run)
    appt.end = max(c.end for c in run)


def _release(change: OccupancyChange, appt: Appointment) -> None:
    if appt.column_id is not None:
        change.touch(appt.column_id, appt.day)
    else:  # it leaves the additional list of its day
        change.touch_view(appt.calendar_id, appt.day)
    Slot.objects.filter(appointment=appt).update(appointment=None)


def book_appointment(
    *,
    actor: Actor,
    slot_id: int,
    slot_count: int = 1,
    patient_id: int | None = None,
    text: str = "",
    reason: str = "",
    origin: str = Appointment.Origin.PRACTICE,
) -> Appointment:
    """Book ``slot_count`` consecutive slots from ``slot_id`` for a patient or a free text."""
    if not 1 <= slot_count <= MAX_SLOTS_PER_APPOINTMENT:
        raise InvalidInput(
            _("An appointment spans 1 to %(n)s slots.") % {"n": MAX_SLOTS_PER_APPOINTMENT}
        )
    slot = slot_by_id(slot_id)
    column = slot.column
    patient = _validate_subject(column.calendar, patient_id, text)
    with occupancy_change() as change:
        change.lock(column)
        cells = load_cells(column, slot.day)
        try:
            run = run_from(cells, slot.pk, slot_count)
        except RunError as exc:
            if exc.code == "slot_taken":
                raise _taken(_run_slot_ids(cells, slot.pk, slot_count)) from None
            raise _run_error(exc) from None
        appt = Appointment.objects.create(
            calendar=column.calendar,
            column=column,
            day=slot.day,
            patient=patient,
            text=text.strip(),
            reason=reason.strip(),
            origin=origin,
        )
        _occupy(appt, run)
        appt.save(update_fields=["start", "end"])
        change.touch(column.pk, slot.day)
        audit.record(
            actor=actor,
            action="book",
            appointment=appt,
            summary=gettext_noop("booked %(where)s, %(n)s slot(s)"),
            where=appt,
            n=slot_count,
        )
    return appt


@transaction.atomic
def add_to_additional_list(
    *,
    actor: Actor,
    calendar: Calendar,
    day: date,
    patient_id: int | None = None,
    text: str = "",
    reason: str = "",
    start: datetime | None = None,
    end: datetime | None = None,
    origin: str = Appointment.Origin.PRACTICE,
    flagged: bool = False,
    flag_reason: str = "",
) -> Appointment:
    """An appointment without a slot, in the calendar's additional list for ``day``."""
    patient = _validate_subject(calendar, patient_id, text)
    if start is not None and end is not None and end <= start:
        raise InvalidInput(_("The end must lie after the start."))
    appt = Appointment.objects.create(
        calendar=calendar,
        column=None,
        day=day,
        patient=patient,
        text=text.strip(),
        reason=reason.strip(),
        start=start,
        end=end,
        origin=origin,
        flagged=flagged,
        flag_reason=flag_reason,
    )
    audit.record(
        actor=actor,
        action="add_additional",
        appointment=appt,
        summary=gettext_noop("added to %(where)s"),
        where=appt,
    )
    view_versions.appointment_changed(appt)
    return appt


@transaction.atomic
def update_appointment(
    *,
    actor: Actor,
    appointment_id: int,
    patient_id: int | None = None,
    text: str | None = None,
    reason: str | None = None,
    clear_patient: bool = False,
    clear_flag: bool = False,
) -> Appointment:
    """Change who or what an appointment is for; its time stays."""
    appt = appointment_by_id(appointment_id)
    if patient_id is not None:
        appt.patient = _validate_subject(appt.calendar, patient_id, "")
    elif clear_patient:
        appt.patient = None
    if text is not None:
        appt.text = text.strip()
    if reason is not None:
        appt.reason = reason.strip()
    if clear_flag:
        appt.flagged, appt.flag_reason = False, ""
    if appt.patient is None and not appt.text:
        raise InvalidInput(_("An appointment needs a patient or a text."), code="patient_or_text")
    # Only these fields: a full save would write back the place read above and undo a
    # move committed meanwhile.
    appt.save(update_fields=["patient", "text", "reason", "flagged", "flag_reason", "updated_at"])
    audit.record(
        actor=actor, action="update", appointment=appt, summary=gettext_noop("details changed")
    )
    view_versions.appointment_changed(appt)
    return appt


@_retry_when_moved
def delete_appointment(*, actor: Actor, appointment_id: int) -> None:
    """Delete an appointment: all its slots are free (or noted) again."""
    appt = appointment_by_id(appointment_id)
    with occupancy_change() as change:
        if appt.column_id is not None:
            change.lock(appt.column_id)
        appt = _fresh(appt)
        _release(change, appt)
        audit.record(
            actor=actor,
            action="delete",
            appointment=appt,
            summary=gettext_noop("deleted from %(where)s"),
            where=appt,
        )
        appt.delete()


def _held_cells(appt: Appointment, cells: list[GridCell]) -> list[GridCell]:
    return [c for c in cells if c.facts.appointment_id == appt.pk]


@_retry_when_moved
def extend_appointment(*, actor: Actor, appointment_id: int) -> Appointment:
    """Grow a (multi-slot) appointment by the next consecutive slot."""
    appt = appointment_by_id(appointment_id)
    if appt.column is None:
        raise _run_error(RunError("not_placed", "not placed"))
    column: Column = appt.column
    with occupancy_change() as change:
        change.lock(column)
        appt = _fresh(appt)
        cells = load_cells(column, appt.day)
        held = _held_cells(appt, cells)
        try:
            nxt = extension_cell(cells, held)
        except RunError as exc:
            raise _run_error(exc) from None
        _occupy(appt, [*held, nxt])
        appt.save(update_fields=["start", "end", "updated_at"])
        change.touch(column.pk, appt.day)
        audit.record(
            actor=actor,
            action="extend",
            appointment=appt,
            summary=gettext_noop("extended to %(n)s slots at %(where)s"),
            n=len(held) + 1,
            where=appt,
        )
    return appt


@_retry_when_moved
def shorten_appointment(*, actor: Actor, appointment_id: int) -> Appointment:
    """Give up the last slot of a multi-slot appointment."""
    appt = appointment_by_id(appointment_id)
    if appt.column is None:
        raise _run_error(RunError("not_placed", "not placed"))
    column: Column = appt.column
    with occupancy_change() as change:
        change.lock(column)
        appt = _fresh(appt)
        held = _held_cells(appt, load_cells(column, appt.day))
        try:
            last = shortening_cell(held)
        except RunError as exc:
            raise _run_error(exc) from None
        Slot.objects.filter(pk=last.slot_id, appointment=appt).update(appointment=None)
        rest = [c for c in held if c.slot_id != last.slot_id]
        appt.start, appt.end = min(c.start for c in rest), max(c.end for c in rest)
        appt.save(update_fields=["start", "end", "updated_at"])
        change.touch(column.pk, appt.day)
        audit.record(
            actor=actor,
            action="shorten",
            appointment=appt,
            summary=gettext_noop("shortened to %(n)s slot(s) at %(where)s"),
            n=len(rest),
            where=appt,
        )
    return appt


@_retry_when_moved
def move_appointment(*, actor: Actor, appointment_id: int, slot_id: int) -> Appointment:
    """Move an appointment — from a slot or from the additional list — onto ``slot_id``.

    The target may be any column of the same calendar and any day; the
    appointment keeps its number of slots (one, coming from the additional list).
    """
    appt = appointment_by_id(appointment_id)
    target = slot_by_id(slot_id)
    column = target.column
    if column.calendar_id != appt.calendar_id:
        raise InvalidInput(
            _("An appointment can only be moved within its calendar."), code="other_calendar"
        )
    with occupancy_change() as change:
        change.lock(*(c for c in (column.pk, appt.column_id) if c is not None))
        appt = _fresh(appt)
        before = audit.label(appt)
        count = max(1, Slot.objects.filter(appointment=appt).count())
        try:
            run = run_from(
                load_cells(column, target.day), target.pk, count, own_appointment=appt.pk
            )
        except RunError as exc:
            raise _run_error(exc) from None
        _release(change, appt)
        appt.column, appt.day = column, target.day
        _occupy(appt, run)
        appt.save(update_fields=["column", "day", "start", "end", "updated_at"])
        change.touch(column.pk, target.day)
        audit.record(
            actor=actor,
            action="move",
            appointment=appt,
            summary=gettext_noop("moved from %(before)s to %(where)s"),
            before=before,
            where=appt,
        )
    return appt


@_retry_when_moved
def move_to_additional_list(*, actor: Actor, appointment_id: int) -> Appointment:
    """Take an appointment off its slots into the additional list of its day (time kept)."""
    appt = appointment_by_id(appointment_id)
    if appt.column_id is None:
        return appt
    with occupancy_change() as change:
        change.lock(appt.column_id)
        appt = _fresh(appt)
        before = audit.label(appt)
        _release(change, appt)
        appt.column = None
        appt.save(update_fields=["column", "updated_at"])
        audit.record(
            actor=actor,
            action="move",
            appointment=appt,
            summary=gettext_noop("moved from %(before)s to the additional list"),
            before=before,
        )
    return appt
