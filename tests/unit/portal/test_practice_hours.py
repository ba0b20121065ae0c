"""Hours from the practice calendar (SPEC S14): the starts a day's bookable slots offer,
and the days on which typed hours disagree with the practice's grid."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st

from termin360.core.intervals import Interval
from termin360.portal.domain.availability import CalendarRules, WeeklyHours, free_slots
from termin360.portal.domain.practice_hours import days_differing, free_starts_in_grid
from tests.unit.strategies import PROPERTY

BERLIN = ZoneInfo("Europe/Berlin")
DAY = date(2027, 6, 8)  # a Tuesday
MIDNIGHT = datetime(2027, 6, 7, 22, 0, tzinfo=UTC)  # 00:00 in Berlin on DAY
MINUTE = timedelta(minutes=1)


def at(minutes: int) -> datetime:
    return MIDNIGHT + timedelta(minutes=minutes)


@st.composite
def grids(draw: st.DrawFn) -> list[Interval]:
    """A column day's bookable slots: runs of slots of 5–60 minutes, some touching, some
    with gaps (lunch, annotated slots left out), in no particular order."""
    slots, cursor = [], draw(st.integers(0, 600))
    for _ in range(draw(st.integers(0, 25))):
        cursor += draw(st.sampled_from([0, 0, 0, 5, 15, 60]))
        length = draw(st.sampled_from([5, 10, 15, 20, 30, 60]))
        if cursor + length > 24 * 60:
            break
        slots.append(Interval(at(cursor), at(cursor + length)))
        cursor += length
    return draw(st.permutations(slots))


@st.composite
def blocked_times(draw: st.DrawFn) -> list[Interval]:
    out = []
    for _ in range(draw(st.integers(0, 6))):
        start = draw(st.integers(0, 24 * 60 - 1))
        out.append(Interval(at(start), at(start + draw(st.integers(1, 120)))))
    return out


def covered(slots: list[Interval], start: datetime, end: datetime) -> bool:
    """Every minute of [start, end) lies in some slot (all times are whole minutes)."""
    t = start
    while t < end:
        if not any(s.start <= t < s.end for s in slots):
            return False
        t += MINUTE
    return True


@PROPERTY
@given(
    grid=grids(),
    duration=st.integers(1, 120),
    blocked=blocked_times(),
    now_minute=st.integers(-60, 24 * 60),
    lead=st.integers(0, 180),
)
def test_offered_starts_are_exactly_the_slot_starts_a_visit_fits_from(
    grid: list[Interval], duration: int, blocked: list[Interval], now_minute: int, lead: int
) -> None:
    now = at(now_minute)
    offered = free_starts_in_grid(
        grid, duration_minutes=duration, blocked=blocked, lead_minutes=lead, now=now
    )
    length = timedelta(minutes=duration)
    for start in offered:
        end = start + length
        assert start in {s.start for s in grid}
        assert covered(grid, start, end)
        assert not any(b.start < end and start < b.end for b in blocked)
        assert start >= now + timedelta(minutes=lead)
    expected = sorted(
        {
            s.start
            for s in grid
            if s.start >= now + timedelta(minutes=lead)
            and covered(grid, s.start, s.start + length)
            and not any(b.start < s.start + length and s.start < b.end for b in blocked)
        }
    )
    assert offered == expected


@PROPERTY
@given(grid=grids(), duration=st.integers(1, 120), blocked=blocked_times())
def test_the_calendar_search_offers_the_same_starts_for_a_practice_calendar(
    grid: list[Interval], duration: int, blocked: list[Interval]
) -> None:
    rules = CalendarRules(
        zone=BERLIN,
        slot_minutes=15,
        hours=(WeeklyHours(DAY.weekday(), time(8), time(12)),),  # ignored
        horizon_days=30,
        lead_minutes=30,
        practice_days={DAY: grid},
    )
    now = at(-24 * 60)
    found = free_slots(
        rules, now=now, first_day=DAY, last_day=DAY, duration_minutes=duration, blocked=blocked
    )
    assert [s.start for s in found] == free_starts_in_grid(
        grid, duration_minutes=duration, blocked=blocked, lead_minutes=30, now=now
    )
    assert all(s.end - s.start == timedelta(minutes=duration) for s in found)


def test_a_day_the_practice_did_not_send_offers_nothing_and_horizon_still_applies() -> None:
    slots = [Interval(at(8 * 60), at(8 * 60 + 15))]
    rules = CalendarRules(
        zone=BERLIN,
        slot_minutes=15,
        hours=tuple(WeeklyHours(d, time(8), time(12)) for d in range(7)),
        horizon_days=1,
        lead_minutes=0,
        practice_days={DAY: slots, DAY + timedelta(days=5): slots},
    )
    found = free_slots(
        rules,
        now=at(-60),
        first_day=DAY - timedelta(days=1),
        last_day=DAY + timedelta(days=6),
        duration_minutes=15,
        blocked=[],
    )
    assert [s.start for s in found] == [at(8 * 60)]


def test_days_differing_names_the_days_whose_grid_is_not_the_typed_hours() -> None:
    rules = CalendarRules(
        zone=BERLIN,
        slot_minutes=15,
        hours=(WeeklyHours(DAY.weekday(), time(8), time(10)),),
        horizon_days=30,
        lead_minutes=0,
    )
    same = [Interval(at(m), at(m + 15)) for m in range(8 * 60, 10 * 60, 15)]
    ten_minutes = [Interval(at(m), at(m + 10)) for m in range(8 * 60, 10 * 60, 10)]
    shorter = same[:-1]
    next_week, other_week, third = (DAY + timedelta(days=7 * n) for n in (1, 2, 3))
    grid = {
        DAY: same,
        next_week: ten_minutes,
        other_week: shorter,
        third: [Interval(s.start + timedelta(days=21), s.end + timedelta(days=21)) for s in same],
        DAY + timedelta(days=1): [],  # no hours typed on Wednesday, no slots: agree
    }
    assert days_differing(rules, grid) == [next_week, other_week]
