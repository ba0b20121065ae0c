"""Calendar files (RFC 5545) for booking e-mails, built with the ``icalendar`` library.

A booking is one VEVENT with a UID that stays the same for its whole life
(``booking-<id>@termin360``), so a calendar program that imported the
confirmation replaces or removes that same entry when the cancellation
(METHOD:CANCEL, STATUS:CANCELLED, higher SEQUENCE) arrives. Start and end carry
the practice's IANA zone as TZID together with a VTIMEZONE component, so the
entry shows the booked local time on both sides of a daylight-saving change.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from django.utils import timezone
from icalendar import Calendar, Event

PRODID = "-//termin360//Buchungsportal//DE"
Method = Literal["PUBLISH", "CANCEL"]

# SEQUENCE of the first version of a booking's event and of its cancellation:
# RFC 5546 wants a higher number for every later version of the same UID.
SEQUENCE_CONFIRMED = 0
SEQUENCE_CANCELLED = 1


@dataclass(frozen=True)
class IcsEvent:
    """What goes into the file; all texts already in the recipient's language."""

    booking_id: int
    start: datetime  # aware
    end: datetime  # aware
    time_zone: str  # IANA name, e.g. Europe/Berlin
    summary: str
    location: str
    description: str
    url: str = ""


def booking_uid(booking_id: int) -> str:
    return f"booking-{booking_id}@termin360"


def build(
    event: IcsEvent, *, method: Method, now: datetime | None = None, sequence: int | None = None
) -> str:
    """The calendar file as text (CRLF line ends, folded as RFC 5545 asks). ``sequence``
    overrides the default SEQUENCE (a moved booking's file must outrank the first one)."""
    if event.start.tzinfo is None or event.end.tzinfo is None:
        raise ValueError("IcsEvent needs aware start and end times")
    tz = ZoneInfo(event.time_zone)
    cancelled = method == "CANCEL"
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", method)
    vevent = Event()
    vevent.add("uid", booking_uid(event.booking_id))
    vevent.add("dtstamp", (now or timezone.now()).astimezone(ZoneInfo("UTC")))
    vevent.add("dtstart", event.start.astimezone(tz))
    vevent.add("dtend", event.end.astimezone(tz))
    if sequence is None:
        sequence = SEQUENCE_CANCELLED if cancelled else SEQUENCE_CONFIRMED
    vevent.add("sequence", sequence)
    vevent.add("status", "CANCELLED" if cancelled else "CONFIRMED")
    vevent.add("transp", "TRANSPARENT" if cancelled else "OPAQUE")
    vevent.add("summary", event.summary)
    if event.location:
        vevent.add("location", event.location)
    if event.description:
        vevent.add("description", event.description)
    if event.url:
        vevent.add("url", event.url)
    cal.add_component(vevent)
    # Only the rules around the appointment: a short VTIMEZONE that still covers both
    # offsets of the year (calendar programs use it to place DTSTART).
    local_start = event.start.astimezone(tz)
    cal.add_missing_timezones(
        first_date=(local_start - timedelta(days=366)).date(),
        last_date=(local_start + timedelta(days=366)).date(),
    )
    data: bytes = cal.to_ical()
    return data.decode("utf-8")


def method_of(ics: str) -> str:
    """The METHOD of a calendar file (PUBLISH if none), for the attachment's content type."""
    cal = Calendar.from_ical(ics)
    return str(cal.get("method", "PUBLISH")).upper()
