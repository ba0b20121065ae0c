"""Local wall-clock time ↔ UTC across the daylight-saving changes."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from termin360.core.timezones import (
    DEFAULT_ZONE,
    day_bounds_utc,
    first_instant_at_or_after,
    local_to_utc,
    utc_to_local,
    zone,
)
from tests.unit.strategies import PROPERTY, days, five_minute_times, zones

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
SYDNEY = ZoneInfo("Australia/Sydney")
LORD_HOWE = ZoneInfo("Australia/Lord_Howe")
SANTIAGO = ZoneInfo("America/Santiago")

SPRING_FORWARD_2027 = date(2027, 3, 28)
FALL_BACK_2027 = date(2027, 10, 31)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def test_default_zone_is_berlin() -> None:
    assert zone() == BERLIN
    assert DEFAULT_ZONE == "Europe/Berlin"


@pytest.mark.parametrize(
    ("day", "at", "expected"),
    [
        (date(2027, 1, 12), time(9, 0), utc(2027, 1, 12, 8, 0)),  # CET, UTC+1
        (date(2027, 7, 12), time(9, 0), utc(2027, 7, 12, 7, 0)),  # CEST, UTC+2
        (SPRING_FORWARD_2027, time(1, 59), utc(2027, 3, 28, 0, 59)),
        (SPRING_FORWARD_2027, time(3, 0), utc(2027, 3, 28, 1, 0)),
        (FALL_BACK_2027, time(1, 59), utc(2027, 10, 30, 23, 59)),
        (FALL_BACK_2027, time(3, 0), utc(2027, 10, 31, 2, 0)),
    ],
)
def test_local_time_in_berlin_converts_to_utc(day: date, at: time, expected: datetime) -> None:
    assert local_to_utc(day, at, BERLIN) == expected


@pytest.mark.parametrize("at", [time(2, 0), time(2, 30), time(2, 59)])
def test_local_time_in_the_spring_forward_gap_does_not_exist(at: time) -> None:
    assert local_to_utc(SPRING_FORWARD_2027, at, BERLIN) is None


def test_repeated_local_time_on_fall_back_day_is_taken_at_its_first_occurrence() -> None:
    first = local_to_utc(FALL_BACK_2027, time(2, 30), BERLIN)
    assert first == utc(2027, 10, 31, 0, 30)
    assert first is not None
    assert utc_to_local(first, BERLIN).utcoffset() == timedelta(hours=2)  # still summer time


@pytest.mark.parametrize(
    ("tz", "day", "at"),
    [
        (NEW_YORK, date(2027, 3, 14), time(2, 30)),
        (SYDNEY, date(2027, 10, 3), time(2, 30)),
        (LORD_HOWE, date(2027, 10, 3), time(2, 15)),
        (SANTIAGO, date(2027, 9, 5), time(0, 0)),
    ],
)
def test_local_time_in_other_zones_gaps_does_not_exist(tz: ZoneInfo, day: date, at: time) -> None:
    assert local_to_utc(day, at, tz) is None


def test_utc_to_local_refuses_naive_datetimes() -> None:
    with pytest.raises(ValueError, match="naive"):
        utc_to_local(datetime(2027, 3, 28, 12, 0), BERLIN)


def test_utc_to_local_shows_the_wall_clock() -> None:
    local = utc_to_local(utc(2027, 3, 28, 1, 0), BERLIN)
    assert (local.date(), local.time()) == (SPRING_FORWARD_2027, time(3, 0))


@PROPERTY
@given(zones, st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2028, 12, 31)))
def test_utc_instant_survives_the_round_trip_through_local_time(
    tz: ZoneInfo, naive_utc: datetime
) -> None:
    instant = naive_utc.replace(tzinfo=UTC, microsecond=0)
    local = utc_to_local(instant, tz)
    back = local_to_utc(local.date(), local.time(), tz)
    if local.fold == 0:
        assert back == instant
    else:
        # The second pass through a repeated hour maps to its first pass.
        assert back is not None
        assert back < instant
        assert utc_to_local(back, tz).replace(tzinfo=None) == local.replace(tzinfo=None)


@PROPERTY
@given(zones, days, five_minute_times())
def test_local_to_utc_gives_back_the_same_wall_clock_or_none(
    tz: ZoneInfo, day: date, at: time
) -> None:
    instant = local_to_utc(day, at, tz)
    day_start, day_end = day_bounds_utc(day, tz)
    if instant is None:
        # Only a day with a jump forward has wall-clock times that do not exist.
        assert day_end - day_start < timedelta(hours=24)
        return
    local = utc_to_local(instant, tz)
    assert (local.date(), local.time()) == (day, at)
    assert day_start <= instant < day_end


@pytest.mark.parametrize(
    ("tz", "day", "hours"),
    [
        (BERLIN, date(2027, 3, 27), 24),
        (BERLIN, SPRING_FORWARD_2027, 23),
        (BERLIN, date(2027, 6, 1), 24),
        (BERLIN, FALL_BACK_2027, 25),
        (NEW_YORK, date(2027, 3, 14), 23),
        (NEW_YORK, date(2027, 11, 7), 25),
        (SYDNEY, date(2027, 10, 3), 23),
        (SYDNEY, date(2027, 4, 4), 25),
        (LORD_HOWE, date(2027, 10, 3), 23.5),
        (SANTIAGO, date(2027, 9, 5), 23),  # midnight itself does not exist
        (SANTIAGO, date(2027, 4, 3), 25),
    ],
)
def test_local_day_lasts_23_24_or_25_hours(tz: ZoneInfo, day: date, hours: float) -> None:
    start, end = day_bounds_utc(day, tz)
    assert end - start == timedelta(hours=hours)


def test_berlin_day_bounds_on_both_changes_of_2027() -> None:
    assert day_bounds_utc(SPRING_FORWARD_2027, BERLIN) == (
        utc(2027, 3, 27, 23, 0),
        utc(2027, 3, 28, 22, 0),
    )
    assert day_bounds_utc(FALL_BACK_2027, BERLIN) == (
        utc(2027, 10, 30, 22, 0),
        utc(2027, 10, 31, 23, 0),
    )


@PROPERTY
@given(zones, days)
def test_consecutive_local_days_meet_without_gap_or_overlap(tz: ZoneInfo, day: date) -> None:
    start, end = day_bounds_utc(day, tz)
    next_start, _ = day_bounds_utc(day + timedelta(days=1), tz)
    assert end == next_start
    assert timedelta(hours=22) <= end - start <= timedelta(hours=26)
    assert utc_to_local(start, tz).date() == day
    assert utc_to_local(end - timedelta(microseconds=1), tz).date() == day


def test_first_instant_at_or_after_an_existing_time_is_that_time() -> None:
    assert first_instant_at_or_after(FALL_BACK_2027, time(2, 30), BERLIN) == utc(
        2027, 10, 31, 0, 30
    )


@pytest.mark.parametrize("at", [time(2, 0), time(2, 15), time(2, 59)])
def test_first_instant_after_a_time_in_the_gap_is_the_end_of_the_gap(at: time) -> None:
    assert first_instant_at_or_after(SPRING_FORWARD_2027, at, BERLIN) == utc(2027, 3, 28, 1, 0)


@PROPERTY
@given(zones, days, five_minute_times())
def test_first_instant_at_or_after_is_local_to_utc_when_the_time_exists(
    tz: ZoneInfo, day: date, at: time
) -> None:
    exact = local_to_utc(day, at, tz)
    found = first_instant_at_or_after(day, at, tz)
    if exact is not None:
        assert found == exact
    else:
        # The instant the clock jumps: one minute earlier it was still before the gap.
        before = utc_to_local(found - timedelta(minutes=1), tz).replace(tzinfo=None)
        assert before < datetime.combine(day, at) < utc_to_local(found, tz).replace(tzinfo=None)
