"""Slot grid generation from weekly templates (SPEC C1), across daylight-saving changes."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from termin360.core.timezones import day_bounds_utc, local_to_utc, utc_to_local
from termin360.practice.domain.grid import (
    GridSlot,
    TemplateRule,
    generate_grid,
    rules_overlap,
    year_bounds,
)
from tests.unit.strategies import (
    PROPERTY,
    day_ranges,
    five_minute_times,
    minutes_to_time,
    zone_and_clock_change_day,
    zones,
)

BERLIN = ZoneInfo("Europe/Berlin")
SUNDAY = 6
SPRING_FORWARD_2027 = date(2027, 3, 28)  # 02:00 → 03:00, 02:xx does not exist
FALL_BACK_2027 = date(2027, 10, 31)  # 03:00 → 02:00, 02:xx happens twice
ORDINARY_SUNDAY = date(2027, 3, 21)

NIGHT_RULE = TemplateRule(weekday=SUNDAY, start=time(0, 0), end=time(5, 0), slot_minutes=30)


def local_start(slot: GridSlot, tz: ZoneInfo = BERLIN) -> datetime:
    return utc_to_local(slot.start, tz)


def local_times(slots: list[GridSlot], tz: ZoneInfo = BERLIN) -> list[time]:
    return [local_start(s, tz).time() for s in slots]


def night_grid(day: date) -> list[GridSlot]:
    return generate_grid([NIGHT_RULE], day, day, BERLIN)


def minutes_of(at: time) -> int:
    return at.hour * 60 + at.minute


def arithmetic_starts(rule: TemplateRule) -> list[time]:
    """The local starts a rule asks for, computed without the code under test."""
    first, last = minutes_of(rule.start), minutes_of(rule.end)
    count = (last - first) // rule.slot_minutes
    return [minutes_to_time(first + i * rule.slot_minutes) for i in range(count)]


def is_ordinary_day(day: date, tz: ZoneInfo) -> bool:
    start, end = day_bounds_utc(day, tz)
    return end - start == timedelta(hours=24) and (
        utc_to_local(start, tz).utcoffset() == utc_to_local(end, tz).utcoffset()
    )


# --- Berlin, Sunday 00:00–05:00 every 30 minutes ------------------------------


def test_ordinary_sunday_has_ten_half_hour_slots() -> None:
    slots = night_grid(ORDINARY_SUNDAY)
    assert local_times(slots) == arithmetic_starts(NIGHT_RULE)
    assert len(slots) == 10


def test_spring_forward_day_has_no_slot_at_nonexistent_local_time() -> None:
    slots = night_grid(SPRING_FORWARD_2027)
    assert len(slots) == 8
    assert not [t for t in local_times(slots) if t.hour == 2]
    assert local_times(slots) == [
        t for t in arithmetic_starts(NIGHT_RULE) if t not in (time(2, 0), time(2, 30))
    ]


def test_spring_forward_day_slots_meet_across_the_jump() -> None:
    slots = night_grid(SPRING_FORWARD_2027)
    by_local = {local_start(s).time(): s for s in slots}
    # 01:30 CET is followed directly by 03:00 CEST: one UTC instant, no hole, no overlap.
    assert by_local[time(1, 30)].end == by_local[time(3, 0)].start
    assert by_local[time(3, 0)].start == datetime(2027, 3, 28, 1, 0, tzinfo=UTC)
    assert all(a.end == b.start for a, b in pairwise(slots))


def test_fall_back_day_has_exactly_one_slot_per_local_start() -> None:
    slots = night_grid(FALL_BACK_2027)
    assert len(slots) == 10
    assert local_times(slots) == arithmetic_starts(NIGHT_RULE)
    assert len(set(local_times(slots))) == len(slots)


def test_fall_back_day_places_the_repeated_hour_at_its_first_occurrence() -> None:
    slots = night_grid(FALL_BACK_2027)
    repeated = [s for s in slots if local_start(s).hour == 2]
    assert [s.start for s in repeated] == [
        datetime(2027, 10, 31, 0, 0, tzinfo=UTC),
        datetime(2027, 10, 31, 0, 30, tzinfo=UTC),
    ]
    assert all(local_start(s).utcoffset() == timedelta(hours=2) for s in repeated)


@pytest.mark.parametrize("day", [ORDINARY_SUNDAY, SPRING_FORWARD_2027, FALL_BACK_2027])
def test_utc_starts_are_strictly_increasing(day: date) -> None:
    starts = [s.start for s in night_grid(day)]
    assert all(a < b for a, b in pairwise(starts))


@pytest.mark.parametrize("day", [ORDINARY_SUNDAY, SPRING_FORWARD_2027, FALL_BACK_2027])
def test_every_slot_lasts_the_slot_length_in_utc(day: date) -> None:
    assert {s.end - s.start for s in night_grid(day)} == {timedelta(minutes=30)}


@pytest.mark.parametrize("day", [ORDINARY_SUNDAY, SPRING_FORWARD_2027, FALL_BACK_2027])
def test_slot_day_is_the_local_date_of_its_start(day: date) -> None:
    slots = night_grid(day)
    assert {s.day for s in slots} == {day}
    # 00:00 and 01:xx local lie on the previous day in UTC: the day is still the local one.
    assert slots[0].start.date() == day - timedelta(days=1)


def test_year_2027_with_the_night_rule_loses_exactly_the_two_spring_forward_slots() -> None:
    first, last = year_bounds(2027)
    assert (first, last) == (date(2027, 1, 1), date(2027, 12, 31))
    slots = generate_grid([NIGHT_RULE], first, last, BERLIN)
    assert len(slots) == 52 * 10 - 2
    assert all(s.day.weekday() == SUNDAY for s in slots)


def test_slot_that_the_clock_jumps_into_ends_where_the_next_slot_begins() -> None:
    # 45-minute slots: 00:00, 00:45, 01:30 (→ 02:15, inside the gap), 03:00, 03:45.
    rule = TemplateRule(weekday=SUNDAY, start=time(0, 0), end=time(4, 30), slot_minutes=45)
    slots = generate_grid([rule], SPRING_FORWARD_2027, SPRING_FORWARD_2027, BERLIN)
    assert local_times(slots) == [time(0, 0), time(0, 45), time(1, 30), time(3, 0), time(3, 45)]
    assert all(a.end <= b.start for a, b in pairwise(slots)), "slots of a column overlap"
    straddling = slots[2]
    assert straddling.end == slots[3].start == datetime(2027, 3, 28, 1, 0, tzinfo=UTC)
    assert straddling.end - straddling.start == timedelta(minutes=30)


@pytest.mark.parametrize(
    ("zone_name", "day", "missing"),
    [
        ("America/New_York", date(2027, 3, 14), [time(2, 0), time(2, 30)]),
        ("Australia/Sydney", date(2027, 10, 3), [time(2, 0), time(2, 30)]),
        ("Australia/Lord_Howe", date(2027, 10, 3), [time(2, 0)]),
        ("America/Santiago", date(2027, 9, 5), [time(0, 0), time(0, 30)]),
    ],
)
def test_spring_forward_in_other_zones_leaves_out_the_missing_local_times(
    zone_name: str, day: date, missing: list[time]
) -> None:
    tz = ZoneInfo(zone_name)
    rule = TemplateRule(weekday=day.weekday(), start=time(0, 0), end=time(5, 0), slot_minutes=30)
    slots = generate_grid([rule], day, day, tz)
    expected = [t for t in arithmetic_starts(rule) if t not in missing]
    assert local_times(slots, tz) == expected


# --- rules --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"weekday": 7}, "weekday"),
        ({"weekday": -1}, "weekday"),
        ({"slot_minutes": 4}, "slot length"),
        ({"slot_minutes": 241}, "slot length"),
        ({"end": time(8, 0)}, "end must be after"),
        ({"end": time(7, 0)}, "end must be after"),
    ],
)
def test_invalid_template_rule_is_refused(kwargs: dict[str, object], message: str) -> None:
    fields: dict[str, object] = {
        "weekday": 0,
        "start": time(8, 0),
        "end": time(12, 0),
        "slot_minutes": 15,
    }
    fields.update(kwargs)
    with pytest.raises(ValueError, match=message):
        TemplateRule(**fields)  # type: ignore[arg-type]


@pytest.mark.parametrize("minutes", [5, 240])
def test_slot_length_limits_are_inclusive(minutes: int) -> None:
    assert TemplateRule(0, time(0, 0), time(23, 0), minutes).slot_minutes == minutes


def test_rule_shorter_than_one_slot_yields_no_slots() -> None:
    rule = TemplateRule(weekday=0, start=time(8, 0), end=time(8, 20), slot_minutes=30)
    assert generate_grid([rule], date(2027, 1, 4), date(2027, 1, 4), BERLIN) == []


def test_remainder_shorter_than_a_slot_is_not_offered() -> None:
    rule = TemplateRule(weekday=0, start=time(8, 0), end=time(9, 10), slot_minutes=20)
    slots = generate_grid([rule], date(2027, 1, 4), date(2027, 1, 4), BERLIN)
    assert local_times(slots) == [time(8, 0), time(8, 20), time(8, 40)]


def test_rule_applies_only_on_its_weekday() -> None:
    monday = TemplateRule(weekday=0, start=time(8, 0), end=time(9, 0), slot_minutes=30)
    slots = generate_grid([monday], date(2027, 1, 4), date(2027, 1, 17), BERLIN)
    assert [s.day for s in slots] == [date(2027, 1, 4)] * 2 + [date(2027, 1, 11)] * 2


def test_grid_with_last_day_before_first_is_refused() -> None:
    with pytest.raises(ValueError, match="before the first"):
        generate_grid([NIGHT_RULE], date(2027, 1, 2), date(2027, 1, 1), BERLIN)


def test_overlapping_rules_do_not_produce_a_start_twice() -> None:
    a = TemplateRule(weekday=0, start=time(8, 0), end=time(10, 0), slot_minutes=30)
    b = TemplateRule(weekday=0, start=time(9, 0), end=time(11, 0), slot_minutes=30)
    slots = generate_grid([a, b], date(2027, 1, 4), date(2027, 1, 4), BERLIN)
    assert len(local_times(slots)) == len(set(local_times(slots))) == 6


def test_generating_twice_gives_the_same_grid() -> None:
    rules = [NIGHT_RULE, TemplateRule(2, time(8, 0), time(12, 0), 15)]
    first = generate_grid(rules, date(2027, 1, 1), date(2027, 12, 31), BERLIN)
    again = generate_grid(list(reversed(rules)), date(2027, 1, 1), date(2027, 12, 31), BERLIN)
    assert first == again


@pytest.mark.parametrize(
    ("rules", "expected"),
    [
        ([], False),
        ([(0, 8, 12)], False),
        ([(0, 8, 12), (0, 11, 14)], True),
        ([(0, 8, 12), (0, 12, 14)], False),  # touching is fine
        ([(0, 8, 12), (1, 8, 12)], False),  # other weekday
        ([(0, 8, 18), (0, 9, 10), (0, 11, 12)], True),  # nested
        ([(0, 14, 16), (0, 8, 10), (0, 9, 11)], True),  # order does not matter
        ([(3, 8, 10), (3, 8, 10)], True),  # identical
    ],
)
def test_rules_overlap_only_on_shared_time_of_the_same_weekday(
    rules: list[tuple[int, int, int]], expected: bool
) -> None:
    template = [TemplateRule(d, time(s), time(e), 30) for d, s, e in rules]
    assert rules_overlap(template) is expected


# --- properties over random templates, ranges and zones -----------------------


@st.composite
def template_rules(draw: st.DrawFn, weekday: int | None = None) -> TemplateRule:
    start = draw(five_minute_times(max_minutes=24 * 60 - 10))
    end = draw(five_minute_times(min_minutes=minutes_of(start) + 5))
    return TemplateRule(
        weekday=draw(st.integers(0, 6)) if weekday is None else weekday,
        start=start,
        end=end,
        slot_minutes=draw(st.integers(min_value=5, max_value=120)),
    )


@st.composite
def templates(draw: st.DrawFn) -> list[TemplateRule]:
    rules = draw(st.lists(template_rules(), min_size=1, max_size=4))
    assume(not rules_overlap(rules))
    return rules


GridCase = tuple[list[TemplateRule], tuple[date, date], ZoneInfo]


@st.composite
def clock_change_cases(draw: st.DrawFn) -> GridCase:
    """A template whose first rule works the night of a clock change, and a range around it."""
    tz, day = draw(zone_and_clock_change_day())
    start = draw(five_minute_times(max_minutes=4 * 60))
    end = draw(five_minute_times(min_minutes=minutes_of(start) + 5, max_minutes=8 * 60))
    night = TemplateRule(day.weekday(), start, end, draw(st.integers(min_value=5, max_value=120)))
    rules = [night, *draw(st.lists(template_rules(), max_size=2))]
    assume(not rules_overlap(rules))
    before, after = draw(st.integers(0, 3)), draw(st.integers(0, 3))
    return rules, (day - timedelta(days=before), day + timedelta(days=after)), tz


# Half the cases anywhere, half on a night the clock changes (rare by chance alone).
grid_cases = st.one_of(st.tuples(templates(), day_ranges(), zones), clock_change_cases())


def days_of(first: date, last: date) -> list[date]:
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


@PROPERTY
@given(grid_cases)
def test_every_slot_starts_on_a_local_start_of_its_rule(
    case: GridCase,
) -> None:
    rules, day_range, tz = case
    for slot in generate_grid(rules, *day_range, tz):
        local = local_start(slot, tz)
        assert local.date() == slot.day
        owners = [
            r
            for r in rules
            if r.weekday == slot.day.weekday() and local.time() in arithmetic_starts(r)
        ]
        assert len(owners) == 1
        assert owners[0].start <= local.time() < owners[0].end


@PROPERTY
@given(grid_cases)
def test_each_day_has_exactly_the_existing_local_starts_sorted_and_unique(
    case: GridCase,
) -> None:
    rules, day_range, tz = case
    slots = generate_grid(rules, *day_range, tz)
    for day in days_of(*day_range):
        got = local_times([s for s in slots if s.day == day], tz)
        wanted = sorted(
            t
            for r in rules
            if r.weekday == day.weekday()
            for t in arithmetic_starts(r)
            if local_to_utc(day, t, tz) is not None
        )
        assert got == wanted
        if is_ordinary_day(day, tz):
            assert len(got) == sum(
                len(arithmetic_starts(r)) for r in rules if r.weekday == day.weekday()
            )


@PROPERTY
@given(grid_cases)
def test_slots_are_sorted_and_never_overlap(
    case: GridCase,
) -> None:
    rules, day_range, tz = case
    slots = generate_grid(rules, *day_range, tz)
    assert slots == sorted(slots)
    for a, b in pairwise(slots):
        assert a.start < b.start
        assert a.end <= b.start


@PROPERTY
@given(grid_cases)
def test_slot_lasts_its_length_unless_the_clock_jumps_forward_inside_it(
    case: GridCase,
) -> None:
    rules, day_range, tz = case
    by_weekday: dict[int, list[TemplateRule]] = {}
    for r in rules:
        by_weekday.setdefault(r.weekday, []).append(r)
    for slot in generate_grid(rules, *day_range, tz):
        local = local_start(slot, tz)
        (rule,) = [
            r for r in by_weekday[slot.day.weekday()] if local.time() in arithmetic_starts(r)
        ]
        length = timedelta(minutes=rule.slot_minutes)
        assert timedelta(0) < slot.end - slot.start <= length
        if slot.end - slot.start < length:
            assert utc_to_local(slot.end, tz).utcoffset() > local.utcoffset()  # type: ignore[operator]
        if is_ordinary_day(slot.day, tz):
            assert slot.end - slot.start == length


@PROPERTY
@given(grid_cases)
def test_grid_is_deterministic_and_independent_of_how_the_range_is_split(
    case: GridCase,
) -> None:
    rules, day_range, tz = case
    whole = generate_grid(rules, *day_range, tz)
    assert generate_grid(rules, *day_range, tz) == whole
    assert generate_grid(list(reversed(rules)), *day_range, tz) == whole
    day_by_day = [s for day in days_of(*day_range) for s in generate_grid(rules, day, day, tz)]
    assert day_by_day == whole


@PROPERTY
@given(st.lists(template_rules(), max_size=5))
def test_rules_overlap_iff_two_rules_share_time_on_one_weekday(
    rules: list[TemplateRule],
) -> None:
    expected = any(
        a.weekday == b.weekday and a.start < b.end and b.start < a.end
        for i, a in enumerate(rules)
        for b in rules[i + 1 :]
    )
    assert rules_overlap(rules) is expected
