"""Blocked time merged once (``BlockedTime``) answers as the intervals it was merged from,
and the rule the portal's snapshots rely on (decision 021): within one local day, a later
``now`` only takes away the slots the lead time passes over."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st

from termin360.core.intervals import Interval
from termin360.portal.domain.availability import (
    BlockedTime,
    free_slots,
    free_slots_by_day,
    next_free_slot,
)
from tests.unit.portal.test_availability import Case, cases
from tests.unit.strategies import PROPERTY


@PROPERTY
@given(cases())
def test_merged_blocked_time_answers_as_its_intervals(case: Case) -> None:
    rules, now, first_day, last_day, duration, blocked = case
    merged = BlockedTime.of(blocked)
    assert next_free_slot(rules, now=now, duration_minutes=duration, blocked=merged) == (
        next_free_slot(rules, now=now, duration_minutes=duration, blocked=blocked)
    )
    assert free_slots_by_day(
        rules, now=now, first_day=first_day, last_day=last_day,
        duration_minutes=duration, blocked=merged,
    ) == free_slots_by_day(
        rules, now=now, first_day=first_day, last_day=last_day,
        duration_minutes=duration, blocked=blocked,
    )  # fmt: skip


def test_merged_blocked_time_is_sorted_disjoint_and_utc() -> None:
    berlin = ZoneInfo("Europe/Berlin")
    nine = datetime(2027, 6, 8, 9, tzinfo=berlin)
    merged = BlockedTime.of(
        [
            Interval(nine + timedelta(hours=2), nine + timedelta(hours=3)),
            Interval(nine, nine + timedelta(minutes=30)),
            Interval(nine + timedelta(minutes=30), nine + timedelta(hours=1)),  # touches
            Interval(nine + timedelta(minutes=10), nine + timedelta(minutes=20)),  # inside
        ]
    )
    assert merged.starts == (nine.astimezone(UTC), (nine + timedelta(hours=2)).astimezone(UTC))
    assert merged.ends == (
        (nine + timedelta(hours=1)).astimezone(UTC),
        (nine + timedelta(hours=3)).astimezone(UTC),
    )
    assert all(s.tzinfo is UTC for s in merged.starts + merged.ends)


@PROPERTY
@given(cases(), st.integers(0, 24 * 60))
def test_a_later_now_of_the_same_day_only_takes_slots_away(case: Case, minutes: int) -> None:
    rules, now, first_day, last_day, duration, blocked = case
    later = now + timedelta(minutes=minutes)
    if later.astimezone(rules.zone).date() != now.astimezone(rules.zone).date():
        later = now
    merged = BlockedTime.of(blocked)

    def slots(at: datetime) -> list[Interval]:
        return free_slots(
            rules, now=at, first_day=first_day, last_day=last_day,
            duration_minutes=duration, blocked=merged,
        )  # fmt: skip

    earliest = later + timedelta(minutes=rules.lead_minutes)
    assert slots(later) == [s for s in slots(now) if s.start >= earliest]
    first = next_free_slot(rules, now=now, duration_minutes=duration, blocked=merged)
    if first is not None and first.start >= earliest:
        assert next_free_slot(rules, now=later, duration_minutes=duration, blocked=merged) == first
