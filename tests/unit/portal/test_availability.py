"""Free slots of an online calendar (SPEC P2, P4): hours, lead time, horizon, blocked time, DST."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from termin360.core.intervals import Interval, subtract
from termin360.core.timezones import first_instant_at_or_after, local_to_utc, utc_to_local
from termin360.portal.domain.availability import (
    CalendarRules,
    WeeklyHours,
    free_slot_at,
    free_slots,
    free_slots_by_day,
    next_free_slot,
)
from tests.unit.strategies import (
    PROPERTY,
    days,
    minutes_to_time,
    zone_and_clock_change_day,
    zones,
)

BERLIN = ZoneInfo("Europe/Berlin")
MON, TUE, WED, THU, FRI, SAT, SUN = range(7)

# Mornings Monday to Friday, afternoons Monday, Tuesday and Thursday.
HOURS = tuple(WeeklyHours(d, time(8, 0), time(12, 0)) for d in (MON, TUE, WED, THU, FRI)) + tuple(
    WeeklyHours(d, time(14, 0), time(18, 0)) for d in (MON, TUE, THU)
)
RULES = CalendarRules(zone=BERLIN, slot_minutes=15, hours=HOURS, horizon_days=28, lead_minutes=60)

MONDAY = date(2027, 6, 7)
TUESDAY, WEDNESDAY = MONDAY + timedelta(days=1), MONDAY + timedelta(days=2)
SUNDAY_BEFORE = MONDAY - timedelta(days=1)
WEEK = (MONDAY, MONDAY + timedelta(days=6))


def at(day: date, hour: int, minute: int = 0, tz: ZoneInfo = BERLIN) -> datetime:
    """The UTC instant of a local wall-clock time."""
    instant = local_to_utc(day, time(hour, minute), tz)
    assert instant is not None
    return instant


NOW = at(SUNDAY_BEFORE, 18)


def local_times(slots: list[Interval], tz: ZoneInfo = BERLIN) -> list[time]:
    return [utc_to_local(s.start, tz).time() for s in slots]


def grid(first: str, last: str, minutes: int = 15) -> list[time]:
    """Local times from ``first`` to ``last`` (inclusive, "HH:MM") every ``minutes``."""
    a, b = (int(x[:2]) * 60 + int(x[3:]) for x in (first, last))
    return [minutes_to_time(m) for m in range(a, b + 1, minutes)]


MONDAY_TIMES = grid("08:00", "11:45") + grid("14:00", "17:45")


def slots_on(
    day: date,
    *,
    rules: CalendarRules = RULES,
    now: datetime = NOW,
    duration: int = 15,
    blocked: tuple[Interval, ...] = (),
) -> list[Interval]:
    return free_slots(
        rules, now=now, first_day=day, last_day=day, duration_minutes=duration, blocked=blocked
    )


# --- an ordinary week -----------------------------------------------------------


def test_ordinary_week_offers_every_grid_time_of_the_bookable_hours() -> None:
    by_day = free_slots_by_day(
        RULES, now=NOW, first_day=WEEK[0], last_day=WEEK[1], duration_minutes=15, blocked=()
    )
    mornings = grid("08:00", "11:45")
    whole_day = mornings + grid("14:00", "17:45")
    expected = [whole_day, whole_day, mornings, whole_day, mornings, [], []]
    assert [local_times(by_day[WEEK[0] + timedelta(days=i)]) for i in range(7)] == expected


def test_slots_are_utc_intervals_of_the_visit_duration_sorted_by_start() -> None:
    slots = free_slots(
        RULES, now=NOW, first_day=WEEK[0], last_day=WEEK[1], duration_minutes=20, blocked=()
    )
    assert len(slots) == 3 * 30 + 2 * 15  # no 20-minute visit starts at 11:45 or 17:45
    assert all(s.start.tzinfo is UTC and s.end.tzinfo is UTC for s in slots)
    assert {s.end - s.start for s in slots} == {timedelta(minutes=20)}
    assert all(a.start < b.start for a, b in pairwise(slots))
    assert slots[0].start == datetime(2027, 6, 7, 6, 0, tzinfo=UTC)  # 08:00 CEST


def test_free_slots_by_day_lists_every_day_of_the_range_even_without_slots() -> None:
    last = MONDAY + timedelta(days=40)  # beyond the 28-day horizon
    by_day = free_slots_by_day(
        RULES, now=NOW, first_day=SUNDAY_BEFORE, last_day=last, duration_minutes=15, blocked=()
    )
    assert list(by_day) == [SUNDAY_BEFORE + timedelta(days=i) for i in range(42)]
    assert by_day[SUNDAY_BEFORE] == [] and by_day[last] == []
    flat = [s for slots in by_day.values() for s in slots]
    assert flat == free_slots(
        RULES, now=NOW, first_day=SUNDAY_BEFORE, last_day=last, duration_minutes=15, blocked=()
    )


def test_calendar_without_hours_has_no_free_slot() -> None:
    rules = replace(RULES, hours=())
    assert slots_on(MONDAY, rules=rules) == []
    assert next_free_slot(rules, now=NOW, duration_minutes=15, blocked=()) is None
    by_day = free_slots_by_day(
        rules, now=NOW, first_day=WEEK[0], last_day=WEEK[1], duration_minutes=15, blocked=()
    )
    assert len(by_day) == 7 and not any(by_day.values())


# --- lead time and horizon ------------------------------------------------------


def test_slot_exactly_at_now_plus_lead_time_is_offered() -> None:
    slots = slots_on(MONDAY, now=at(MONDAY, 8, 30))
    assert local_times(slots)[0] == time(9, 30)


def test_slot_one_minute_short_of_the_lead_time_is_not_offered() -> None:
    slots = slots_on(MONDAY, now=at(MONDAY, 8, 31))
    assert local_times(slots)[0] == time(9, 45)


def test_past_days_are_never_offered() -> None:
    assert slots_on(MONDAY, now=at(TUESDAY, 7)) == []
    assert local_times(slots_on(TUESDAY, now=at(TUESDAY, 7)))[0] == time(8, 0)


def test_last_day_of_the_horizon_is_bookable_and_the_next_is_not() -> None:
    rules = replace(RULES, horizon_days=8)  # from Sunday: up to Monday a week later
    last_day = SUNDAY_BEFORE + timedelta(days=8)
    by_day = free_slots_by_day(
        rules,
        now=NOW,
        first_day=last_day,
        last_day=last_day + timedelta(days=1),
        duration_minutes=15,
        blocked=(),
    )
    assert len(by_day[last_day]) == 32
    assert by_day[last_day + timedelta(days=1)] == []


def test_horizon_counts_from_the_local_date_of_now() -> None:
    rules = replace(RULES, horizon_days=1)
    # 22:30 UTC on Sunday is already 00:30 on Monday in Berlin: Tuesday is within reach.
    late_sunday_utc = datetime(2027, 6, 6, 22, 30, tzinfo=UTC)
    assert len(slots_on(TUESDAY, rules=rules, now=late_sunday_utc)) == 32
    assert slots_on(TUESDAY, rules=rules, now=late_sunday_utc - timedelta(hours=1)) == []


def test_now_may_be_given_in_any_zone() -> None:
    in_new_york = at(MONDAY, 8, 30).astimezone(ZoneInfo("America/New_York"))
    assert slots_on(MONDAY, now=in_new_york) == slots_on(MONDAY, now=at(MONDAY, 8, 30))


# --- blocked time ---------------------------------------------------------------


def test_absence_of_a_whole_day_removes_exactly_that_day() -> None:
    absence = Interval(at(TUESDAY, 0), at(WEDNESDAY, 0))
    by_day = free_slots_by_day(
        RULES,
        now=NOW,
        first_day=MONDAY,
        last_day=WEDNESDAY,
        duration_minutes=15,
        blocked=[absence],
    )
    assert by_day[TUESDAY] == []
    assert len(by_day[MONDAY]) == 32 and len(by_day[WEDNESDAY]) == 16


def test_absence_over_two_days_blocks_from_its_start_to_its_end() -> None:
    absence = Interval(at(TUESDAY, 10), at(WEDNESDAY, 11))
    by_day = free_slots_by_day(
        RULES,
        now=NOW,
        first_day=MONDAY,
        last_day=WEDNESDAY,
        duration_minutes=15,
        blocked=[absence],
    )
    assert len(by_day[MONDAY]) == 32
    assert local_times(by_day[TUESDAY]) == grid("08:00", "09:45")
    assert local_times(by_day[WEDNESDAY]) == grid("11:00", "11:45")


def test_busy_interval_blocks_exactly_the_slots_it_overlaps() -> None:
    busy = Interval(at(MONDAY, 10, 5), at(MONDAY, 10, 20))
    free = local_times(slots_on(MONDAY, blocked=(busy,)))
    assert time(10, 0) not in free and time(10, 15) not in free
    assert len(free) == 30
    assert time(9, 45) in free and time(10, 30) in free


def test_booking_blocks_its_slots_and_leaves_the_touching_ones_free() -> None:
    booking = Interval(at(MONDAY, 10), at(MONDAY, 10, 30))
    free = local_times(slots_on(MONDAY, blocked=(booking,)))
    assert free == [t for t in MONDAY_TIMES if t not in (time(10, 0), time(10, 15))]


def test_blocked_intervals_may_be_unsorted_overlapping_and_in_any_zone() -> None:
    pieces = [
        Interval(at(MONDAY, 15), at(MONDAY, 16)),
        Interval(at(MONDAY, 9), at(MONDAY, 9, 20)),
        Interval(at(MONDAY, 9, 10), at(MONDAY, 9, 40)),
        Interval(at(MONDAY, 15, 30), at(MONDAY, 15, 45)),
    ]
    in_berlin = [Interval(p.start.astimezone(BERLIN), p.end.astimezone(BERLIN)) for p in pieces]
    tidy = (Interval(at(MONDAY, 9), at(MONDAY, 9, 40)), Interval(at(MONDAY, 15), at(MONDAY, 16)))
    expected = slots_on(MONDAY, blocked=tidy)
    assert slots_on(MONDAY, blocked=tuple(pieces)) == expected
    assert slots_on(MONDAY, blocked=tuple(in_berlin)) == expected
    assert all(s.start.tzinfo is UTC for s in expected)
    # A generator is read once.
    gen = free_slots(
        RULES,
        now=NOW,
        first_day=MONDAY,
        last_day=MONDAY,
        duration_minutes=15,
        blocked=(p for p in pieces),
    )
    assert gen == expected


# --- visits longer than the grid step ---------------------------------------------


def test_thirty_minute_visit_on_a_fifteen_minute_grid_needs_two_free_steps() -> None:
    booking = Interval(at(WEDNESDAY, 10), at(WEDNESDAY, 10, 15))
    slots = slots_on(WEDNESDAY, duration=30, blocked=(booking,))
    assert local_times(slots) == [
        t for t in grid("08:00", "11:30") if t not in (time(9, 45), time(10))
    ]
    assert {s.end - s.start for s in slots} == {timedelta(minutes=30)}


def test_visit_never_spans_the_lunch_gap() -> None:
    slots = slots_on(MONDAY, duration=60)
    assert local_times(slots) == grid("08:00", "11:00") + grid("14:00", "17:00")


def test_touching_blocks_of_hours_count_as_one_stretch() -> None:
    rules = replace(
        RULES, hours=(WeeklyHours(MON, time(8), time(12)), WeeklyHours(MON, time(12), time(13)))
    )
    assert local_times(slots_on(MONDAY, rules=rules, duration=60)) == grid("08:00", "12:00")


def test_overlapping_blocks_offer_the_grid_of_each_once() -> None:
    rules = replace(
        RULES,
        hours=(WeeklyHours(MON, time(8), time(9)), WeeklyHours(MON, time(8, 10), time(9, 10))),
    )
    assert local_times(slots_on(MONDAY, rules=rules, duration=30)) == [
        time(8, 0),
        time(8, 10),
        time(8, 15),
        time(8, 25),
        time(8, 30),
        time(8, 40),
    ]


def test_visit_longer_than_the_hours_has_no_slot() -> None:
    assert slots_on(WEDNESDAY, duration=4 * 60 + 1) == []
    assert local_times(slots_on(WEDNESDAY, duration=4 * 60)) == [time(8, 0)]


# --- daylight-saving changes in Europe/Berlin, 2027 ---------------------------------

SPRING_FORWARD = date(2027, 3, 28)  # 02:00 CET → 03:00 CEST: 02:xx does not exist
FALL_BACK = date(2027, 10, 31)  # 03:00 CEST → 02:00 CET: 02:xx happens twice
NIGHT = CalendarRules(
    zone=BERLIN,
    slot_minutes=30,
    hours=(WeeklyHours(SUN, time(0, 0), time(5, 0)),),
    horizon_days=365,
    lead_minutes=0,
)
EARLY = datetime(2027, 1, 1, tzinfo=UTC)


def night_slots(day: date, duration: int, rules: CalendarRules = NIGHT) -> list[Interval]:
    return slots_on(day, rules=rules, now=EARLY, duration=duration)


def test_spring_forward_has_no_slot_at_the_missing_hour() -> None:
    slots = night_slots(SPRING_FORWARD, 30)
    assert local_times(slots) == [t for t in grid("00:00", "04:30", 30) if t.hour != 2]
    assert {s.end - s.start for s in slots} == {timedelta(minutes=30)}
    # 01:30 CET is followed by 03:00 CEST: one instant.
    assert slots[3].end == slots[4].start == datetime(2027, 3, 28, 1, 0, tzinfo=UTC)


def test_spring_forward_visit_lasts_its_real_minutes_across_the_jump() -> None:
    slots = night_slots(SPRING_FORWARD, 60)
    assert local_times(slots) == [time(h, m) for h, m in [(0, 0), (0, 30), (1, 0), (1, 30)]] + [
        time(3, 0),
        time(3, 30),
        time(4, 0),
    ]
    across = slots[3]
    assert across.end - across.start == timedelta(minutes=60)
    assert utc_to_local(across.end, BERLIN).time() == time(3, 30)


def test_hours_ending_in_the_missing_hour_end_at_the_jump() -> None:
    rules = replace(NIGHT, hours=(WeeklyHours(SUN, time(0, 0), time(2, 30)),))
    assert local_times(night_slots(SPRING_FORWARD, 30, rules)) == grid("00:00", "01:30", 30)
    assert local_times(night_slots(SPRING_FORWARD, 60, rules)) == grid("00:00", "01:00", 30)
    # An ordinary Sunday keeps the 02:00 slot for 30 minutes and 01:30 for 60.
    ordinary = SPRING_FORWARD - timedelta(days=7)
    assert local_times(night_slots(ordinary, 30, rules)) == grid("00:00", "02:00", 30)
    assert local_times(night_slots(ordinary, 60, rules)) == grid("00:00", "01:30", 30)


def test_fall_back_offers_each_local_time_exactly_once() -> None:
    slots = night_slots(FALL_BACK, 30)
    assert local_times(slots) == grid("00:00", "04:30", 30)
    assert {s.end - s.start for s in slots} == {timedelta(minutes=30)}
    assert all(a.start < b.start for a, b in pairwise(slots))


def test_fall_back_places_the_repeated_hour_at_its_first_occurrence() -> None:
    slots = night_slots(FALL_BACK, 30)
    repeated = [s for s in slots if utc_to_local(s.start, BERLIN).hour == 2]
    assert [s.start for s in repeated] == [
        datetime(2027, 10, 31, 0, 0, tzinfo=UTC),
        datetime(2027, 10, 31, 0, 30, tzinfo=UTC),
    ]
    assert all(utc_to_local(s.start, BERLIN).utcoffset() == timedelta(hours=2) for s in repeated)


def test_fall_back_visit_lasts_its_real_minutes_in_the_repeated_hour() -> None:
    slots = night_slots(FALL_BACK, 60)
    assert local_times(slots) == grid("00:00", "04:00", 30)
    at_half_past_two = slots[5]
    assert at_half_past_two.end - at_half_past_two.start == timedelta(minutes=60)
    # 02:30 summer time plus an hour is 02:30 winter time.
    assert utc_to_local(at_half_past_two.end, BERLIN).time() == time(2, 30)
    assert utc_to_local(at_half_past_two.end, BERLIN).utcoffset() == timedelta(hours=1)


def test_booking_in_the_second_occurrence_of_the_repeated_hour_blocks_by_real_time() -> None:
    second_two_oclock = datetime(2027, 10, 31, 1, 0, tzinfo=UTC)  # 02:00 CET
    booking = Interval(second_two_oclock, second_two_oclock + timedelta(minutes=30))
    slots = slots_on(FALL_BACK, rules=NIGHT, now=EARLY, duration=30, blocked=(booking,))
    # The slots at 02:00 and 02:30 are the first occurrence (CEST) and stay free; the
    # 02:30 slot ends at 01:00 UTC, where the booking starts.
    assert local_times(slots) == grid("00:00", "04:30", 30)
    long_visits = slots_on(FALL_BACK, rules=NIGHT, now=EARLY, duration=60, blocked=(booking,))
    assert time(2, 30) not in local_times(long_visits)


# --- next free slot and checking one start ------------------------------------------


def test_next_free_slot_is_the_first_of_the_free_slots() -> None:
    absence = Interval(at(MONDAY, 0), at(WEDNESDAY, 11, 30))
    first = next_free_slot(RULES, now=NOW, duration_minutes=30, blocked=[absence])
    assert first == Interval(at(WEDNESDAY, 11, 30), at(WEDNESDAY, 12))
    horizon_end = NOW.date() + timedelta(days=RULES.horizon_days)
    assert (
        first
        == free_slots(
            RULES,
            now=NOW,
            first_day=NOW.date(),
            last_day=horizon_end,
            duration_minutes=30,
            blocked=[absence],
        )[0]
    )


def test_next_free_slot_is_none_when_the_horizon_is_fully_blocked() -> None:
    everything = Interval(NOW, NOW + timedelta(days=60))
    assert next_free_slot(RULES, now=NOW, duration_minutes=15, blocked=[everything]) is None


def test_free_slot_at_confirms_a_free_start_and_refuses_the_rest() -> None:
    booking = Interval(at(MONDAY, 10), at(MONDAY, 10, 30))

    def check(start: datetime, duration: int = 15) -> Interval | None:
        return free_slot_at(
            RULES, now=NOW, start=start, duration_minutes=duration, blocked=[booking]
        )

    assert check(at(MONDAY, 9, 45)) == Interval(at(MONDAY, 9, 45), at(MONDAY, 10))
    assert check(at(MONDAY, 9, 45).astimezone(BERLIN)) == check(at(MONDAY, 9, 45))
    assert check(at(MONDAY, 9, 45), duration=30) is None  # runs into the booking
    assert check(at(MONDAY, 10, 15)) is None  # taken
    assert check(at(MONDAY, 9, 50)) is None  # off the grid
    assert check(at(MONDAY, 12)) is None  # lunch
    assert check(at(SUNDAY_BEFORE, 18, 45)) is None  # not within the hours, and too soon
    assert check(at(MONDAY + timedelta(days=35), 9)) is None  # beyond the horizon


# --- refused input ------------------------------------------------------------------


def test_naive_now_is_refused() -> None:
    with pytest.raises(ValueError, match="naive"):
        slots_on(MONDAY, now=datetime(2027, 6, 7, 8, 0))
    with pytest.raises(ValueError, match="naive"):
        next_free_slot(RULES, now=datetime(2027, 6, 7, 8, 0), duration_minutes=15, blocked=())


def test_naive_blocked_interval_is_refused() -> None:
    naive = Interval(datetime(2027, 6, 7, 9), datetime(2027, 6, 7, 10))
    with pytest.raises(ValueError, match="naive"):
        slots_on(MONDAY, blocked=(naive,))


@pytest.mark.parametrize("duration", [0, -15])
def test_visit_without_duration_is_refused(duration: int) -> None:
    with pytest.raises(ValueError, match="at least one minute"):
        slots_on(MONDAY, duration=duration)
    with pytest.raises(ValueError, match="at least one minute"):
        next_free_slot(RULES, now=NOW, duration_minutes=duration, blocked=())


def test_range_ending_before_it_starts_is_refused() -> None:
    with pytest.raises(ValueError, match="before the first"):
        free_slots(
            RULES, now=NOW, first_day=TUESDAY, last_day=MONDAY, duration_minutes=15, blocked=()
        )
    with pytest.raises(ValueError, match="before the first"):
        free_slots_by_day(
            RULES, now=NOW, first_day=TUESDAY, last_day=MONDAY, duration_minutes=15, blocked=()
        )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"slot_minutes": 0}, "slot length"),
        ({"slot_minutes": -5}, "slot length"),
        ({"slot_minutes": 4}, "slot length"),
        ({"slot_minutes": 241}, "slot length"),
        ({"horizon_days": -1}, "horizon"),
        ({"lead_minutes": -1}, "lead time"),
    ],
)
def test_invalid_calendar_rules_are_refused(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        replace(RULES, **kwargs)


@pytest.mark.parametrize(
    ("weekday", "start", "end", "message"),
    [
        (7, time(8), time(12), "weekday"),
        (-1, time(8), time(12), "weekday"),
        (MON, time(12), time(8), "end after"),
        (MON, time(8), time(8), "end after"),
        (MON, time(8, tzinfo=UTC), time(12, tzinfo=UTC), "without a zone"),
    ],
)
def test_invalid_weekly_hours_are_refused(
    weekday: int, start: time, end: time, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        WeeklyHours(weekday, start, end)


@pytest.mark.parametrize("minutes", [5, 240])
def test_slot_length_limits_are_inclusive(minutes: int) -> None:
    assert replace(RULES, slot_minutes=minutes).slot_minutes == minutes


# --- properties over random calendars, blocked time and clocks ---------------------

Case = tuple[CalendarRules, datetime, date, date, int, list[Interval]]


def minutes_of(at: time) -> int:
    return at.hour * 60 + at.minute


def grid_times(block: WeeklyHours, step: int) -> list[time]:
    """The local grid times of a block, computed in whole minutes without the code under test."""
    first, last = minutes_of(block.start), minutes_of(block.end)
    return [minutes_to_time(m) for m in range(first, last, step)]


# Module-level strategies: building strategies inside every draw is what makes Hypothesis slow.
WEEKDAYS = st.integers(0, 6)
GRANULARITIES = st.sampled_from(("step", "five", "minute"))
NUDGES = st.sampled_from((-1, 0, 1))


def minutes_between(draw: st.DrawFn, low: int, high: int, step: int = 5) -> int:
    """Whole minutes in ``[low, high]``, often a multiple of ``step`` or of 5.

    Every zone used here keeps its UTC offset a multiple of 5 minutes, so such values
    make edges meet exactly: a booking that ends where a slot starts, now + lead on a slot.
    """
    unit = {"step": step, "five": 5, "minute": 1}[draw(GRANULARITIES)]
    first, last = -(-low // unit), high // unit
    return unit * draw(st.integers(first, last)) if first <= last else low


def wall_time(draw: st.DrawFn, low: int = 0, high: int = 24 * 60 - 5) -> time:
    """A local time on the 5-minute grid, from ``low`` to ``high`` minutes after midnight."""
    return minutes_to_time(5 * draw(st.integers(-(-low // 5), high // 5)))


def weekly_hours(draw: st.DrawFn, weekday: int | None = None) -> WeeklyHours:
    start = wall_time(draw, high=24 * 60 - 10)
    end = wall_time(draw, low=minutes_of(start) + 5)
    return WeeklyHours(draw(WEEKDAYS) if weekday is None else weekday, start, end)


def blocked_anywhere(draw: st.DrawFn, around: date, tz: ZoneInfo) -> Interval:
    """A blocked interval in the days from two before ``around`` to six after it."""
    origin = datetime.combine(around - timedelta(days=2), time.min, tzinfo=UTC)
    start = origin + timedelta(minutes=minutes_between(draw, 0, 8 * 1440))
    iv = Interval(start, start + timedelta(minutes=minutes_between(draw, 1, 600)))
    if draw(st.booleans()):
        return Interval(iv.start.astimezone(tz), iv.end.astimezone(tz))
    return iv


def instant_near_hours(
    draw: st.DrawFn, rules: CalendarRules, first_day: date, last_day: date
) -> datetime | None:
    """A UTC instant near bookable hours of the range, often exactly on the slot grid."""
    if not rules.hours:
        return None
    block = draw(st.sampled_from(rules.hours))
    range_days = [first_day + timedelta(days=i) for i in range((last_day - first_day).days + 1)]
    matching = [d for d in range_days if d.weekday() == block.weekday] or range_days
    day = matching[draw(st.integers(0, len(matching) - 1))]
    span = minutes_of(block.end) - minutes_of(block.start)
    offset = minutes_between(draw, -60, span + 60, rules.slot_minutes)
    wall = datetime.combine(day, block.start) + timedelta(minutes=offset)
    return first_instant_at_or_after(wall.date(), wall.time(), rules.zone)


def blocked_near_hours(
    draw: st.DrawFn, rules: CalendarRules, first_day: date, last_day: date
) -> Interval:
    """A blocked interval near bookable hours of the range, where it is likely to take slots."""
    start = instant_near_hours(draw, rules, first_day, last_day)
    if start is None:
        return blocked_anywhere(draw, first_day, rules.zone)
    length = minutes_between(draw, 1, 240, rules.slot_minutes)
    return Interval(start, start + timedelta(minutes=length))


@st.composite
def cases(draw: st.DrawFn) -> Case:
    """A calendar, a clock, a range of days and blocked time; half of them on a DST night."""
    if draw(st.booleans()):
        tz, anchor = draw(zone_and_clock_change_day())
        start = wall_time(draw, high=4 * 60)
        end = wall_time(draw, low=minutes_of(start) + 5, high=8 * 60)
        hours = [WeeklyHours(anchor.weekday(), start, end)]
    else:
        tz, anchor = draw(zones), draw(days)
        # Mostly hours on the anchor's weekday, which every range here contains.
        hours = [weekly_hours(draw, anchor.weekday())] if draw(st.integers(0, 3)) else []
    follow_first_block = draw(st.booleans())
    if hours and follow_first_block:
        # A second block that overlaps or touches the first: one stretch of bookable time.
        first = hours[0]
        start = wall_time(draw, minutes_of(first.start), min(minutes_of(first.end), 24 * 60 - 10))
        hours.append(WeeklyHours(first.weekday, start, wall_time(draw, minutes_of(start) + 5)))
    hours += [weekly_hours(draw) for _ in range(draw(st.integers(0, 2)))]
    step = draw(st.integers(5, 120))
    rules = CalendarRules(
        zone=tz,
        slot_minutes=step,
        hours=tuple(hours),
        horizon_days=draw(st.integers(0, 10)),
        lead_minutes=minutes_between(draw, 0, 36 * 60),
    )
    first_day = anchor - timedelta(days=draw(st.integers(0, 3)))
    last_day = anchor + timedelta(days=draw(st.integers(0, 4)))
    midnight = datetime.combine(anchor, time.min, tzinfo=tz).astimezone(UTC)
    now = midnight - timedelta(minutes=minutes_between(draw, 0, 2880))
    if draw(st.booleans()):
        # now + lead exactly on (or a minute off) a grid time of the range.
        on_grid = instant_near_hours(draw, rules, first_day, last_day)
        if on_grid is not None:
            now = on_grid - timedelta(minutes=rules.lead_minutes + draw(NUDGES))
    duration = minutes_between(draw, 1, 2 * step, step)
    blocked = [blocked_anywhere(draw, anchor, tz) for _ in range(draw(st.integers(0, 5)))]
    blocked += [
        blocked_near_hours(draw, rules, first_day, last_day) for _ in range(draw(st.integers(0, 5)))
    ]
    return rules, now, first_day, last_day, duration, blocked


def run(case: Case, blocked: list[Interval] | None = None) -> list[Interval]:
    rules, now, first_day, last_day, duration, case_blocked = case
    return free_slots(
        rules,
        now=now,
        first_day=first_day,
        last_day=last_day,
        duration_minutes=duration,
        blocked=case_blocked if blocked is None else blocked,
    )


def search_days(rules: CalendarRules, now: datetime, first: date, last: date) -> list[date]:
    today = now.astimezone(rules.zone).date()
    first, last = max(first, today), min(last, today + timedelta(days=rules.horizon_days))
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def bookable_time(rules: CalendarRules, day: date) -> list[Interval]:
    """The day's bookable hours in real time: an end in the spring-forward gap ends at the jump."""
    found = []
    for block in rules.hours:
        if block.weekday == day.weekday():
            start = first_instant_at_or_after(day, block.start, rules.zone)
            end = first_instant_at_or_after(day, block.end, rules.zone)
            if start < end:
                found.append(Interval(start, end))
    return found


