"""Online bookings: book, cancel (patient, practice). P4.

Every change locks the practice row first (``feed.lock_practice``): changes of one
practice are serialized, the availability check below runs on committed data,
and the feed numbers stay gap-free. The database refuses overlapping active
bookings on its own as well (exclusion constraint on PostgreSQL), so even a
code path that forgot the lock could not double-book.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from termin360.core.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from termin360.portal.domain import visit_types as visit_type_rules
from termin360.portal.domain.availability import free_slot_at
from termin360.portal.models import Booking, OnlineCalendar, PatientProfile, VisitType
from termin360.portal.services import availability, feed, mail
from termin360.portal.services.metrics import counted_booking


class SlotGone(Conflict):
    """The wished-for time was taken meanwhile; ``alternatives`` lists the next free ones."""

    code = "slot_taken"


class _Taken(Exception):
    """Inside ``book``: the time is not free; leaves the transaction before ``SlotGone``."""


def _calendar(calendar_id: int) -> OnlineCalendar:
    try:
        return (
            OnlineCalendar.objects.public()
            .select_related("doctor__practice", "doctor__location")
            .get(pk=calendar_id)
        )
    except OnlineCalendar.DoesNotExist:
        raise NotFound(_("This online calendar does not exist or is not published.")) from None


def _visit_type(calendar: OnlineCalendar, visit_type_id: int) -> VisitType:
    try:
        return calendar.visit_types.get(pk=visit_type_id, active=True)
    except VisitType.DoesNotExist:
        raise NotFound(_("This visit type is not offered in this calendar.")) from None


def _bookable(calendar_id: int, visit_type_id: int) -> tuple[OnlineCalendar, VisitType]:
    """The public calendar and its active visit type in one query — with the doctor,
    practice, location and the weekly hours that the booking reads from them; the two
    refusals of ``_calendar`` and ``_visit_type`` when not."""
    public = OnlineCalendar.objects.public().filter(pk=calendar_id)
    vt = (
        VisitType.objects.filter(calendar__in=public, pk=visit_type_id, active=True)
        .select_related("calendar__doctor__practice", "calendar__doctor__location")
        .prefetch_related("calendar__hours")
        .first()
    )
    if vt is None:  # one of the two refusals (or both appeared just now)
        calendar = _calendar(calendar_id)
        return calendar, _visit_type(calendar, visit_type_id)
    return vt.calendar, vt


def is_existing_patient(patient: PatientProfile, calendar: OnlineCalendar) -> bool:
    """Known to the practice: has booked (and not only cancelled) with it before."""
    return Booking.objects.filter(
        Q(status=Booking.Status.ACTIVE) | Q(start__lt=timezone.now()),
        patient=patient,
        calendar__doctor__practice_id=calendar.doctor.practice_id,
    ).exists()


def _visit_refusal(vt: VisitType, *, insurance: str, existing: bool) -> InvalidInput | None:
    """Why this patient may not book ``vt`` (insurance, new or existing patient), or None."""
    if not vt.allows(insurance):
        return InvalidInput(
            _("This visit type is not offered for your insurance type."), code="insurance"
        )
    if existing and not vt.existing_patients:
        return InvalidInput(_("This visit type is for new patients only."), code="new_only")
    if not existing and not vt.new_patients:
        return InvalidInput(
            _("This visit type is for existing patients only."), code="existing_only"
        )
    return None


def visit_types_open_to(
    patient: PatientProfile | None, calendar: OnlineCalendar, types: list[VisitType]
) -> list[VisitType]:
    """The visit types this patient may book here; for a visitor who is not logged in,
    those open to new patients (the insurance is not known yet)."""
    if patient is None:
        return visit_type_rules.for_patients(types, existing=False)
    existing = is_existing_patient(patient, calendar)
    return [
        vt
        for vt in types
        if _visit_refusal(vt, insurance=patient.insurance, existing=existing) is None
    ]


def preferred_visit_type(
    patient: PatientProfile | None, calendar: OnlineCalendar, types: list[VisitType]
) -> VisitType | None:
    """The visit type a doctor page shows first to this patient, or ``None`` (she must
    choose): see ``domain.visit_types.preferred``."""
    return visit_type_rules.preferred(
        visit_types_open_to(patient, calendar, types), calendar.default_visit_type_id
    )


def existing_practice_ids(patient: PatientProfile | None) -> set[int]:
    """The practices that know this patient (``is_existing_patient``), in one query: search
    pages ask it for a whole page of results."""
    if patient is None:
        return set()
    rows = Booking.objects.filter(patient=patient).filter(
        Q(status=Booking.Status.ACTIVE) | Q(start__lt=timezone.now())
    )
    return set(rows.order_by().values_list("calendar__doctor__practice_id", flat=True).distinct())


def _check_visit_rules(patient: PatientProfile, calendar: OnlineCalendar, vt: VisitType) -> None:
    existing = is_existing_patient(patient, calendar)
    refusal = _visit_refusal(vt, insurance=patient.insurance, existing=existing)
    if refusal is not None:
        raise refusal


def _taken(calendar: OnlineCalendar, vt: VisitType, start: datetime) -> SlotGone:
    alternatives = availability.upcoming_free(calendar, vt.duration_minutes, after=start)
    tz = ZoneInfo(calendar.doctor.practice.time_zone)
    return SlotGone(
        _("This time was just taken. Please choose another one."),
        alternatives=[a.start.astimezone(tz).isoformat() for a in alternatives],
    )


def _check_offered(calendar: OnlineCalendar, vt: VisitType, start: datetime) -> None:
    """Refuse a time the calendar never offers (off the grid, outside the hours, within
    the lead time, beyond the horizon): that is a wrong request, not a lost race."""
    offered = free_slot_at(
        availability.rules_of(calendar),
        now=timezone.now(),
        start=start,
        duration_minutes=vt.duration_minutes,
        blocked=[],
    )
    if offered is None:
        raise InvalidInput(
            _(
                "This time cannot be booked in this calendar: it lies outside the bookable "
                "hours, too soon or too far ahead."
            ),
            code="not_bookable",
        )


@counted_booking
def book(
    *,
    patient: PatientProfile,
    calendar_id: int,
    visit_type_id: int,
    start: datetime,
    reason: str = "",
) -> Booking:
    """Book ``start`` for a confirmed patient; refused with ``SlotGone`` if not free (any more)."""
    if patient.email_confirmed_at is None:
        raise PermissionDenied(
            _("Please confirm your e-mail address before booking."), code="unconfirmed"
        )
    if start.tzinfo is None:
        raise InvalidInput(_("The start time needs a time zone."), code="naive_time")
    calendar, vt = _bookable(calendar_id, visit_type_id)
    _check_visit_rules(patient, calendar, vt)
    _check_offered(calendar, vt, start)
    reason = reason.strip()[:300]
    try:
        with transaction.atomic():
            practice = feed.lock_practice(calendar.doctor.practice_id)
            if not availability.is_free(calendar, start, vt.duration_minutes):
                raise _Taken
            user = patient.user
            booking = Booking.objects.create(
                calendar=calendar,
                patient=patient,
                visit_type=vt,
                start=start,
                end=start + timedelta(minutes=vt.duration_minutes),
                reason=reason,
                patient_last_name=patient.last_name,
                patient_first_name=patient.first_name,
                patient_date_of_birth=patient.date_of_birth,
                patient_email=user.email,
                patient_phone=patient.phone,
                patient_insurance=patient.insurance,
            )
            feed.append_event(practice, booking, "booked")
            mail.booking_confirmed(booking)
    except (_Taken, IntegrityError):
        # IntegrityError: the exclusion constraint caught an overlap the check did not see.
        # The alternatives are looked up after the rollback, so a crowd of losers does not
        # hold the practice lock (or SQLite's write lock) while they search.
        raise _taken(calendar, vt, start) from None
    return booking


def _cancel(booking: Booking, *, by: str, reason: str, repeat_ok: bool = False) -> Booking:
    """Cancel under the practice lock. ``repeat_ok``: a booking that is cancelled already
    is returned as it is (a retried request), instead of refused."""
    with transaction.atomic():
        practice = feed.lock_practice(booking.calendar.doctor.practice_id)
        booking.refresh_from_db()
        if booking.status != Booking.Status.ACTIVE:
            if repeat_ok:
                return booking
            raise Conflict(_("This booking is already cancelled."), code="already_cancelled")
        booking.status = Booking.Status.CANCELLED
        booking.cancelled_at = timezone.now()
        booking.cancelled_by = by
        booking.cancel_reason = reason.strip()[:300]
        booking.save(update_fields=["status", "cancelled_at", "cancelled_by", "cancel_reason"])
        feed.append_event(practice, booking, "cancelled")
        if by == Booking.CancelledBy.PATIENT:
            mail.booking_cancelled_by_patient(booking)
        else:
            mail.booking_cancelled_by_practice(booking)
    return booking


def _booking(booking_id: int) -> Booking:
    try:
        return Booking.objects.select_related(
            "calendar__doctor__practice", "visit_type", "patient__user"
        ).get(pk=booking_id)
    except Booking.DoesNotExist:
        raise NotFound(_("There is no such booking.")) from None


def online_deadline(calendar: OnlineCalendar, start: datetime) -> datetime:
    """Until when a booking of ``calendar`` at ``start`` can be cancelled or moved online."""
    return start - timedelta(hours=calendar.cancel_deadline_hours)


def deadline_of(booking: Booking) -> datetime:
    """Until when the patient may cancel or move ``booking`` online."""
    return online_deadline(booking.calendar, booking.start)


def cancel_by_patient(*, patient: PatientProfile, booking_id: int) -> Booking:
    """A patient cancels their own booking, up to the calendar's cancellation deadline."""
    booking = _booking(booking_id)
    if booking.patient_id != patient.pk:
        raise NotFound(_("There is no such booking."))  # no hint that the id exists
    if timezone.now() > deadline_of(booking):
        raise Conflict(
            _(
                "Bookings of this practice can be cancelled online up to %(h)s hours before; "
                "please call the practice."
            )
            % {"h": booking.calendar.cancel_deadline_hours},
            code="deadline_passed",
        )
    return _cancel(booking, by=Booking.CancelledBy.PATIENT, reason="")


