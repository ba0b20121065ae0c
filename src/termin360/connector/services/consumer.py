"""Portal → practice: applying the change feed (S5, S6, S7, S13).

A page of events is applied in one transaction together with the new cursor, so a
crash leaves either both or neither (S13). Applying is idempotent per booking
(``OnlineBooking.booking_id``): an event whose booking is already in that state
changes nothing, which makes a repeated page harmless.

Every write goes through the practice services under ``occupancy.origin("sync")``:
the outbox records the new busy state, but no S9 check is made — the portal is the
one who sent this booking.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Literal
from zoneinfo import ZoneInfo

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from termin360.connector.domain.matching import MatchResult, PatientCandidate, match_patient
from termin360.connector.domain.placement import PlacementDecision, place_booking
from termin360.connector.models import Mapping, OnlineBooking, SyncState
from termin360.connector.selectors import unplaced_bookings
from termin360.core.errors import ApplicationError, Conflict
from termin360.practice.models import Appointment, Patient
from termin360.practice.services import appointments as practice
from termin360.practice.services.grid_cells import load_cells
from termin360.practice.services.occupancy import origin
from termin360.protocol.messages import BookingState, FeedPage

logger = logging.getLogger(__name__)

Outcome = Literal["placed_in_slot", "to_additional_list", "cancelled", "moved", "unchanged"]
TEXT_LIMIT = 200


@dataclass
class ApplyResult:
    placed_in_slot: int = 0
    to_additional_list: int = 0
    cancelled: int = 0
    moved: int = 0
    unchanged: int = 0
    cursor: int = 0

    def count(self, outcome: Outcome) -> None:
        setattr(self, outcome, getattr(self, outcome) + 1)

    @property
    def changed(self) -> int:
        """Events that changed something in the practice calendar or the booking list."""
        return self.placed_in_slot + self.to_additional_list + self.cancelled + self.moved

    def as_dict(self) -> dict[str, int]:
        return {f.name: getattr(self, f.name) for f in fields(self)} | {"changed": self.changed}


# --------------------------------------------------------------------------- snapshot


def _snapshot(ob: OnlineBooking, booking: BookingState) -> None:
    """Copy the portal's view of the booking onto the row (TMEX L / Info show it)."""
    patient = booking.patient
    ob.online_calendar_id = booking.online_calendar_id
    ob.status = booking.status
    ob.start, ob.end = booking.start, booking.end
    ob.visit_type = booking.visit_type[:120]
    ob.reason = booking.reason[:300]
    ob.last_name, ob.first_name = patient.last_name[:100], patient.first_name[:100]
    ob.date_of_birth = patient.date_of_birth
    ob.email, ob.phone = patient.email[:254], patient.phone[:40]
    ob.insurance = patient.insurance[:4]
    ob.booked_at = booking.booked_at
    ob.cancelled_at = booking.cancelled_at
    ob.cancelled_by = (booking.cancelled_by or "")[:10]


def online_booking_ids(appointment_ids: list[int]) -> dict[int, int]:
    """{appointment id: portal booking id} of those appointments that stand for an online
    booking (for the practice API, ``practice.services.online_refs``)."""
    rows = OnlineBooking.objects.filter(appointment_id__in=appointment_ids)
    return {a: b for a, b in rows.values_list("appointment_id", "booking_id") if a is not None}


def _mapping_for(online_calendar_id: int) -> Mapping | None:
    return (
        Mapping.objects.select_related("column__calendar__location", "column__location")
        .filter(online_calendar_id=online_calendar_id)
        .first()
    )


# --------------------------------------------------------------------------- S6


def _match(ob: OnlineBooking, mapping: Mapping) -> MatchResult:
    column = mapping.column
    location_id = column.calendar.location_id
    candidates: list[PatientCandidate] = []
    # An appointment can only be linked to a patient of its calendar's location; a column
    # of another location cannot be mapped (S1), this guards a later change of the column.
    if ob.date_of_birth is not None and column.location_id in (None, location_id):
        candidates = [
            PatientCandidate(p.pk, p.last_name, p.first_name, p.date_of_birth)
            for p in Patient.objects.filter(location_id=location_id, date_of_birth=ob.date_of_birth)
        ]
    return match_patient(
        last_name=ob.last_name,
        first_name=ob.first_name,
        date_of_birth=ob.date_of_birth,
        candidates=candidates,
    )