def reference_free_slots(case: Case) -> list[Interval]:
    """Slow and obvious: every grid start of every day against every blocked interval."""
    rules, now, first_day, last_day, duration, blocked = case
    earliest = now + timedelta(minutes=rules.lead_minutes)
    found: set[Interval] = set()
    for day in search_days(rules, now, first_day, last_day):
        bookable = bookable_time(rules, day)
        for block in rules.hours:
            if block.weekday != day.weekday():
                continue
            for local in grid_times(block, rules.slot_minutes):
                start = local_to_utc(day, local, rules.zone)
                if start is None or start < earliest:
                    continue
                slot = Interval(start, start + timedelta(minutes=duration))
                if subtract([slot], bookable) == [] and not any(slot.overlaps(b) for b in blocked):
                    found.add(slot)
    return sorted(found)


@PROPERTY
@given(cases())
def test_every_free_slot_keeps_every_rule(case: Case) -> None:
    rules, now, first_day, last_day, duration, blocked = case
    today = now.astimezone(rules.zone).date()
    slots = run(case)
    for slot in slots:
        local = utc_to_local(slot.start, rules.zone)
        day = local.date()
        assert first_day <= day <= last_day
        assert today <= day <= today + timedelta(days=rules.horizon_days)
        assert any(
            local.time() in grid_times(b, rules.slot_minutes)
            for b in rules.hours
            if b.weekday == day.weekday()
        )
        assert subtract([slot], bookable_time(rules, day)) == []
        assert slot.start >= now + timedelta(minutes=rules.lead_minutes)
        assert not any(slot.overlaps(b) for b in blocked)
        assert slot.end - slot.start == timedelta(minutes=duration)
        assert slot.start.tzinfo is UTC
    assert all(a.start < b.start for a, b in pairwise(slots))


