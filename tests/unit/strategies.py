"""Shared Hypothesis strategies and settings for the pure-domain tests.

Examples are derandomized so that a run is reproducible on every machine and in CI;
the dates are biased towards the daylight-saving changes, where the bugs live.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from hypothesis import settings
from hypothesis import strategies as st

PROPERTY = settings(max_examples=150, deadline=None, derandomize=True)

# Zones with spring-forward and fall-back at 02:00/03:00 (north and south), a 30-minute
# shift (Lord Howe), changes at midnight (Santiago), and no change at all (Kolkata, UTC).
ZONE_NAMES = (
    "Europe/Berlin",
    "America/New_York",
    "Australia/Sydney",
    "Australia/Lord_Howe",
    "America/Santiago",
    "Asia/Kolkata",
    "UTC",
)

zones = st.sampled_from(ZONE_NAMES).map(ZoneInfo)

FIRST_DAY = date(2026, 1, 1)
LAST_DAY = date(2028, 12, 31)


def _clock_change_days(tz: ZoneInfo) -> tuple[date, ...]:
    """Local days from FIRST_DAY to LAST_DAY at whose end the UTC offset differs from its start."""
    found = []
    day = FIRST_DAY
    while day <= LAST_DAY:
        following = day + timedelta(days=1)
        offset = datetime.combine(day, time.min, tz).utcoffset()
        if datetime.combine(following, time.min, tz).utcoffset() != offset:
            found.append(day)
        day = following
    return tuple(found)


CLOCK_CHANGE_DAYS = {name: _clock_change_days(ZoneInfo(name)) for name in ZONE_NAMES}
# Days on which at least one of ZONE_NAMES changes its offset.
DST_DAYS = tuple(sorted({day for days in CLOCK_CHANGE_DAYS.values() for day in days}))

days = st.one_of(
    st.dates(min_value=FIRST_DAY, max_value=LAST_DAY),
    st.sampled_from(DST_DAYS),
)


@st.composite
def day_ranges(draw: st.DrawFn, max_days: int = 14) -> tuple[date, date]:
    """``(first, last)`` with ``first <= last``, often containing a daylight-saving change."""
    anchor = draw(days)
    before = draw(st.integers(min_value=0, max_value=max_days - 1))
    length = draw(st.integers(min_value=0, max_value=max_days - 1 - before))
    first = anchor - timedelta(days=before)
    return first, first + timedelta(days=before + length)


def minutes_to_time(minutes: int) -> time:
    return time(minutes // 60, minutes % 60)


def five_minute_times(
    min_minutes: int = 0, max_minutes: int = 24 * 60 - 5
) -> st.SearchStrategy[time]:
    return st.integers(min_value=min_minutes // 5, max_value=max_minutes // 5).map(
        lambda k: minutes_to_time(5 * k)
    )


@st.composite
def zone_and_clock_change_day(draw: st.DrawFn) -> tuple[ZoneInfo, date]:
    """A zone with daylight-saving time and one of its days with a clock change."""
    name = draw(st.sampled_from([n for n, found in CLOCK_CHANGE_DAYS.items() if found]))
    return ZoneInfo(name), draw(st.sampled_from(CLOCK_CHANGE_DAYS[name]))
