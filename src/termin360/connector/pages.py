"""What the connector's pages show (S3, S4 TMEX L and Info), shaped for the templates.

Times are shown in the time zone of the location the booking belongs to (that of its
mapped column, else its calendar's), as ``dd.mm.yyyy HH:MM``; the portal and the
database keep UTC.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from django.conf import settings
from django.urls import reverse
from django.utils.translation import gettext as _

from termin360.connector.models import Mapping, OnlineBooking
from termin360.connector.selectors import SyncStatus
from termin360.practice.models import Appointment, Calendar, Column, Location
from termin360.practice.pages import appointment_title, flag_reason_label


class Zones:
    """The time zone of each location, read once per page (a handful of rows)."""

    def __init__(self) -> None:
        self._by_location = {
            pk: ZoneInfo(name) for pk, name in Location.objects.values_list("pk", "time_zone")
        }
        self.default = ZoneInfo(settings.TIME_ZONE)

    def of_column(self, column: Column | None) -> ZoneInfo:
        if column is None:
            return self.default
        location_id = column.location_id or column.calendar.location_id
        return self._by_location.get(location_id, self.default)

    def of_calendar(self, calendar: Calendar) -> ZoneInfo:
        return self._by_location.get(calendar.location_id, self.default)

    def of_booking(self, b: OnlineBooking) -> ZoneInfo:
        if b.appointment is not None and b.appointment.column is not None:
            return self.of_column(b.appointment.column)
        if b.appointment is not None:
            return self.of_calendar(b.appointment.calendar)
        return self.of_column(b.mapping.column if b.mapping is not None else None)


def nav_state(status: SyncStatus) -> tuple[str, str]:
    """(state, German label) of the sync as one glance: an error counts until a later
    success clears it."""
    if not status.configured:
        return "off", _("not set up")
    if status.last_error_at is not None and (
        status.last_success_at is None or status.last_error_at > status.last_success_at
    ):
        return "error", _("error")
    if status.last_success_at is None:
        return "off", _("not synced yet")
    return "ok", _("working")


def when(value: datetime | None, tz: ZoneInfo) -> str:
    return value.astimezone(tz).strftime("%d.%m.%Y %H:%M") if value is not None else ""


def calendar_label(calendar: Calendar) -> str:
    return f"{calendar.number} {calendar.name}"


def column_label(column: Column) -> str:
    return f"{column.number} {column.name}"


def day_url(calendar: Calendar, day: date) -> str:
    return reverse("practice:day", kwargs={"number": calendar.number, "day": day})


@dataclass(frozen=True)
class Place:
    """Where a booking sits in the practice calendar, in words, and the day to open."""

    text: str
    url: str = ""


def place_of(b: OnlineBooking, tz: ZoneInfo) -> Place:
    appt = b.appointment
    if appt is not None:
        url = day_url(appt.calendar, appt.day)
        if appt.column is not None:
            return Place(
                _("Calendar %(calendar)s, column %(column)s")
                % {"calendar": calendar_label(appt.calendar), "column": column_label(appt.column)},
                url,
            )
        return Place(
            _("Additional list of calendar %(calendar)s")
            % {"calendar": calendar_label(appt.calendar)},
            url,
        )
    if b.placement == OnlineBooking.Placement.NONE:
        return Place(_("not assigned"))
    # Placed once, the appointment is gone: cancelled online, or deleted in the practice
    # and not yet passed on to the portal (S10).
    calendar = b.mapping.column.calendar if b.mapping is not None else None
    url = day_url(calendar, b.start.astimezone(tz).date()) if calendar is not None else ""
    if b.status == OnlineBooking.Status.CANCELLED:
        return Place(_("removed (cancelled)"), url)
    return Place(_("deleted in the practice"), url)


def status_label(b: OnlineBooking) -> str:
    return _("cancelled") if b.status == OnlineBooking.Status.CANCELLED else _("booked")


def patient_label(b: OnlineBooking) -> str:
    return f"{b.last_name}, {b.first_name}"


@dataclass(frozen=True)
class BookingRow:
    """One line of TMEX L."""

    booking_id: int
    day: str
    time: str
    patient: str
    visit_type: str
    place: Place
    status: str
    cancelled: bool
    cancelled_at: str
    flagged: bool
    flag: str


def booking_rows(bookings: list[OnlineBooking]) -> list[BookingRow]:
    zones = Zones()
    rows = []
    for b in bookings:
        tz = zones.of_booking(b)
        start, end = b.start.astimezone(tz), b.end.astimezone(tz)
        appt = b.appointment
        rows.append(
            BookingRow(
                booking_id=b.booking_id,
                day=start.strftime("%d.%m.%Y"),
                time=f"{start:%H:%M}–{end:%H:%M}",
                patient=patient_label(b),
                visit_type=b.visit_type,
                place=place_of(b, tz),
                status=status_label(b),
                cancelled=b.status == OnlineBooking.Status.CANCELLED,
                cancelled_at=when(b.cancelled_at, tz),
                flagged=appt is not None and appt.flagged,
                flag=flag_reason_label(appt.flag_reason) if appt is not None else "",
            )
        )
    return rows


@dataclass(frozen=True)
class Fact:
    label: str
    value: str
    url: str = ""


def booking_facts(b: OnlineBooking) -> list[Fact]:
    """TMEX Info: every detail of one booking, empty ones left out."""
    tz = Zones().of_booking(b)
    appt = b.appointment
    place = place_of(b, tz)
    match = {
        OnlineBooking.Match.LINKED.value: _("linked to the patient record"),
        OnlineBooking.Match.FREE_TEXT.value: _("free text (no matching patient)"),
        OnlineBooking.Match.AMBIGUOUS.value: _("free text (several patients match)"),
    }.get(b.match, "")
    mapping = b.mapping
    facts = [
        Fact(_("Booking number"), str(b.booking_id)),
        Fact(_("Status"), status_label(b)),
        Fact(_("Appointment"), f"{when(b.start, tz)}–{b.end.astimezone(tz):%H:%M}"),
        Fact(_("Visit type"), b.visit_type),
        Fact(_("Reason"), b.reason),
        Fact(_("Patient"), patient_label(b)),
        Fact(_("Date of birth"), f"{b.date_of_birth:%d.%m.%Y}" if b.date_of_birth else ""),
        Fact(_("E-mail"), b.email),
        Fact(_("Phone"), b.phone),
        Fact(_("Insurance"), b.insurance.upper()),
        Fact(_("Online calendar"), _online_calendar(b, mapping)),
        Fact(_("Where in the practice calendar"), place.text, place.url),
        Fact(_("Patient record"), _patient_record(appt, match)),
        Fact(_("Flagged"), _flag(appt)),
        Fact(_("Booked at"), when(b.booked_at, tz)),
        Fact(_("Cancelled at"), when(b.cancelled_at, tz)),
        Fact(_("Cancelled by"), _cancelled_by(b.cancelled_by)),
        Fact(_("Received at"), when(b.received_at, tz)),
        Fact(_("Receipt sent at"), when(b.receipt_sent_at, tz) or _("not yet")),
        Fact(_("Move refused online"), when(b.refused_start, tz)),
        Fact(_("Practice change failed"), b.practice_change_error),
    ]
    return [f for f in facts if f.value]


def _online_calendar(b: OnlineBooking, mapping: Mapping | None) -> str:
    if mapping is not None and mapping.online_name:
        return f"{b.online_calendar_id} {mapping.online_name}"
    if mapping is None:
        return _("%(id)s (not mapped)") % {"id": b.online_calendar_id}
    return str(b.online_calendar_id)


def _patient_record(appt: Appointment | None, match: str) -> str:
    if appt is not None and appt.patient is not None:
        return f"{match}: {appointment_title(appt)} ({appt.patient.date_of_birth:%d.%m.%Y})"
    return match


def _flag(appt: Appointment | None) -> str:
    if appt is None or not appt.flagged:
        return ""
    return flag_reason_label(appt.flag_reason) or _("yes")


def _cancelled_by(who: str) -> str:
    return {"patient": _("the patient"), "practice": _("the practice")}.get(who, who)


@dataclass(frozen=True)
class MappingRow:
    online_calendar_id: int
    online_name: str
    calendar: str
    column: str


def mapping_rows() -> list[MappingRow]:
    return [
        MappingRow(
            online_calendar_id=m.online_calendar_id,
            online_name=m.online_name or _("— (after the first sync)"),
            calendar=calendar_label(m.column.calendar),
            column=column_label(m.column),
        )
        for m in Mapping.objects.select_related("column__calendar")
    ]


@dataclass(frozen=True)
class Conflict:
    """A flagged online appointment (S5, S6, S10, S12) for the staff to look at."""

    booking_id: int | None
    title: str
    when: str
    place: Place
    reason: str


def flagged_online_appointments() -> list[Conflict]:
    """Flagged online appointments of today and later, additional list or slot."""
    zones = Zones()
    today = datetime.now(zones.default).date()
    appts = (
        Appointment.objects.filter(origin=Appointment.Origin.ONLINE, flagged=True, day__gte=today)
        .select_related("calendar", "column", "patient", "online_booking")
        .order_by("day", "start", "id")
    )
    out = []
    for a in appts:
        tz = zones.of_column(a.column) if a.column else zones.of_calendar(a.calendar)
        booking = getattr(a, "online_booking", None)
        where = (
            _("Calendar %(calendar)s, column %(column)s")
            % {"calendar": calendar_label(a.calendar), "column": column_label(a.column)}
            if a.column is not None
            else _("Additional list of calendar %(calendar)s")
            % {"calendar": calendar_label(a.calendar)}
        )
        out.append(
            Conflict(
                booking_id=booking.booking_id if booking is not None else None,
                title=appointment_title(a),
                when=when(a.start, tz) if a.start else f"{a.day:%d.%m.%Y}",
                place=Place(where, day_url(a.calendar, a.day)),
                reason=flag_reason_label(a.flag_reason) or _("flagged"),
            )
        )
    return out