def free_text(ob: OnlineBooking) -> str:
    """What an unmatched appointment shows: "Online: Müller, Hans (17.05.1980)"."""
    born = f" ({ob.date_of_birth:%d.%m.%Y})" if ob.date_of_birth else ""
    return f"Online: {ob.last_name}, {ob.first_name}{born}"[:TEXT_LIMIT]


def appointment_reason(ob: OnlineBooking) -> str:
    return ": ".join(part for part in (ob.visit_type, ob.reason) if part)[:TEXT_LIMIT]


# --------------------------------------------------------------------------- S5


def _flag(appointment: Appointment, reason: str) -> None:
    """Mark an appointment for the staff. Only the flag is written: it does not change
    what is occupied, so it needs no occupancy gate."""
    Appointment.objects.filter(pk=appointment.pk).update(flagged=True, flag_reason=reason)
    appointment.flagged, appointment.flag_reason = True, reason


def _place(ob: OnlineBooking, mapping: Mapping, subject: tuple[int | None, str]) -> Outcome:
    """Create the booking's appointment by the S5 rule and link it; returns where it went."""
    column = mapping.column
    calendar = column.calendar
    day = ob.start.astimezone(ZoneInfo(calendar.location.time_zone)).date()
    patient_id, text = subject
    reason = appointment_reason(ob)
    decision = place_booking(load_cells(column, day), ob.start, ob.end)
    appt: Appointment | None = None
    if decision.in_slots:
        try:
            appt = practice.book_appointment(
                actor=None,
                slot_id=decision.slot_ids[0],
                slot_count=len(decision.slot_ids),
                patient_id=patient_id,
                text=text,
                reason=reason,
                origin=Appointment.Origin.ONLINE,
            )
        except Conflict:
            # Taken between our look and the column lock: S5 says additional list.
            decision = PlacementDecision(reason="slot_taken")
        except ApplicationError:
            decision = PlacementDecision(reason="no_slot")
    if appt is None:
        appt = practice.add_to_additional_list(
            actor=None,
            calendar=calendar,
            day=day,
            patient_id=patient_id,
            text=text,
            reason=reason,
            start=ob.start,
            end=ob.end,
            origin=Appointment.Origin.ONLINE,
            flagged=True,
            flag_reason=decision.reason or "no_slot",
        )
    elif ob.match == OnlineBooking.Match.AMBIGUOUS:
        _flag(appt, "ambiguous_patient")
    ob.appointment = appt
    ob.placed_start, ob.placed_end = appt.start, appt.end
    ob.mapping = mapping
    if decision.in_slots:
        ob.placement = OnlineBooking.Placement.SLOT
        return "placed_in_slot"
    ob.placement = OnlineBooking.Placement.ADDITIONAL
    return "to_additional_list"


def _subject_for(ob: OnlineBooking, mapping: Mapping) -> tuple[int | None, str]:
    result = _match(ob, mapping)
    ob.match = result.kind
    if result.kind == "linked":
        return result.patient_id, ""
    return None, free_text(ob)


def _place_new(ob: OnlineBooking) -> Outcome | None:
    """Place a booking not in the calendar yet; ``None`` if its online calendar is not
    mapped (it is kept, unplaced, until a mapping exists)."""
    mapping = _mapping_for(ob.online_calendar_id)
    if mapping is None:
        ob.mapping, ob.placement = None, OnlineBooking.Placement.NONE
        return None
    return _place(ob, mapping, _subject_for(ob, mapping))


# --------------------------------------------------------------------------- S7 and moves


def _delete_appointment(ob: OnlineBooking) -> None:
    if ob.appointment_id is not None:
        if Appointment.objects.filter(pk=ob.appointment_id).exists():
            practice.delete_appointment(actor=None, appointment_id=ob.appointment_id)
        ob.appointment = None


def _cancel(ob: OnlineBooking, booking: BookingState) -> Outcome:
    _delete_appointment(ob)
    _snapshot(ob, booking)
    ob.cancelled_at = booking.cancelled_at or timezone.now()
    return "cancelled"


def _already_at(ob: OnlineBooking, start: datetime, end: datetime) -> bool:
    """Whether the booking's appointment sits at that time in the mapped column already
    (e.g. the practice moved it and the portal's event merely confirms it, S10)."""
    appt = ob.appointment
    if appt is None or appt.start != start or appt.end != end:
        return False
    mapping = _mapping_for(ob.online_calendar_id)
    return mapping is not None and appt.column_id == mapping.column_id


