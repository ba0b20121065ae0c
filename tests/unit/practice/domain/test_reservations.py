"""Reservations: blocking a time range on every day of a date range (SPEC C3)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from termin360.core.intervals import Interval
from termin360.core.timezones import day_bounds_utc, local_to_utc, utc_to_local
from termin360.practice.domain.grid import TemplateRule, generate_grid
from termin360.practice.domain.reservations import (
    MAX_RESERVATION_DAYS,
    ReservationRange,
    covers,
)
from tests.unit.strategies import PROPERTY, days, five_minute_times, zones

BERLIN = ZoneInfo("Europe/Berlin")
SPRING_FORWARD_2027 = date(2027, 3, 28)
FALL_BACK_2027 = date(2027, 10, 31)
MIDNIGHT = time(0, 0)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def one_day(day: date, start: time, end: time) -> ReservationRange:
    return ReservationRange(first_day=day, last_day=day, start=start, end=end)


def minutes_of(at: time) -> int:
    return at.hour * 60 + at.minute


def is_ordinary_day(day: date, tz: ZoneInfo) -> bool:
    start, end = day_bounds_utc(day, tz)
    return end - start == timedelta(hours=24) and (
        utc_to_local(start, tz).utcoffset() == utc_to_local(end, tz).utcoffset()
    )


# --- the range itself ---------------------------------------------------------


def test_days_lists_every_day_of_the_range_inclusive() -> None:
    rng = ReservationRange(date(2027, 2, 27), date(2027, 3, 2), time(8), time(12))
    assert rng.days() == [date(2027, 2, 27), date(2027, 2, 28), date(2027, 3, 1), date(2027, 3, 2)]


def test_one_day_range_has_one_day() -> None:
    assert one_day(date(2027, 5, 5), time(8), time(9)).days() == [date(2027, 5, 5)]


def test_range_ending_before_it_starts_is_refused() -> None:
    with pytest.raises(ValueError, match="before the first"):
        ReservationRange(date(2027, 5, 5), date(2027, 5, 4), time(8), time(12))


@pytest.mark.parametrize(("start", "end"), [(time(10), time(10)), (time(10), time(9, 55))])
def test_time_range_ending_at_or_before_its_start_is_refused(start: time, end: time) -> None:
    with pytest.raises(ValueError, match="end time must be after"):
        one_day(date(2027, 5, 5), start, end)


def test_range_of_366_days_is_allowed_and_367_are_refused() -> None:
    first = date(2027, 1, 1)
    longest = ReservationRange(first, first + timedelta(days=365), time(8), time(12))
    assert len(longest.days()) == MAX_RESERVATION_DAYS == 366
    with pytest.raises(ValueError, match="at most 366 days"):
        ReservationRange(first, first + timedelta(days=366), time(8), time(12))


@pytest.mark.parametrize("start", [MIDNIGHT, time(22, 0)])
def test_end_at_midnight_means_until_the_end_of_the_day(start: time) -> None:
    rng = one_day(date(2027, 1, 12), start, MIDNIGHT)
    assert rng.interval_on(date(2027, 1, 12), BERLIN) == Interval(
        utc(2027, 1, 11, 23) if start == MIDNIGHT else utc(2027, 1, 12, 21),
        utc(2027, 1, 12, 23),
    )


# --- interval_on --------------------------------------------------------------


def test_interval_on_an_ordinary_winter_and_summer_day() -> None:
    rng = ReservationRange(date(2027, 1, 1), date(2027, 12, 31), time(8), time(12, 30))
    assert rng.interval_on(date(2027, 1, 12), BERLIN) == Interval(
        utc(2027, 1, 12, 7), utc(2027, 1, 12, 11, 30)
    )
    assert rng.interval_on(date(2027, 7, 12), BERLIN) == Interval(
        utc(2027, 7, 12, 6), utc(2027, 7, 12, 10, 30)
    )


@pytest.mark.parametrize(
    ("day", "hours"),
    [(date(2027, 3, 27), 24), (SPRING_FORWARD_2027, 23), (FALL_BACK_2027, 25)],
)
def test_whole_day_reservation_lasts_as_long_as_the_local_day(day: date, hours: int) -> None:
    iv = one_day(day, MIDNIGHT, MIDNIGHT).interval_on(day, BERLIN)
    assert iv is not None
    assert iv.end - iv.start == timedelta(hours=hours)
    assert (iv.start, iv.end) == day_bounds_utc(day, BERLIN)


def test_start_inside_the_spring_forward_gap_moves_to_the_end_of_the_gap() -> None:
    iv = one_day(SPRING_FORWARD_2027, time(2, 30), time(4)).interval_on(SPRING_FORWARD_2027, BERLIN)
    assert iv == Interval(utc(2027, 3, 28, 1), utc(2027, 3, 28, 2))  # 03:00–04:00 CEST


def test_end_inside_the_spring_forward_gap_moves_to_the_end_of_the_gap() -> None:
    iv = one_day(SPRING_FORWARD_2027, time(1), time(2, 30)).interval_on(SPRING_FORWARD_2027, BERLIN)
    assert iv == Interval(utc(2027, 3, 28, 0), utc(2027, 3, 28, 1))  # 01:00 CET–03:00 CEST


def test_range_entirely_inside_the_spring_forward_gap_covers_nothing_that_day() -> None:
    rng = ReservationRange(date(2027, 3, 27), date(2027, 3, 29), time(2, 10), time(2, 50))
    assert rng.interval_on(SPRING_FORWARD_2027, BERLIN) is None
    assert len(rng.intervals(BERLIN)) == 2


def test_repeated_hour_on_fall_back_day_counts_from_its_first_occurrence() -> None:
    iv = one_day(FALL_BACK_2027, time(1), time(4)).interval_on(FALL_BACK_2027, BERLIN)
    assert iv == Interval(utc(2027, 10, 30, 23), utc(2027, 10, 31, 3))  # 4 real hours


@pytest.mark.parametrize("day", [date(2027, 3, 1), date(2027, 3, 5)])
def test_no_interval_outside_the_date_range(day: date) -> None:
    rng = ReservationRange(date(2027, 3, 2), date(2027, 3, 4), time(8), time(12))
    assert rng.interval_on(day, BERLIN) is None


def test_intervals_gives_one_interval_per_day_in_order() -> None:
    rng = ReservationRange(date(2027, 3, 26), date(2027, 3, 29), MIDNIGHT, MIDNIGHT)
    intervals = rng.intervals(BERLIN)
    assert [iv.end - iv.start for iv in intervals] == [timedelta(hours=h) for h in (24, 24, 23, 24)]
    # Whole days back to back: the reservation is one block of time.
    assert all(a.end == b.start for a, b in pairwise(intervals))


# --- covers -------------------------------------------------------------------


def test_covers_slots_overlapping_the_reserved_time_but_not_touching_ones() -> None:
    day = date(2027, 1, 12)
    rng = one_day(day, time(10), time(11))  # 09:00–10:00 UTC
    assert covers(rng, Interval(utc(2027, 1, 12, 9, 45), utc(2027, 1, 12, 10, 15)), day, BERLIN)
    assert covers(rng, Interval(utc(2027, 1, 12, 8, 45), utc(2027, 1, 12, 9, 15)), day, BERLIN)
    assert not covers(rng, Interval(utc(2027, 1, 12, 10), utc(2027, 1, 12, 10, 30)), day, BERLIN)
    assert not covers(rng, Interval(utc(2027, 1, 12, 8, 30), utc(2027, 1, 12, 9)), day, BERLIN)


def test_covers_nothing_on_a_day_outside_the_range() -> None:
    rng = one_day(date(2027, 1, 12), MIDNIGHT, MIDNIGHT)
    slot = Interval(utc(2027, 1, 12, 9), utc(2027, 1, 12, 10))
    assert not covers(rng, slot, date(2027, 1, 13), BERLIN)


@pytest.mark.parametrize(
    ("day", "covered"),
    [
        (SPRING_FORWARD_2027, [time(1, 0), time(1, 30), time(3, 0), time(3, 30)]),
        (
            FALL_BACK_2027,
            [time(1, 0), time(1, 30), time(2, 0), time(2, 30), time(3, 0), time(3, 30)],
        ),
    ],
)
def test_night_reservation_covers_the_grid_slots_of_the_night_on_dst_days(
    day: date, covered: list[time]
) -> None:
    rule = TemplateRule(weekday=6, start=time(0), end=time(5), slot_minutes=30)
    rng = one_day(day, time(1), time(4))
    slots = generate_grid([rule], day, day, BERLIN)
    hit = [s for s in slots if covers(rng, Interval(s.start, s.end), s.day, BERLIN)]
    assert [utc_to_local(s.start, BERLIN).time() for s in hit] == covered


# --- properties ---------------------------------------------------------------


@st.composite
def reservation_ranges(draw: st.DrawFn) -> ReservationRange:
    first = draw(days)
    last = first + timedelta(days=draw(st.integers(0, 10)))
    start = draw(five_minute_times())
    ends = [st.just(MIDNIGHT)]
    if start < time(23, 55):
        ends.append(five_minute_times(min_minutes=minutes_of(start) + 5))
    end = draw(st.one_of(ends))
    return ReservationRange(first, last, start, end)


@PROPERTY
@given(reservation_ranges(), days, five_minute_times(), st.integers(5, 120), zones)
def test_on_ordinary_days_covers_means_overlap_in_local_wall_clock_time(
    rng: ReservationRange, day: date, slot_start: time, slot_minutes: int, tz: ZoneInfo
) -> None:
    assume(is_ordinary_day(day, tz))
    day_start, _ = day_bounds_utc(day, tz)
    begin = minutes_of(slot_start)
    finish = min(begin + slot_minutes, 24 * 60)
    slot = Interval(day_start + timedelta(minutes=begin), day_start + timedelta(minutes=finish))
    reserved_from = minutes_of(rng.start)
    reserved_to = 24 * 60 if rng.end == MIDNIGHT else minutes_of(rng.end)
    expected = (
        rng.first_day <= day <= rng.last_day and begin < reserved_to and reserved_from < finish
    )
    assert covers(rng, slot, day, tz) is expected


@PROPERTY
@given(reservation_ranges(), zones)
def test_every_interval_lies_within_its_local_day_and_starts_and_ends_at_the_local_times(
    rng: ReservationRange, tz: ZoneInfo
) -> None:
    for day in rng.days():
        iv = rng.interval_on(day, tz)
        day_start, day_end = day_bounds_utc(day, tz)
        if iv is None:
            # Only a range that falls entirely into a spring-forward gap covers nothing.
            assert day_end - day_start < timedelta(hours=24)
            continue
        assert day_start <= iv.start < iv.end <= day_end
        exact_start = local_to_utc(day, rng.start, tz)
        if rng.start != MIDNIGHT and exact_start is not None:
            assert iv.start == exact_start
        exact_end = local_to_utc(day, rng.end, tz)
        if rng.end == MIDNIGHT:
            assert iv.end == day_end
        elif exact_end is not None:
            assert iv.end == exact_end
        for boundary, wall in ((iv.start, rng.start), (iv.end, rng.end)):
            # A boundary in the gap lands on the first existing time after it.
            local = utc_to_local(boundary, tz)
            if local.date() == day and wall != MIDNIGHT:
                assert local.time() >= wall


@PROPERTY
@given(reservation_ranges(), zones)
def test_intervals_are_one_per_covered_day_sorted_and_disjoint(
    rng: ReservationRange, tz: ZoneInfo
) -> None:
    intervals = rng.intervals(tz)
    covered_days = [d for d in rng.days() if rng.interval_on(d, tz) is not None]
    assert len(intervals) == len(covered_days)
    assert all(a.end <= b.start for a, b in pairwise(intervals))
    assert rng.interval_on(rng.first_day - timedelta(days=1), tz) is None
    assert rng.interval_on(rng.last_day + timedelta(days=1), tz) is None


@PROPERTY
@given(reservation_ranges(), days, st.integers(0, 24 * 60 - 5), st.integers(5, 180), zones)
def test_a_wider_reservation_covers_everything_a_narrower_one_covers(
    rng: ReservationRange, day: date, offset_minutes: int, length: int, tz: ZoneInfo
) -> None:
    day_start, _ = day_bounds_utc(day, tz)
    slot = Interval(
        day_start + timedelta(minutes=offset_minutes),
        day_start + timedelta(minutes=offset_minutes + length),
    )
    wider = ReservationRange(
        rng.first_day - timedelta(days=1), rng.last_day + timedelta(days=1), MIDNIGHT, MIDNIGHT
    )
    if covers(rng, slot, day, tz):
        assert covers(wider, slot, day, tz)
    assert covers(rng, slot, day, tz) is (
        (iv := rng.interval_on(day, tz)) is not None and iv.overlaps(slot)
    )
