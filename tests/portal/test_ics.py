"""Calendar files of booking e-mails (RFC 5545), read back with the ``icalendar`` library."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from icalendar import Calendar

from termin360.portal import ics

BERLIN = ZoneInfo("Europe/Berlin")
NOW = datetime(2027, 1, 2, 10, 0, tzinfo=UTC)


def _event(start: datetime, minutes: int = 15, booking_id: int = 42) -> ics.IcsEvent:
    return ics.IcsEvent(
        booking_id=booking_id,
        start=start,
        end=start + timedelta(minutes=minutes),
        time_zone="Europe/Berlin",
        summary="Kontrolle bei Dr. Anna Berger",
        location="Praxis Berger, Hauptstraße 1, 76646 Bruchsal",
        description="Praxis Berger\nDr. Anna Berger (Allgemeinmedizin)",
        url="https://portal.example/meine-termine/",
    )


def _parse(text: str) -> tuple[Calendar, object]:
    cal = Calendar.from_ical(text)
    (event,) = cal.walk("VEVENT")
    return cal, event


@pytest.mark.parametrize(
    ("local", "offset_hours"),
    [
        (datetime(2027, 7, 5, 9, 30), 2),  # summer time (CEST)
        (datetime(2027, 1, 11, 9, 30), 1),  # winter time (CET)
        (datetime(2027, 3, 29, 8, 0), 2),  # the Monday after the spring change
        (datetime(2027, 11, 1, 8, 0), 1),  # the Monday after the autumn change
    ],
)
def test_start_is_the_local_time_in_berlin_with_the_right_offset(
    local: datetime, offset_hours: int
) -> None:
    start = local.replace(tzinfo=BERLIN).astimezone(UTC)  # stored as UTC, like the database
    text = ics.build(_event(start), method="PUBLISH", now=NOW)

    assert f"DTSTART;TZID=Europe/Berlin:{local:%Y%m%dT%H%M%S}" in text
    cal, event = _parse(text)
    dtstart = event.decoded("DTSTART")  # type: ignore[attr-defined]
    assert dtstart.replace(tzinfo=None) == local
    assert dtstart.utcoffset() == timedelta(hours=offset_hours)
    assert dtstart.astimezone(UTC) == start
    assert event.decoded("DTEND") - dtstart == timedelta(minutes=15)  # type: ignore[attr-defined]
    # The zone travels with the file, so clients need not know "Europe/Berlin".
    assert [tz["TZID"] for tz in cal.walk("VTIMEZONE")] == ["Europe/Berlin"]
    assert cal.get_missing_tzids() == set()


def test_confirmation_has_the_required_properties() -> None:
    start = datetime(2027, 7, 5, 9, 30, tzinfo=BERLIN)
    text = ics.build(_event(start), method="PUBLISH", now=NOW)
    cal, event = _parse(text)

    assert "\r\n" in text
    assert cal["VERSION"] == "2.0"
    assert cal["PRODID"] == ics.PRODID
    assert cal["METHOD"] == "PUBLISH"
    assert event["UID"] == "booking-42@termin360"  # type: ignore[index]
    assert event.decoded("DTSTAMP") == NOW  # type: ignore[attr-defined]
    assert event["SEQUENCE"] == 0  # type: ignore[index]
    assert event["STATUS"] == "CONFIRMED"  # type: ignore[index]
    assert str(event["SUMMARY"]) == "Kontrolle bei Dr. Anna Berger"  # type: ignore[index]
    assert str(event["LOCATION"]) == "Praxis Berger, Hauptstraße 1, 76646 Bruchsal"  # type: ignore[index]
    assert "Allgemeinmedizin" in str(event["DESCRIPTION"])  # type: ignore[index]
    assert ics.method_of(text) == "PUBLISH"


def test_cancellation_has_the_same_uid_a_higher_sequence_and_cancelled_status() -> None:
    start = datetime(2027, 1, 11, 9, 30, tzinfo=BERLIN)
    confirmed = _parse(ics.build(_event(start), method="PUBLISH", now=NOW))[1]
    cal, cancelled = _parse(ics.build(_event(start), method="CANCEL", now=NOW))

    assert cal["METHOD"] == "CANCEL"
    assert ics.method_of(cal.to_ical().decode()) == "CANCEL"
    assert cancelled["UID"] == confirmed["UID"]  # type: ignore[index]
    assert cancelled["SEQUENCE"] > confirmed["SEQUENCE"]  # type: ignore[index]
    assert cancelled["STATUS"] == "CANCELLED"  # type: ignore[index]


def test_uid_is_stable_per_booking_and_differs_between_bookings() -> None:
    start = datetime(2027, 7, 5, 9, 30, tzinfo=BERLIN)
    a1 = _parse(ics.build(_event(start, booking_id=1), method="PUBLISH"))[1]
    a2 = _parse(ics.build(_event(start, booking_id=1), method="PUBLISH"))[1]
    b = _parse(ics.build(_event(start, booking_id=2), method="PUBLISH"))[1]
    assert a1["UID"] == a2["UID"] != b["UID"]  # type: ignore[index]


def test_long_and_special_texts_survive_folding_and_escaping() -> None:
    start = datetime(2027, 7, 5, 9, 30, tzinfo=BERLIN)
    event = _event(start)
    long_text = "Gemeinschaftspraxis Dr. Müller-Lüdenscheidt & Partner; Ärztinnen, Ärzte " * 4
    event = ics.IcsEvent(**{**event.__dict__, "summary": long_text, "location": "A, B; C\\D"})
    text = ics.build(event, method="PUBLISH", now=NOW)
    assert all(len(line.encode()) <= 75 for line in text.split("\r\n"))
    _, parsed = _parse(text)
    assert str(parsed["SUMMARY"]) == long_text  # type: ignore[index]
    assert str(parsed["LOCATION"]) == "A, B; C\\D"  # type: ignore[index]


def test_naive_times_are_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        ics.build(_event(datetime(2027, 7, 5, 9, 30)), method="PUBLISH")