def _booking_of_practice(practice_id: int, booking_id: int) -> Booking:
    booking = _booking(booking_id)
    if booking.calendar.doctor.practice_id != practice_id:
        raise NotFound(_("There is no such booking."))  # no hint that the id exists
    return booking


def cancel_by_practice(*, practice_id: int, booking_id: int, reason: str) -> Booking:
    """The practice cancels one of its bookings on the portal's pages, with a reason the
    patient is told."""
    booking = _booking_of_practice(practice_id, booking_id)
    if not reason.strip():
        raise InvalidInput(_("Please give the patient a reason."), code="reason_missing")
    return _cancel(booking, by=Booking.CancelledBy.PRACTICE, reason=reason)


def cancel_from_practice_calendar(*, practice_id: int, booking_id: int, reason: str) -> Booking:
    """S10: the appointment was deleted in the practice calendar; the connector reports it.
    The calendar gives no reason, so none is required. A booking that is cancelled already
    is answered as it is: the connector may send the same cancellation again."""
    booking = _booking_of_practice(practice_id, booking_id)
    return _cancel(booking, by=Booking.CancelledBy.PRACTICE, reason=reason, repeat_ok=True)


MAX_MOVED_DURATION = timedelta(hours=12)


class _Overlap(Exception):
    """Inside ``move_by_practice``: another active booking holds the new time."""