@PROPERTY
@given(cases())
def test_free_slots_are_exactly_those_of_the_slow_reference(case: Case) -> None:
    assert run(case) == reference_free_slots(case)


@PROPERTY
@given(cases(), st.data())
def test_blocking_more_time_never_frees_a_slot(case: Case, data: st.DataObject) -> None:
    rules, _, first_day, last_day, _, blocked = case
    extra = data.draw(st.composite(blocked_near_hours)(rules, first_day, last_day))
    assert set(run(case, [*blocked, extra])) <= set(run(case))
    assert set(run(case)) <= set(run(case, []))


@PROPERTY
@given(cases(), st.integers(1, 120))
def test_blocked_time_that_only_touches_a_slot_leaves_it_free(case: Case, minutes: int) -> None:
    *_, blocked = case
    length = timedelta(minutes=minutes)
    for slot in run(case)[:5]:
        before, after = (
            Interval(slot.start - length, slot.start),
            Interval(slot.end, slot.end + length),
        )
        assert slot in run(case, [*blocked, before, after])


@PROPERTY
@given(cases())
def test_lead_time_is_exact_to_the_minute(case: Case) -> None:
    rules, now, *_ = case
    for slot in run(case)[:5]:
        lead = (slot.start - now) // timedelta(minutes=1)
        assert slot.start == now + timedelta(minutes=lead)  # every clock here is whole minutes
        assert slot in run((replace(rules, lead_minutes=lead), *case[1:]))
        assert slot not in run((replace(rules, lead_minutes=lead + 1), *case[1:]))