def _move(ob: OnlineBooking, booking: BookingState) -> Outcome:
    """Place the booking anew at its new time, by the same rule as a new booking. The old
    appointment is deleted first so its slots count as free; who it is for is kept (the
    staff may have linked it to a patient by hand)."""
    old = ob.appointment
    subject: tuple[int | None, str] | None = (old.patient_id, old.text) if old else None
    _delete_appointment(ob)
    _snapshot(ob, booking)
    mapping = _mapping_for(ob.online_calendar_id)
    if mapping is None:
        ob.mapping, ob.placement = None, OnlineBooking.Placement.NONE
        return "moved"
    _place(ob, mapping, subject or _subject_for(ob, mapping))
    return "moved"


# --------------------------------------------------------------------------- applying


def _apply(booking: BookingState, kind: str, seq: int | None) -> Outcome:
    ob = (
        OnlineBooking.objects.select_for_update(of=("self",))
        .select_related("appointment")
        .filter(booking_id=booking.booking_id)
        .first()
    )
    if ob is None:
        ob = OnlineBooking(booking_id=booking.booking_id)
        _snapshot(ob, booking)
        if booking.status == "cancelled":
            outcome: Outcome = "cancelled"
            ob.cancelled_at = booking.cancelled_at or timezone.now()
        else:
            outcome = _place_new(ob) or "unchanged"
    elif ob.status == OnlineBooking.Status.CANCELLED:
        # A cancelled booking never comes back; should its appointment still be there,
        # it goes now.
        outcome = "unchanged"
        if ob.appointment_id is not None:
            _delete_appointment(ob)
            outcome = "cancelled"
    elif seq is not None and seq <= ob.last_seq:
        # Older than what the connector has (the portal's answer to a practice change
        # told it a later state): applying it would undo the practice's newer change.
        outcome = "unchanged"
    elif booking.status == "cancelled":
        outcome = _cancel(ob, booking)
    elif kind == "booked" or (ob.start == booking.start and ob.end == booking.end):
        outcome = "unchanged"
    elif _already_at(ob, booking.start, booking.end):
        _snapshot(ob, booking)
        outcome = "unchanged"
    else:
        outcome = _move(ob, booking)
    if seq is not None:
        ob.last_seq = max(ob.last_seq, seq)
    ob.save()
    return outcome


def apply_page(page: FeedPage, after: int | None = None) -> ApplyResult:
    """Apply a page of the feed and move the cursor, in one transaction (S13).

    ``after``: the cursor the page was asked for. A portal whose feed ends below it was
    restored or is another portal (refused, ``feed_cursor_ahead``); a page that only ends
    below the cursor *now* is merely old — another round (``sync now`` beside the job)
    applied newer events meanwhile — and changes nothing."""
    result = ApplyResult()
    with transaction.atomic(), origin("sync"):
        SyncState.objects.get_or_create(pk=1)
        sync = SyncState.objects.select_for_update().get(pk=1)
        asked = sync.cursor if after is None else after
        if page.last_seq < asked:
            raise Conflict(
                _(
                    "The portal's change feed ends at %(last)s, but the connector has read up "
                    "to %(cursor)s: is it connected to another portal?"
                )
                % {"last": page.last_seq, "cursor": asked},
                code="feed_cursor_ahead",
            )
        cursor = sync.cursor
        for event in sorted(page.events, key=lambda e: e.seq):
            if event.seq <= cursor:
                continue
            result.count(_apply(event.booking, event.kind, event.seq))
            cursor = event.seq
        if cursor != sync.cursor:
            SyncState.objects.filter(pk=1).update(cursor=cursor)
        result.cursor = cursor
    return result


def apply_booking_states(states: list[BookingState]) -> ApplyResult:
    """Apply bookings as they are now, without touching the cursor — the S9 pull-in.

    The feed brings the same bookings later; they are known by then and change nothing.
    """
    result = ApplyResult()
    with transaction.atomic(), origin("sync"):
        # The same lock as a page of the feed: the job's feed thread may bring these very
        # bookings at this moment, and only one of the two may create them.
        SyncState.objects.get_or_create(pk=1)
        result.cursor = SyncState.objects.select_for_update().get(pk=1).cursor
        for booking in states:
            kind = "cancelled" if booking.status == "cancelled" else "moved"
            result.count(_apply(booking, kind, None))
    return result


def place_unplaced() -> int:
    """Place the kept bookings whose online calendar has been mapped since they came."""
    mapped = set(Mapping.objects.values_list("online_calendar_id", flat=True))
    placed = 0
    with transaction.atomic(), origin("sync"):
        for ob in unplaced_bookings().filter(online_calendar_id__in=mapped).select_for_update():
            if _place_new(ob) is not None:
                ob.save()
                placed += 1
    return placed