def move_by_practice(
    *, practice_id: int, booking_id: int, start: datetime, end: datetime
) -> Booking:
    """S10: the practice moved an online booking in its calendar (drag & drop); the portal
    booking follows and the patient is told.

    The practice's own calendar is the master, so neither the bookable hours nor the busy
    times of the online calendar are checked — only that no *other* active online booking
    of that calendar holds the new time (``slot_taken``). A move to where the booking is
    already changes nothing (a retried request)."""
    if start.tzinfo is None or end.tzinfo is None:
        raise InvalidInput(_("The start time needs a time zone."), code="naive_time")
    if not timedelta(0) < end - start <= MAX_MOVED_DURATION:
        raise InvalidInput(
            _("An appointment must end after its start and last at most 12 hours."),
            code="bad_duration",
        )
    booking = _booking_of_practice(practice_id, booking_id)
    try:
        with transaction.atomic():
            practice = feed.lock_practice(practice_id)
            booking.refresh_from_db()
            if booking.status != Booking.Status.ACTIVE:
                raise Conflict(
                    _("This booking is cancelled; it cannot be moved."), code="already_cancelled"
                )
            if booking.start == start and booking.end == end:
                return booking
            overlapping = Booking.objects.filter(
                calendar_id=booking.calendar_id,
                status=Booking.Status.ACTIVE,
                start__lt=end,
                end__gt=start,
            ).exclude(pk=booking.pk)
            if overlapping.exists():
                raise _Overlap
            old_start = booking.start
            booking.start, booking.end = start, end
            # Moved: the reminder belongs to the new time.
            booking.reminder_sent_at = None
            booking.save(update_fields=["start", "end", "reminder_sent_at"])
            feed.append_event(practice, booking, "moved")
            mail.booking_moved_by_practice(booking, old_start)
    except (_Overlap, IntegrityError):
        # IntegrityError: the exclusion constraint (PostgreSQL) saw an overlap as well.
        raise SlotGone(
            _("Another online booking holds this time; the booking was not moved."),
        ) from None
    return booking