@PROPERTY
@given(cases())
def test_next_free_slot_is_the_first_free_slot_of_the_horizon(case: Case) -> None:
    rules, now, _, _, duration, blocked = case
    today = now.astimezone(rules.zone).date()
    horizon = (rules, now, today, today + timedelta(days=rules.horizon_days), duration, blocked)
    slots = run(horizon)
    found = next_free_slot(rules, now=now, duration_minutes=duration, blocked=blocked)
    assert found == (slots[0] if slots else None)


@PROPERTY
@given(cases())
def test_slots_by_day_group_the_free_slots_by_their_local_date(case: Case) -> None:
    rules, now, first_day, last_day, duration, blocked = case
    by_day = free_slots_by_day(
        rules,
        now=now,
        first_day=first_day,
        last_day=last_day,
        duration_minutes=duration,
        blocked=blocked,
    )
    assert list(by_day) == [
        first_day + timedelta(days=i) for i in range((last_day - first_day).days + 1)
    ]
    assert [s for slots in by_day.values() for s in slots] == run(case)
    for day, slots in by_day.items():
        assert all(utc_to_local(s.start, rules.zone).date() == day for s in slots)
        for s in slots:
            checked = free_slot_at(
                rules, now=now, start=s.start, duration_minutes=duration, blocked=blocked
            )
            assert checked == s
